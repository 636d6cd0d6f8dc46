"""EASE through the CLI against a plain reference EASE (lambda=500) on ml-1m, same split.

The reference is the textbook closed form in float64 with ``np.linalg.inv`` (Steck 2019,
listing 1). The CLI side runs ``tailwise fit --model ease`` and ``tailwise recommend`` as a
user would, on a train CSV written from the same per-user random 80/20 split (seed 42). Both
lists are scored by the same metric functions. Fit times: the reference's inverse and weights
vs the ``fit_seconds`` the CLI records in its manifest (both exclude data loading); each side fits `--repeats` times and the fastest counts.

    python bench/ease_reference.py [--k 20] [--l2 500]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parent / ".." / "shared" / "data" / "ml-1m"


def reference_ease(x_full, l2: float, k: int) -> tuple[np.ndarray, float]:
    """Textbook EASE: B = I - P diagMat(1 / diag(P)), P = (X^T X + l2 I)^-1, float64.

    Like any plain implementation built from the interaction log, its item set is the items
    that occur in training.
    """
    active = np.flatnonzero(np.diff(x_full.tocsc().indptr) > 0)
    x = x_full[:, active]
    t0 = time.perf_counter()
    g = (x.T @ x).toarray().astype(np.float64)
    g[np.diag_indices_from(g)] += l2
    p = np.linalg.inv(g)
    b = p / (-np.diag(p))
    b[np.diag_indices_from(b)] = 0.0
    fit_s = time.perf_counter() - t0
    scores = np.asarray(x @ b)
    scores[x.nonzero()] = -np.inf
    top = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return active[top], fit_s


def main() -> None:
    from tailwise import metrics as M
    from tailwise.data import load_movielens
    from tailwise.data.splits import random_holdout

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, default=20)
    ap.add_argument("--l2", type=float, default=500.0)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--repeats", type=int, default=3, help="fits per side; the fastest counts")
    args = ap.parse_args()

    ds = load_movielens(DATA)
    split = random_holdout(ds, 0.2, args.seed)
    train, test = split.train.matrix(), split.test.matrix()
    users = np.flatnonzero(np.diff(test.indptr) > 0)
    ref_runs = [reference_ease(train, args.l2, args.k) for _ in range(args.repeats)]
    ref_top, ref_fit = ref_runs[0][0], min(r[1] for r in ref_runs)

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        with open(tmp / "train.csv", "w", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(["user_id", "item_id"])
            tr = split.train
            w.writerows(zip(tr.users.ids[tr.user_idx], tr.items.ids[tr.item_idx]))
        (tmp / "users.txt").write_text("\n".join(ds.users.ids[users]) + "\n")
        cli = [sys.executable, "-m", "tailwise.cli.main"]
        cli_fits = []
        for _ in range(args.repeats):
            subprocess.run([*cli, "fit", "--interactions", str(tmp / "train.csv"), "--model-dir", str(tmp / "m"), "--model", "ease", "--param", f"l2={args.l2}"], check=True)
            cli_fits.append(json.loads((tmp / "m" / "manifest.json").read_text())["fit_seconds"])
        subprocess.run([*cli, "recommend", "--model-dir", str(tmp / "m"), "--users", str(tmp / "users.txt"), "--k", str(args.k), "--output", str(tmp / "recs.csv")], check=True)
        cli_fit = min(cli_fits)
        cli_top = np.full((len(users), args.k), -1, dtype=np.int64)
        row_of = {u: r for r, u in enumerate(ds.users.ids[users].tolist())}
        with open(tmp / "recs.csv") as fh:
            for rec in csv.DictReader(fh):
                cli_top[row_of[rec["user_id"]], int(rec["rank"]) - 1] = ds.items.index(rec["item_id"])

    truth = test[users]
    result = {}
    for label, top in (("reference", ref_top[users]), ("cli", cli_top)):
        result[label] = {
            "recall": float(np.nanmean(M.recall(top, truth, args.k))),
            "ndcg": float(np.nanmean(M.ndcg(top, truth, args.k))),
        }
    result["reference"]["fit_s"] = ref_fit
    result["cli"]["fit_s"] = cli_fit
    for m in ("recall", "ndcg"):
        result[f"{m}_ratio"] = result["cli"][m] / result["reference"][m]
    result["fit_ratio"] = cli_fit / ref_fit
    out = ROOT / "results" / "ease_reference.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
