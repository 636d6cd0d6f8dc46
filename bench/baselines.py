"""Benchmark every CF baseline on ml-1m and amazon-scientific (per-user random 80/20, seed 42).

Each (dataset, model) runs in its own process so that its peak memory (max RSS) is its own.
Writes ``bench/results/baselines.json`` and prints a markdown table for ``docs/benchmarks.md``.

    python bench/baselines.py                       # all datasets and models
    python bench/baselines.py --datasets ml-1m --models ease,als
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parent / ".." / "shared" / "data"
MODELS = "popular,itemknn,ease,als,bpr"
DATASETS = {"ml-1m": "movielens", "amazon-scientific": "amazon"}
COLUMNS = ("recall", "ndcg", "tail_recall", "coverage", "aplt", "fit_s", "recommend_s", "peak_mb")


def run_one(dataset: str, model: str, k: int, seed: int) -> dict:
    """Load, split, fit and score one model in this process; report its metrics and peak RSS."""
    from tailwise.data import load_amazon, load_movielens
    from tailwise.data.splits import random_holdout
    from tailwise.eval.evaluator import EvalContext, evaluate_model
    from tailwise.models import make_model

    loader = load_movielens if DATASETS[dataset] == "movielens" else load_amazon
    ds = loader(DATA / dataset)
    ctx = EvalContext.build(random_holdout(ds, 0.2, seed), k=k)
    row = evaluate_model(make_model(model), ctx)
    row["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row["dataset"] = dataset
    row["users_evaluated"] = len(ctx.users)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--models", default=MODELS)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--one", nargs=2, metavar=("DATASET", "MODEL"), help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "baselines.json")
    args = ap.parse_args()
    if args.one:
        print(json.dumps(run_one(*args.one, args.k, args.seed)))
        return
    rows = []
    for dataset in args.datasets.split(","):
        for model in args.models.split(","):
            t0 = time.perf_counter()
            cmd = [sys.executable, __file__, "--one", dataset, model, "--k", str(args.k), "--seed", str(args.seed)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(f"{dataset:18s} {model:8s} ndcg@{args.k}={rows[-1]['ndcg']:.4f} ({time.perf_counter() - t0:.0f}s)", file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(rows, indent=2))
    print(markdown(rows, args.k))


def markdown(rows: list[dict], k: int) -> str:
    head = ["dataset", "model", *[f"{c}@{k}" if c not in ("fit_s", "recommend_s", "peak_mb") else c for c in COLUMNS]]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        vals = [f"{r[c]:.4f}" if c not in ("fit_s", "recommend_s", "peak_mb") else f"{r[c]:.1f}" for c in COLUMNS]
        lines.append("| " + " | ".join([r["dataset"], r["model"], *vals]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
