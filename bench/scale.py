"""The whole chain on a large log: fit, model directory, recommend, two-stage recall, serving.

    python bench/large_log.py OUT --preset large            # 1M items, 200k users, 20M rows
    python bench/scale.py OUT [--steps als,encode,fit,size,recommend,recall,serve] [--users 10000]

Every step runs in its own process and reports its wall time and peak resident memory
(``/usr/bin/time``-style, from ``getrusage`` of that process), so the steps do not share memory
or warm caches other than the embedding cache on disk:

- ``als``: implicit's ALS (64 factors, 15 iterations) on the same log: the reference fit time;
- ``encode``: the item titles with the default encoder into an empty embedding cache (cold);
- ``fit``: ``tailwise fit`` with defaults (the hybrid picks its backbone by the memory budget),
  the cache warm: time, peak memory, the backbone it chose;
- ``size``: the model directory's size, by file;
- ``recommend``: ``tailwise recommend`` for ``--users`` training users (top 20);
- ``recall``: recall@20 of the two-stage lists (ANN candidates, then exact scores, re-ranking,
  cut to 20) against the same model scoring every item of the catalogue, for those users;
- ``serve``: ``bench/service_load.py`` against the model directory, 2 recommend clients and 1
  feedback client.

Writes ``bench/results/scale-<n_items>.json`` (merged with earlier steps of the same log) and
prints one line per step. The work folder (cache, model directory) is ``OUT/work``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
STEPS = ("als", "encode", "fit", "size", "recommend", "recall", "serve")


def _measured(code: str, *args: str) -> dict:
    """Run Python `code` in a fresh process (``sys.argv[1:]`` = `args`); its last stdout line is
    a JSON object, to which the process's wall time and peak memory are added."""
    t0 = time.perf_counter()
    wrapper = (
        "import json, resource, sys\n" + code + "\n"
        "_r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        "print(json.dumps({**RESULT, 'peak_mb': round(_r / 1024)}))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", wrapper, *args], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise SystemExit(f"step failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = round(time.perf_counter() - t0, 1)
    return out


LOAD = """
from tailwise.data import load_dataset
from tailwise.data.loaders import Columns
def load(folder):
    return load_dataset(folder + "/interactions.parquet", items=folder + "/items.csv")
"""

ALS = (
    LOAD
    + """
import time
import numpy as np, scipy.sparse as sp
from threadpoolctl import threadpool_limits
import implicit
ds = load(sys.argv[1])
x = sp.csr_matrix(ds.matrix(), dtype=np.float32)
t = time.perf_counter()
with threadpool_limits(1, "blas"):
    implicit.cpu.als.AlternatingLeastSquares(factors=64, iterations=15, regularization=1.0, alpha=5.0, random_state=42).fit(x, show_progress=False)
RESULT = {"fit_s": round(time.perf_counter() - t, 1)}
"""
)

ENCODE = (
    LOAD
    + """
import time
from tailwise.text.side import TextSide
ds = load(sys.argv[1])
side = TextSide("use", 128, sys.argv[2], progress=False)
t = time.perf_counter()
side.embed(ds.texts())
RESULT = {"encode_s": round(time.perf_counter() - t, 1), "encoded": side.last_encoded, "texts": ds.n_items}
"""
)

CLI = """
import time
from tailwise.cli.main import main
t = time.perf_counter()
rc = main(sys.argv[1:])
if rc:
    raise SystemExit(rc)
RESULT = {"seconds": round(time.perf_counter() - t, 1)}
"""

RECALL = """
import time
import numpy as np
from tailwise.pipeline import Pipeline
pipe = Pipeline.load(sys.argv[1])
users = pipe.users.indices(open(sys.argv[2]).read().split())
rows = pipe.history[users]
t = time.perf_counter()
two_stage = pipe.run(users, rows, k=20)
t_two = time.perf_counter() - t
index, pipe.index = pipe.index, None
t = time.perf_counter()
parts = [pipe.run(users[s : s + 128], rows[s : s + 128], k=20) for s in range(0, len(users), 128)]  # 128 x 1M scores at a time
brute = type(two_stage)(np.vstack([p.items for p in parts]), np.vstack([p.scores for p in parts]))
t_brute = time.perf_counter() - t
hits = [len(set(a[a >= 0]) & set(b[b >= 0])) / max((b >= 0).sum(), 1) for a, b in zip(two_stage.items, brute.items)]
RESULT = {"recall_at_20": round(float(np.mean(hits)), 4), "users": len(users), "index": type(index).__name__,
          "two_stage_s": round(t_two, 1), "brute_force_s": round(t_brute, 1)}
"""


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("log", type=Path, help="a folder written by bench/large_log.py")
    ap.add_argument("--steps", default=",".join(STEPS))
    ap.add_argument("--users", type=int, default=10_000)
    args = ap.parse_args()
    log = args.log.resolve()
    work = log / "work"
    work.mkdir(exist_ok=True)
    cache, model = work / "cache", work / "model"
    spec = json.loads((log / "spec.json").read_text())
    result_path = ROOT / "results" / f"scale-{spec['spec']['n_items']}.json"
    results = json.loads(result_path.read_text()) if result_path.exists() else {}
    results["log"] = spec
    env = {**os.environ, "TAILWISE_CACHE": str(cache)}
    os.environ.update(env)
    users_file = work / "users.txt"
    for step in args.steps.split(","):
        if step not in STEPS:
            raise SystemExit(f"unknown step {step!r}; choose from {', '.join(STEPS)}")
        if step == "als":
            out = _measured(ALS, str(log))
        elif step == "encode":
            out = _measured(ENCODE, str(log), str(cache))
        elif step == "fit":
            out = _measured(
                CLI,
                "fit",
                "--interactions",
                str(log / "interactions.parquet"),
                "--items",
                str(log / "items.csv"),
                "--model-dir",
                str(model),
                "--cache-dir",
                str(cache),
                "--force",
            )
            manifest = json.loads((model / "manifest.json").read_text())
            out["fit_info"] = manifest.get("fit_info")
            out["memory_budget"] = manifest.get("memory_budget")
        elif step == "size":
            files = {
                str(p.relative_to(model)): p.stat().st_size for p in model.rglob("*") if p.is_file()
            }
            out = {
                "total_mb": round(sum(files.values()) / 1e6),
                "files_mb": {k: round(v / 1e6, 1) for k, v in sorted(files.items())},
            }
        elif step == "recommend":
            ids = [line.split(",")[0].strip('"') for line in _first_users(log, args.users)]
            users_file.write_text("\n".join(ids) + "\n")
            target = work / "recommendations.csv"
            target.unlink(missing_ok=True)
            out = _measured(
                CLI,
                "recommend",
                "--model-dir",
                str(model),
                "--users",
                str(users_file),
                "--k",
                "20",
                "--output",
                str(target),
            )
        elif step == "recall":
            out = _measured(RECALL, str(model), str(users_file))
        else:  # serve
            cmd = [
                sys.executable,
                str(ROOT / "service_load.py"),
                "--model-dir",
                str(model),
                "--recommend-clients",
                "2",
                "--feedback-clients",
                "1",
                "--recommend-requests",
                "2000",
                "--feedback-requests",
                "500",
                "--label",
                f"scale-{spec['spec']['n_items']}",
            ]
            t0 = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
            out = {
                "wall_s": round(time.perf_counter() - t0, 1),
                "rc": proc.returncode,
                "tail": proc.stdout[-2500:] + proc.stderr[-1500:],
            }
        results[step] = out
        print(step, json.dumps(out)[:600], flush=True)
        result_path.parent.mkdir(exist_ok=True)
        result_path.write_text(json.dumps(results, indent=2))


def _first_users(log: Path, n: int) -> list[str]:
    """`n` distinct user ids of the log, spread over it (every user there has interactions)."""
    import pyarrow.parquet as pq

    users = (
        pq.read_table(log / "interactions.parquet", columns=["user_id"])
        .column("user_id")
        .unique()
        .to_pylist()
    )
    step = max(1, len(users) // n)
    return [str(u) for u in users[::step][:n]]


if __name__ == "__main__":
    main()
