"""Small grid search behind the documented defaults of ALS and BPR (ml-1m, random 80/20, seed 42).

    python bench/tune.py als   # or bpr, itemknn, ease

Prints NDCG@20 / recall@20 / tail recall@20 per setting and writes bench/results/tune-MODEL.json.
This tunes on the benchmark split itself, so it shows sensitivity; defaults are then rounded to
settings that also hold on amazon-scientific.
"""

from __future__ import annotations

import itertools
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parent / ".." / "shared" / "data"

GRIDS = {
    "als": {"factors": [64, 128, 256], "regularization": [0.05, 1.0, 10.0], "alpha": [1.0, 2.0, 5.0]},
    "bpr": {"factors": [64, 128], "learning_rate": [0.01, 0.05], "regularization": [0.001, 0.01], "num_threads": [0]},
    "itemknn": {"neighbours": [50, 100, 200, 400], "shrink": [0.0, 10.0, 50.0]},
    "ease": {"l2": [100.0, 200.0, 500.0, 1000.0]},
}


def main() -> None:
    from tailwise.data import load_amazon, load_movielens
    from tailwise.data.splits import random_holdout
    from tailwise.eval.evaluator import EvalContext, evaluate_model
    from tailwise.models import make_model

    name = sys.argv[1]
    dataset = sys.argv[2] if len(sys.argv) > 2 else "ml-1m"
    ds = (load_movielens if dataset == "ml-1m" else load_amazon)(DATA / dataset)
    ctx = EvalContext.build(random_holdout(ds, 0.2, 42), k=20)
    grid = GRIDS[name]
    rows = []
    for values in itertools.product(*grid.values()):
        params = dict(zip(grid, values))
        t0 = time.perf_counter()
        r = evaluate_model(make_model(name, **params), ctx)
        rows.append({**params, **{m: r[m] for m in ("ndcg", "recall", "tail_recall", "coverage")}})
        print(params, f"ndcg={r['ndcg']:.4f} recall={r['recall']:.4f} tail={r['tail_recall']:.4f} ({time.perf_counter() - t0:.0f}s)", flush=True)
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / f"tune-{name}-{dataset}.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
