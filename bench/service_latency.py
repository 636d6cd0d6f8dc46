"""Single-request latency of the HTTP service on ml-1m: one client, one request at a time.

    python bench/service_latency.py                          # fit the hybrid on ml-1m, then measure
    python bench/service_latency.py --model-dir /path/model  # reuse a model directory (kept)
    python bench/service_latency.py --requests 500           # fewer requests per endpoint

Fits the default hybrid on ``../shared/data/ml-1m`` (loaded as in ``bench/longtail.py``) unless a
model directory is given, starts a real ``tailwise serve`` on a loopback port (fresh feedback
database), warms it up, then times sequential requests from one client (``httpx``, keep-alive):

- ``GET /recommend`` for random training users (plain; and with ``tail_weight=0.5`` xQuAD);
- ``GET /recommend`` for users with folded-in feedback (each had 3 events posted first);
- ``POST /recommend`` with a 5-item history, and with a free-text query;
- the cost of a query, in pairs of the same request without and with one (the 57 tag queries
  of ``bench/tag_queries.json`` in turn): a training user (``GET /recommend`` against ``POST
  /recommend`` with ``user_id`` and ``query``), and a 5-item history;
- ``GET /similar/{item}``; ``POST /feedback`` with one event (SQLite commit, synchronous=FULL).

Also times the same user recommendations in process (``Snapshot.for_user``, no HTTP) to split
model time from HTTP/JSON overhead. Endpoints are timed round robin (request i of every endpoint,
then request i + 1), so a busy spell on a shared machine hits them alike. Writes ``bench/results/service_latency.json`` and prints a
markdown table (milliseconds: p50, p90, p99, mean). This is a latency floor, not the load test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))


def fit_model(target: Path) -> float:
    from longtail import load

    from tailwise.models import Hybrid
    from tailwise.pipeline import Pipeline

    ds = load("ml-1m")
    t0 = time.perf_counter()
    pipe = Pipeline.fit(Hybrid(), ds)
    fit_s = time.perf_counter() - t0
    pipe.save(target)
    return fit_s


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(model_dir: Path, db: Path, log_path: Path, extra: tuple[str, ...] = ()) -> tuple[subprocess.Popen, str]:
    """A real ``tailwise serve`` on a free loopback port (with `extra` options, e.g. ``--keys``);
    returns the process and its base URL."""
    port = free_port()
    env = {**os.environ, "TAILWISE_WARM_TEXT": "1"}
    cmd = [sys.executable, "-m", "tailwise.cli.main", "serve", "--model-dir", str(model_dir), "--db", str(db), "--port", str(port), *extra]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    return proc, f"http://127.0.0.1:{port}"


def wait_healthy(client, seconds: float = 120.0) -> None:
    """Poll ``/healthz`` until the server answers 200."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        try:
            if client.get("/healthz").status_code == 200:
                return
        except Exception:  # noqa: BLE001 - not up yet: connection refused or reset
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not become healthy")


def stats(ms: list[float]) -> dict[str, float]:
    a = np.asarray(ms)
    if not len(a):
        return {"n": 0}
    p50, p90, p95, p99 = (float(x) for x in np.percentile(a, [50, 90, 95, 99]))
    return {"n": len(a), "p50": p50, "p90": p90, "p95": p95, "p99": p99, "max": float(a.max()), "mean": float(a.mean())}


def timed(client, n: int, make) -> list[float]:
    out = []
    for i in range(n):
        method, url, kw = make(i)
        t0 = time.perf_counter()
        r = client.request(method, url, **kw)
        out.append((time.perf_counter() - t0) * 1000)
        if r.status_code != 200:
            raise RuntimeError(f"{method} {url}: {r.status_code} {r.text[:200]}")
    return out


def main() -> None:
    import httpx

    from tailwise.pipeline import Pipeline

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=Path, help="an existing model directory (default: fit the hybrid on ml-1m)")
    ap.add_argument("--requests", type=int, default=1000, help="timed requests per endpoint (default 1000)")
    ap.add_argument("--label", help="write service_latency-LABEL.json instead of service_latency.json")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tailwise-latency-"))
    model_dir, fit_s = args.model_dir, None
    if model_dir is None:
        model_dir = work / "model"
        fit_s = fit_model(model_dir)
        print(f"fitted the hybrid in {fit_s:.1f}s", file=sys.stderr)
    pipe = Pipeline.load(model_dir)
    rng = np.random.default_rng(0)
    users = pipe.users.ids[rng.integers(0, len(pipe.users), args.requests)].tolist()
    items = pipe.items.ids.tolist()
    n = args.requests
    tags = [q["tag"] for q in json.loads((ROOT / "tag_queries.json").read_text())]

    from threadpoolctl import threadpool_limits

    from tailwise.rerank import Exposure
    from tailwise.service.live import Snapshot

    snap = Snapshot.build(pipe, {})
    inproc = []
    with threadpool_limits(1, "blas"):  # as the service runs (ServiceSettings.blas_threads)
        for u in users[:n]:
            t0 = time.perf_counter()
            snap.for_user(u, u, 10, Exposure(n_candidates=300))
            inproc.append((time.perf_counter() - t0) * 1000)

    proc, url = start_server(model_dir, work / "fb.sqlite", work / "server.log")
    results: dict[str, dict] = {"in process: Snapshot.for_user (no HTTP)": stats(inproc)}
    try:
        with httpx.Client(base_url=url, timeout=120) as c:
            wait_healthy(c)
            c.post("/recommend", json={"query": "warm up", "k": 10})  # the text index and the encoder
            timed(c, 200, lambda i: ("GET", "/recommend", {"params": {"user_id": users[i % n], "k": 10}}))
            fed = [f"bench-{i}" for i in range(n)]
            for i, u in enumerate(fed):
                ev = [{"user_id": u, "item_id": items[(i * 7 + j) % len(items)], "type": "click"} for j in range(3)]
                c.post("/feedback", json={"events": ev})
            cases = {
                "GET /healthz (HTTP floor)": lambda i: ("GET", "/healthz", {}),
                "GET /recommend (training user)": lambda i: ("GET", "/recommend", {"params": {"user_id": users[i], "k": 10}}),
                "GET /recommend, tail_weight=0.5 xquad": lambda i: ("GET", "/recommend", {"params": {"user_id": users[i], "k": 10, "tail_weight": 0.5, "rerank": "xquad"}}),
                "GET /recommend (user with feedback)": lambda i: ("GET", "/recommend", {"params": {"user_id": fed[i], "k": 10}}),
                "POST /recommend (5-item history)": lambda i: ("POST", "/recommend", {"json": {"history": [items[(i * 5 + j) % len(items)] for j in range(5)], "k": 10}}),
                "POST /recommend (free-text query)": lambda i: ("POST", "/recommend", {"json": {"query": f"space adventure {i}", "k": 10}}),
                "POST /recommend (training user + tag query)": lambda i: ("POST", "/recommend", {"json": {"user_id": users[i], "query": tags[i % len(tags)], "k": 10}}),
                "POST /recommend (5-item history + tag query)": lambda i: ("POST", "/recommend", {"json": {"history": [items[(i * 5 + j) % len(items)] for j in range(5)], "query": tags[i % len(tags)], "k": 10}}),
                "GET /similar/{item}": lambda i: ("GET", f"/similar/{items[i % len(items)]}", {"params": {"k": 10}}),
                "POST /feedback (1 event)": lambda i: ("POST", "/feedback", {"json": {"events": [{"user_id": users[i], "item_id": items[i % len(items)], "type": "view"}]}}),
            }  # fmt: skip
            times: dict[str, list[float]] = {name: [] for name in cases}
            for i in range(n):  # round robin, so a busy spell of the machine hits every case alike
                for name, make in cases.items():
                    times[name] += timed(c, 1, lambda _, i=i, make=make: make(i))
            for name, ms in times.items():
                results[name] = stats(ms)
                print(f"{name}: p50 {results[name]['p50']:.2f} ms, p99 {results[name]['p99']:.2f} ms", file=sys.stderr)
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    out = {
        "load_average": os.getloadavg(),
        "dataset": "ml-1m", "model": pipe.model.name, "users": len(pipe.users), "items": len(pipe.items),
        "fit_s": fit_s, "requests_per_endpoint": n, "cpus": os.cpu_count(), "python": platform.python_version(),
        "latency_ms": results,
    }  # fmt: skip
    (ROOT / "results").mkdir(exist_ok=True)
    name = f"service_latency-{args.label}.json" if args.label else "service_latency.json"
    (ROOT / "results" / name).write_text(json.dumps(out, indent=2))
    print("| request | p50 ms | p90 ms | p99 ms | mean ms |\n|---|---|---|---|---|")
    for name, s in results.items():
        print(f"| {name} | {s['p50']:.2f} | {s['p90']:.2f} | {s['p99']:.2f} | {s['mean']:.2f} |")


if __name__ == "__main__":
    main()
