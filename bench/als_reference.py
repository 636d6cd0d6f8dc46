"""tailwise's ALS against the `implicit` library used directly, on ml-1m (random 80/20, seed 42).

Both use the same hyperparameters (tailwise's defaults) and three initialisation seeds; the
implicit side recommends with its own ``recommend(..., filter_already_liked_items=True)``. The
metric functions are shared. Writes ``bench/results/als_reference.json``.

    python bench/als_reference.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parent / ".." / "shared" / "data" / "ml-1m"
SEEDS = (1, 2, 3)
K = 20


def main() -> None:
    from implicit.als import AlternatingLeastSquares

    from tailwise import metrics as M
    from tailwise.data import load_movielens
    from tailwise.data.splits import random_holdout
    from tailwise.models import ALS

    split = random_holdout(load_movielens(DATA), 0.2, 42)
    train, test = split.train.matrix(), split.test.matrix()
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    truth = test[users]
    defaults = ALS().get_params()

    def score(top: np.ndarray) -> dict[str, float]:
        return {"ndcg": float(np.nanmean(M.ndcg(top, truth, K))), "recall": float(np.nanmean(M.recall(top, truth, K)))}

    result: dict[str, list] = {"implicit": [], "tailwise": []}
    for seed in SEEDS:
        params = {**defaults, "random_state": seed}
        with threadpool_limits(1, "blas"):
            ref = AlternatingLeastSquares(**params)
            ref.fit(train, show_progress=False)
        ids, _ = ref.recommend(users, train[users], N=K, filter_already_liked_items=True)
        result["implicit"].append(score(np.asarray(ids)))
        ours = ALS(**params).fit(split.train)
        result["tailwise"].append(score(ours.recommend(users, train[users], k=K).items))
        print(seed, result["implicit"][-1], result["tailwise"][-1])
    summary = {
        side: {m: [min(r[m] for r in rows), max(r[m] for r in rows)] for m in ("ndcg", "recall")}
        for side, rows in result.items()
    }
    out = {"params": defaults, "seeds": SEEDS, "runs": result, "range": summary}
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "als_reference.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
