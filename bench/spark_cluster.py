"""A standalone Spark cluster on loopback (one master, two workers, each its own JVM), started,
used and stopped by this script.

    python bench/spark_cluster.py start             # prints the master URL, keeps running until stop
    python bench/spark_cluster.py stop
    python bench/spark_cluster.py run DIR           # start, bench/spark_log.py DIR on it, stop

The JVMs come from pyspark's own ``bin/spark-class`` (no Spark download): the master on
127.0.0.1, two workers with ``--cores`` cores and ``--memory`` each. Workers start executors with
this Python (``PYSPARK_PYTHON``) and this checkout's ``src`` on ``PYTHONPATH``. Process ids and
logs are kept in ``--state`` (default: a folder under the system's temporary directory).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent
SRC = ROOT.parent / "src"


def spark_class() -> Path:
    import pyspark

    return Path(pyspark.__file__).parent / "bin" / "spark-class"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(state: Path, workers: int, cores: int, memory: str) -> str:
    state.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)}  # fmt: skip
    port, ui = free_port(), free_port()
    url = f"spark://127.0.0.1:{port}"
    procs = {}
    cmd = [str(spark_class()), "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port), "--webui-port", str(ui)]
    procs["master"] = _launch(cmd, state / "master.log", env)
    _wait(lambda: _status(ui) is not None, 120, "the master did not start")
    for w in range(workers):
        cmd = [str(spark_class()), "org.apache.spark.deploy.worker.Worker", url, "--host", "127.0.0.1", "--cores", str(cores),
               "--memory", memory, "--webui-port", str(free_port()), "--work-dir", str(state / f"work-{w}")]  # fmt: skip
        procs[f"worker-{w}"] = _launch(cmd, state / f"worker-{w}.log", env)
    _wait(lambda: len([w for w in (_status(ui) or {}).get("workers", []) if w.get("state") == "ALIVE"]) >= workers, 120, "the workers did not register")
    (state / "cluster.json").write_text(json.dumps({"url": url, "ui": ui, "pids": {k: p.pid for k, p in procs.items()}}))
    return url


def _launch(cmd: list[str], log: Path, env: dict[str, str]) -> subprocess.Popen:
    """One JVM in its own process group (so stop() ends it and its children), logging to `log`."""
    with open(log, "wb") as fh:
        return subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def _status(ui: int) -> dict | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui}/json/", timeout=2) as r:
            return json.loads(r.read())
    except OSError:
        return None


def _wait(ok, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ok():
            return
        time.sleep(1)
    raise TimeoutError(what)


def stop(state: Path) -> None:
    info = json.loads((state / "cluster.json").read_text())
    for name, pid in reversed(list(info["pids"].items())):
        try:
            os.killpg(pid, signal.SIGTERM)  # each JVM was started in its own process group
        except ProcessLookupError:
            continue
    (state / "cluster.json").unlink()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=["start", "stop", "run"])
    ap.add_argument("data", nargs="?", type=Path, help="for run: a folder written by bench/large_log.py")
    ap.add_argument("--state", type=Path, default=Path(tempfile.gettempdir()) / "tailwise-spark-cluster")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--cores", type=int, default=1)
    ap.add_argument("--memory", default="3g")
    ap.add_argument("--sample", type=int, default=10_000)
    ap.add_argument("--label", default="cluster", help="results go to bench/results/spark-log-LABEL.json")
    args = ap.parse_args()
    if args.action == "stop":
        stop(args.state)
        return
    url = start(args.state, args.workers, args.cores, args.memory)
    print(url, flush=True)
    if args.action == "start":
        return
    try:
        conf = ["--conf", f"spark.executor.memory={args.memory}", "--conf", f"spark.executor.cores={args.cores}"]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (str(SRC), os.environ.get("PYTHONPATH", "")) if p)}
        subprocess.run([sys.executable, str(ROOT / "spark_log.py"), str(args.data), "--master", url, "--label", args.label,
                        "--sample", str(args.sample), *conf], check=True, env=env)  # fmt: skip
    finally:
        stop(args.state)


if __name__ == "__main__":
    main()
