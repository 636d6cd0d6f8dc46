"""Bounded load test of the HTTP service: concurrent recommend and feedback clients, fixed counts.

    python bench/service_load.py                          # the hybrid fitted on ml-1m first
    python bench/service_load.py --model-dir DIR          # any model directory (kept)
    python bench/service_load.py --catalog synthetic-1m   # 1M-item ALS catalogue, ANN index (built
                                                          # first with bench/synthetic_catalog.py)
    python bench/service_load.py --recommend-clients 2 --feedback-clients 1 --bulk-items 3000
                                                          # and a bulk upload of new items meanwhile

Starts a real ``tailwise serve`` on a loopback port (fresh SQLite feedback database), waits for
its background start-up work to finish (the server's CPU use settles), warms it up, then lets
``--recommend-clients`` threads send ``--recommend-requests`` ``GET /recommend`` for random
training users between them while ``--feedback-clients`` threads post ``--feedback-requests``
``POST /feedback`` events (one event each, a unique user per event), all at once (httpx,
keep-alive; the clients share the 2 cores with the server). Records per request latency,
throughput, errors and the CPU seconds of the server and of the load generator (this process).
Then stops the server and checks the database: every acknowledged event must be there (zero lost
writes) and ``PRAGMA integrity_check`` must say ok.

With ``--bulk-items N`` one more client posts N new items (``POST /items``, ``--bulk-request-items``
per request, texts from the catalogue with a per-run tag, so the embedding cache cannot answer)
while the others run; the recommend and feedback clients then keep going (cycling their lists)
until the upload is done, so every one of their requests overlaps it. The server must report all
N items live, and the database must hold every acknowledged item.
Writes ``bench/results/service_load-<catalog or --label>-<R>r<F>f[-bulkN].json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from service_latency import fit_model, start_server, stats, wait_healthy


def model_dir_for(args: argparse.Namespace, work: Path) -> Path:
    if args.model_dir is not None:
        return args.model_dir
    target = work / "model"
    if args.catalog == "synthetic-1m":
        from synthetic_catalog import make_model_dir

        print("building the 1M-item synthetic catalogue and its index (minutes)", file=sys.stderr)
        return make_model_dir(target, n_items=1_000_000)
    print(f"fitted the hybrid on ml-1m in {fit_model(target):.1f}s", file=sys.stderr)
    return target


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a process so far (Linux ``/proc``; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_settled(pid: int, timeout: float = 1800.0) -> float:
    """Wait until the server's background start-up work (re-ranker vectors, text index) is done:
    less than 0.1 CPU seconds in one second. Returns the seconds waited."""
    t0 = time.perf_counter()
    while (before := cpu_seconds(pid)) is not None and time.perf_counter() - t0 < timeout:
        time.sleep(1.0)
        after = cpu_seconds(pid)
        if after is None or after - before < 0.1:
            break
    return time.perf_counter() - t0


def run_clients(url: str, users: list[str], items: list[str], args: argparse.Namespace, server_pid: int, bulk: list[dict]) -> dict:
    """All clients at once; returns latencies, errors, acknowledged events and items, the wall
    time and the CPU seconds the server and the load generator (this process) spent meanwhile.

    With a `bulk` upload the recommend and feedback clients run until it is done (at most
    ``--max-seconds``), cycling through their requests; otherwise each sends its share once."""
    import httpx

    rec_ms: list[list[float]] = [[] for _ in range(args.recommend_clients)]
    fb_ms: list[list[float]] = [[] for _ in range(args.feedback_clients)]
    acked: list[list[tuple[str, str]]] = [[] for _ in range(args.feedback_clients)]
    bulk_ms: list[float] = []
    bulk_acked: list[str] = []
    errors: list[str] = []
    uploading = threading.Event()
    if bulk:
        uploading.set()
    deadline = time.perf_counter() + args.max_seconds
    start = threading.Barrier(args.recommend_clients + args.feedback_clients + 1 + bool(bulk))

    def rounds(n: int) -> range:
        """Request numbers of one client: its share once, or (bulk) up to 1,000 times that."""
        return range(n * (1000 if bulk else 1))

    def going(i: int, n: int) -> bool:
        return i < n or (uploading.is_set() and time.perf_counter() < deadline)

    def recommender(c: int) -> None:
        mine = users[c :: args.recommend_clients]
        with httpx.Client(base_url=url, timeout=60, headers=args.headers) as client:
            start.wait()
            for i in rounds(len(mine)):
                if not going(i, len(mine)):
                    break
                t0 = time.perf_counter()
                r = client.get("/recommend", params={"user_id": mine[i % len(mine)], "k": args.k})
                rec_ms[c].append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    errors.append(f"GET /recommend {r.status_code}")

    def feeder(c: int) -> None:
        n = args.feedback_requests // args.feedback_clients
        with httpx.Client(base_url=url, timeout=60, headers=args.headers) as client:
            start.wait()
            for i in rounds(n):
                if not going(i, n):
                    break
                user, item = f"load-{c}-{i}", items[(c * 7919 + i * 31) % len(items)]
                t0 = time.perf_counter()
                r = client.post("/feedback", json={"events": [{"user_id": user, "item_id": item, "type": "click"}]})
                fb_ms[c].append((time.perf_counter() - t0) * 1000)
                if r.status_code == 200 and r.json().get("stored") == 1:
                    acked[c].append((user, item))
                else:
                    errors.append(f"POST /feedback {r.status_code}")

    def uploader() -> None:
        size = args.bulk_request_items
        with httpx.Client(base_url=url, timeout=600, headers=args.headers) as client:
            start.wait()
            try:
                for n in range(0, len(bulk), size):
                    part = bulk[n : n + size]
                    t0 = time.perf_counter()
                    r = client.post("/items", json={"items": part})
                    bulk_ms.append((time.perf_counter() - t0) * 1000)
                    if r.status_code == 200 and r.json().get("added") == len(part):
                        bulk_acked.extend(it["item_id"] for it in part)
                    else:
                        errors.append(f"POST /items {r.status_code} {r.text[:200]}")
            finally:
                uploading.clear()

    threads = [threading.Thread(target=recommender, args=(c,)) for c in range(args.recommend_clients)]
    threads += [threading.Thread(target=feeder, args=(c,)) for c in range(args.feedback_clients)]
    if bulk:
        threads.append(threading.Thread(target=uploader))
    for t in threads:
        t.start()
    start.wait()
    t0, client_cpu0, server_cpu0 = time.perf_counter(), time.process_time(), cpu_seconds(server_pid)
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    client_cpu, server_cpu = time.process_time() - client_cpu0, cpu_seconds(server_pid)
    return {
        "recommend_ms": [x for part in rec_ms for x in part],
        "feedback_ms": [x for part in fb_ms for x in part],
        "bulk_ms": bulk_ms,
        "acked": [x for part in acked for x in part],
        "bulk_acked": bulk_acked,
        "errors": errors,
        "wall_s": wall,
        "cpu_s": {"server": None if server_cpu is None else server_cpu - server_cpu0, "load_generator": client_cpu},
    }


def bulk_items(model_dir: Path, n: int, seed: int = 0) -> list[dict]:
    """`n` new items whose texts are catalogue texts (cut to 400 characters) with a tag unique to
    this run, so neither the embedding cache nor an earlier run answers for them."""
    texts = json.loads((model_dir / "items.json").read_text(encoding="utf-8"))
    rng = np.random.default_rng(seed)
    tag = f"{os.getpid()}-{time.time_ns()}"
    picks = rng.integers(0, len(texts), n)
    return [{"item_id": f"bulk-{i}", "text": f"Re-release {i} ({tag}): {texts[j][:400]}"} for i, j in enumerate(picks.tolist())]


def check_db(db: Path, acked: list[tuple[str, str]], items_acked: list[str]) -> dict:
    """Lost writes (acknowledged but not stored: events, and items of a bulk upload) and
    SQLite's own integrity check."""
    con = sqlite3.connect(db)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        stored = set(con.execute("SELECT user_key, item_id FROM events WHERE user_key LIKE 'load-%'"))
        items = {r[0] for r in con.execute("SELECT item_id FROM items")}
    finally:
        con.close()
    out = {"acknowledged": len(acked), "stored": len(stored), "lost": len(set(acked) - stored), "integrity": integrity}
    if items_acked:
        out.update(items_acknowledged=len(items_acked), items_lost=len(set(items_acked) - items))
    return out


def main() -> None:
    import httpx

    from tailwise.artifacts import read_arrays

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog", choices=("ml-1m", "synthetic-1m"), default="ml-1m")
    ap.add_argument("--model-dir", type=Path, help="an existing model directory (default: build one)")
    ap.add_argument("--label", help="the name of the catalogue in the results file (default: --catalog)")
    ap.add_argument("--recommend-clients", type=int, default=4)
    ap.add_argument("--feedback-clients", type=int, default=2)
    ap.add_argument("--recommend-requests", type=int, default=4000)
    ap.add_argument("--feedback-requests", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    ap.add_argument("--bulk-items", type=int, default=0, help="new items posted by one more client meanwhile (default 0: none)")
    ap.add_argument("--bulk-request-items", type=int, default=1000, help="items per POST /items of the bulk upload")
    ap.add_argument("--no-auth", action="store_true", help="run the server without API keys (default: every client sends a write key)")
    ap.add_argument("--max-seconds", type=float, default=600.0, help="with a bulk upload: stop the other clients after this")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tailwise-load-"))
    model_dir = model_dir_for(args, work)
    ids = read_arrays(model_dir / "ids.npz")
    rng = np.random.default_rng(0)
    users = ids["users"][rng.integers(0, len(ids["users"]), args.recommend_requests)].astype(str).tolist()
    items = ids["items"][rng.integers(0, len(ids["items"]), 5000)].astype(str).tolist()
    db = work / "feedback.sqlite"
    extra, args.headers = (), {}
    if not args.no_auth:  # every client authenticates with a write key (only its digest is stored)
        keys = work / "keys.txt"
        made = subprocess.run([sys.executable, "-m", "tailwise.cli.main", "keys", "new", "--role", "write", "--keys", str(keys)],
                              check=True, capture_output=True, text=True)  # fmt: skip
        token = made.stdout.strip().splitlines()[-1].split()[-1]
        extra, args.headers = ("--keys", str(keys)), {"Authorization": f"Bearer {token}"}
    proc, url = start_server(model_dir, db, work / "server.log", extra)
    try:
        with httpx.Client(base_url=url, timeout=120, headers=args.headers) as client:
            wait_healthy(client, 600)
            settle_s = wait_settled(proc.pid)
            for user in users[:200]:  # warm-up: first-request costs are not part of the load
                client.get("/recommend", params={"user_id": user, "k": args.k})
        bulk = bulk_items(model_dir, args.bulk_items)
        run = run_clients(url, users, items, args, proc.pid, bulk)
        if bulk:
            with httpx.Client(base_url=url, timeout=120, headers=args.headers) as client:
                run["new_items_live"] = client.get("/info").json()["counts"]["new_items"]
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    durability = check_db(db, run["acked"], run["bulk_acked"])
    n_requests = len(run["recommend_ms"]) + len(run["feedback_ms"])
    out = {
        "catalog": args.label or args.catalog, "users": len(ids["users"]), "items": len(ids["items"]),
        "authenticated": not args.no_auth, "recommend_clients": args.recommend_clients, "feedback_clients": args.feedback_clients,
        "k": args.k, "start_up_settle_s": settle_s, "cpus": os.cpu_count(), "load_average_after": os.getloadavg(),
        "wall_s": run["wall_s"], "throughput_rps": n_requests / run["wall_s"],
        "recommend_rps": len(run["recommend_ms"]) / run["wall_s"],
        "feedback_rps": len(run["feedback_ms"]) / run["wall_s"],
        "latency_ms": {"GET /recommend": stats(run["recommend_ms"]), "POST /feedback": stats(run["feedback_ms"])},
        "cpu_s": run["cpu_s"], "errors": len(run["errors"]), "error_samples": run["errors"][:10],
        "durability": durability,
    }  # fmt: skip
    if bulk:
        out["bulk"] = {
            "items": len(bulk), "items_per_request": args.bulk_request_items, "requests_ms": run["bulk_ms"],
            "upload_s": sum(run["bulk_ms"]) / 1000, "acknowledged": len(run["bulk_acked"]),
            "live_after": run["new_items_live"],
        }  # fmt: skip
    (ROOT / "results").mkdir(exist_ok=True)
    name = f"service_load-{args.label or args.catalog}-{args.recommend_clients}r{args.feedback_clients}f{f'-bulk{len(bulk)}' if bulk else ''}.json"
    (ROOT / "results" / name).write_text(json.dumps(out, indent=2))
    print(json.dumps({k: v for k, v in out.items() if k != "latency_ms"}, indent=1))
    print("| request | n | req/s | p50 ms | p95 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, rps in (("GET /recommend", out["recommend_rps"]), ("POST /feedback", out["feedback_rps"])):
        if (s := out["latency_ms"][name])["n"]:
            print(f"| {name} | {s['n']} | {rps:.0f} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | {s['max']:.1f} |")
    if bulk:
        b = out["bulk"]
        print(f"bulk: {b['acknowledged']:,} of {b['items']:,} items acknowledged in {b['upload_s']:.1f} s "
              f"({', '.join(f'{ms / 1000:.1f}' for ms in b['requests_ms'])} s per request), {b['live_after']:,} live after")
    cpu = out["cpu_s"]
    print(f"CPU seconds over {out['wall_s']:.1f} s: server {cpu['server']}, load generator {cpu['load_generator']:.1f}")


if __name__ == "__main__":
    main()
