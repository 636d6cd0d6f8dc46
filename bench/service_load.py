"""Bounded load test of the HTTP service: concurrent recommend and feedback clients, fixed counts.

    python bench/service_load.py                          # the hybrid fitted on ml-1m first
    python bench/service_load.py --model-dir DIR          # any model directory (kept)
    python bench/service_load.py --catalog synthetic-1m   # 1M-item ALS catalogue, ANN index (built
                                                          # first with bench/synthetic_catalog.py)

Starts a real ``tailwise serve`` on a loopback port (fresh SQLite feedback database), waits for
its background start-up work to finish (the server's CPU use settles), warms it up, then lets
``--recommend-clients`` threads send ``--recommend-requests`` ``GET /recommend`` for random
training users between them while ``--feedback-clients`` threads post ``--feedback-requests``
``POST /feedback`` events (one event each, a unique user per event), all at once (httpx,
keep-alive; the clients share the 2 cores with the server). Records per request latency,
throughput, errors and the CPU seconds of the server and of the load generator (this process).
Then stops the server and checks the database: every acknowledged event must be there (zero lost
writes) and ``PRAGMA integrity_check`` must say ok.
Writes ``bench/results/service_load-<catalog>-<R>r<F>f.json`` and prints a markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
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


def run_clients(url: str, users: list[str], items: list[str], args: argparse.Namespace, server_pid: int) -> dict:
    """All clients at once; returns latencies, errors, acknowledged events, the wall time and
    the CPU seconds the server and the load generator (this process) spent meanwhile."""
    import httpx

    rec_ms: list[list[float]] = [[] for _ in range(args.recommend_clients)]
    fb_ms: list[list[float]] = [[] for _ in range(args.feedback_clients)]
    acked: list[list[tuple[str, str]]] = [[] for _ in range(args.feedback_clients)]
    errors: list[str] = []
    start = threading.Barrier(args.recommend_clients + args.feedback_clients + 1)

    def recommender(c: int) -> None:
        mine = users[c :: args.recommend_clients]
        with httpx.Client(base_url=url, timeout=60) as client:
            start.wait()
            for user in mine:
                t0 = time.perf_counter()
                r = client.get("/recommend", params={"user_id": user, "k": args.k})
                rec_ms[c].append((time.perf_counter() - t0) * 1000)
                if r.status_code != 200:
                    errors.append(f"GET /recommend {r.status_code}")

    def feeder(c: int) -> None:
        n = args.feedback_requests // args.feedback_clients
        with httpx.Client(base_url=url, timeout=60) as client:
            start.wait()
            for i in range(n):
                user, item = f"load-{c}-{i}", items[(c * 7919 + i * 31) % len(items)]
                t0 = time.perf_counter()
                r = client.post("/feedback", json={"events": [{"user_id": user, "item_id": item, "type": "click"}]})
                fb_ms[c].append((time.perf_counter() - t0) * 1000)
                if r.status_code == 200 and r.json().get("stored") == 1:
                    acked[c].append((user, item))
                else:
                    errors.append(f"POST /feedback {r.status_code}")

    threads = [threading.Thread(target=recommender, args=(c,)) for c in range(args.recommend_clients)]
    threads += [threading.Thread(target=feeder, args=(c,)) for c in range(args.feedback_clients)]
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
        "acked": [x for part in acked for x in part],
        "errors": errors,
        "wall_s": wall,
        "cpu_s": {"server": None if server_cpu is None else server_cpu - server_cpu0, "load_generator": client_cpu},
    }


def check_db(db: Path, acked: list[tuple[str, str]]) -> dict:
    """Lost writes (acknowledged but not stored) and SQLite's own integrity check."""
    con = sqlite3.connect(db)
    try:
        integrity = con.execute("PRAGMA integrity_check").fetchone()[0]
        stored = set(con.execute("SELECT user_key, item_id FROM events WHERE user_key LIKE 'load-%'"))
    finally:
        con.close()
    return {"acknowledged": len(acked), "stored": len(stored), "lost": len(set(acked) - stored), "integrity": integrity}


def main() -> None:
    import httpx

    from tailwise.artifacts import read_arrays

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--catalog", choices=("ml-1m", "synthetic-1m"), default="ml-1m")
    ap.add_argument("--model-dir", type=Path, help="an existing model directory (default: build one)")
    ap.add_argument("--recommend-clients", type=int, default=4)
    ap.add_argument("--feedback-clients", type=int, default=2)
    ap.add_argument("--recommend-requests", type=int, default=4000)
    ap.add_argument("--feedback-requests", type=int, default=1000)
    ap.add_argument("--k", type=int, default=10)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tailwise-load-"))
    model_dir = model_dir_for(args, work)
    ids = read_arrays(model_dir / "ids.npz")
    rng = np.random.default_rng(0)
    users = ids["users"][rng.integers(0, len(ids["users"]), args.recommend_requests)].astype(str).tolist()
    items = ids["items"][rng.integers(0, len(ids["items"]), 5000)].astype(str).tolist()
    db = work / "feedback.sqlite"
    proc, url = start_server(model_dir, db, work / "server.log")
    try:
        with httpx.Client(base_url=url, timeout=120) as client:
            wait_healthy(client, 600)
            settle_s = wait_settled(proc.pid)
            for user in users[:200]:  # warm-up: first-request costs are not part of the load
                client.get("/recommend", params={"user_id": user, "k": args.k})
        run = run_clients(url, users, items, args, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    durability = check_db(db, run["acked"])
    n_requests = len(run["recommend_ms"]) + len(run["feedback_ms"])
    out = {
        "catalog": args.catalog, "users": len(ids["users"]), "items": len(ids["items"]),
        "recommend_clients": args.recommend_clients, "feedback_clients": args.feedback_clients,
        "k": args.k, "start_up_settle_s": settle_s, "cpus": os.cpu_count(), "load_average_after": os.getloadavg(),
        "wall_s": run["wall_s"], "throughput_rps": n_requests / run["wall_s"],
        "recommend_rps": len(run["recommend_ms"]) / run["wall_s"],
        "feedback_rps": len(run["feedback_ms"]) / run["wall_s"],
        "latency_ms": {"GET /recommend": stats(run["recommend_ms"]), "POST /feedback": stats(run["feedback_ms"])},
        "cpu_s": run["cpu_s"], "errors": len(run["errors"]), "error_samples": run["errors"][:10],
        "durability": durability,
    }  # fmt: skip
    (ROOT / "results").mkdir(exist_ok=True)
    name = f"service_load-{args.catalog}-{args.recommend_clients}r{args.feedback_clients}f.json"
    (ROOT / "results" / name).write_text(json.dumps(out, indent=2))
    print(json.dumps({k: v for k, v in out.items() if k != "latency_ms"}, indent=1))
    print("| request | n | req/s | p50 ms | p95 ms | p99 ms | max ms |\n|---|---:|---:|---:|---:|---:|---:|")
    for name, rps in (("GET /recommend", out["recommend_rps"]), ("POST /feedback", out["feedback_rps"])):
        if (s := out["latency_ms"][name])["n"]:
            print(f"| {name} | {s['n']} | {rps:.0f} | {s['p50']:.1f} | {s['p95']:.1f} | {s['p99']:.1f} | {s['max']:.1f} |")
    cpu = out["cpu_s"]
    print(f"CPU seconds over {out['wall_s']:.1f} s: server {cpu['server']}, load generator {cpu['load_generator']:.1f}")


if __name__ == "__main__":
    main()
