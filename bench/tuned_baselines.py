"""Honest baselines: EASE and ALS tuned with ``tailwise tune`` (30 trials), then scored on test.

    python bench/tuned_baselines.py                                  # all datasets, ease and als
    python bench/tuned_baselines.py --datasets sample --models ease --trials 5

Per dataset: the test split is the one every benchmark uses (per-user random 80/20, seed 42,
K = 20, head = the 20% most interacted-with training items). The search sees only the
training side: ``tailwise.eval.tune`` carves its validation split from it
(``random_holdout(train, 0.2, seed=42)``) and maximises validation NDCG@20 (TPE seeded 42,
median pruning for ALS). The best parameters are then refitted on the whole training side and
scored on the test split, next to the untuned defaults. Results are written to
``bench/results/tuned-baselines.json`` after every step (a rerun skips finished pairs), and a
markdown table is printed for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parent / ".." / "shared" / "data"
DATASETS = ("sample", "amazon-scientific", "ml-1m")
METRICS = ("ndcg", "recall", "tail_recall", "coverage", "fit_s")


def load(name: str):
    from tailwise.data import load_amazon, load_demo, load_movielens

    if name == "sample":
        return load_demo()
    return (load_movielens if name == "ml-1m" else load_amazon)(DATA / name)


def main() -> None:
    import optuna

    from tailwise.data.splits import random_holdout
    from tailwise.eval.evaluator import EvalContext, evaluate_model
    from tailwise.eval.tune import TuneSpec, tune, validation_context
    from tailwise.models import make_model
    from tailwise.models.spaces import space_for

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--models", default="ease,als")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--out", type=Path, default=ROOT / "results" / "tuned-baselines.json")
    ap.add_argument("--study-dir", type=Path, help="keep each search in DIR/DATASET-MODEL.db, so an interrupted run resumes it")
    args = ap.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    results = json.loads(args.out.read_text()) if args.out.exists() else {"protocol": PROTOCOL, "rows": []}
    done = {(r["dataset"], r["model"]) for r in results["rows"]}
    for name in args.datasets.split(","):
        ds = load(name)
        split = random_holdout(ds, 0.2, 42)
        test = EvalContext.build(split, k=20)
        val = validation_context(split.train, k=20)
        for model in args.models.split(","):
            if (name, model) in done:
                print(f"{name} {model}: already in {args.out.name}, skipped", file=sys.stderr)
                continue
            row: dict = {"dataset": name, "model": model, "trials": args.trials, "test_users": len(test.users), "validation_users": len(val.users)}
            default = evaluate_model(make_model(model), test)
            row["default"] = {m: default[m] for m in METRICS}
            row["default_validation"] = {m: evaluate_model(make_model(model), val)[m] for m in METRICS}
            t0 = time.perf_counter()

            def progress(s: dict, model: str = model) -> None:
                b = s["best"]
                print(f"  {name} {model} trial {s['n_trials']}/{args.trials}: best val ndcg {b['ndcg'] if b else float('nan'):.4f} ({s['n_pruned']} pruned, {time.perf_counter() - t0:.0f}s)", file=sys.stderr, flush=True)

            study = None if args.study_dir is None else args.study_dir / f"{name}-{model}.db"
            spec = TuneSpec(model, space_for(model), seed=42)
            have = 0
            if study is not None and study.exists():
                from tailwise.eval.tune_results import load_summary

                have = load_summary(study)["n_trials"]
            summary = tune(spec, split.train, args.trials - have, study, on_trial=progress, ctx=val) if have < args.trials else load_summary(study)
            row["tune_s"] = time.perf_counter() - t0
            row["n_pruned"], row["n_failed"] = summary["n_pruned"], summary["n_failed"]
            row["params"] = summary["params"]
            row["tuned_validation"] = {m: summary["best"][m] for m in METRICS}
            tuned = evaluate_model(make_model(model, **summary["params"]), test)
            row["tuned"] = {m: tuned[m] for m in METRICS}
            row["trial_log"] = [{k: t.get(k) for k in ("trial", "state", "params", "ndcg", "tail_recall")} for t in summary["trials"]]
            results["rows"].append(row)
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(json.dumps(results, indent=2))  # after every pair: partial results survive
            print(f"{name} {model}: default ndcg {row['default']['ndcg']:.4f} -> tuned {row['tuned']['ndcg']:.4f} ({row['tune_s']:.0f}s)", file=sys.stderr, flush=True)
    print(markdown(results["rows"]))


PROTOCOL = (
    "test: per-user random 80/20 (seed 42), K=20, head = 20% most interacted-with training items; "
    "tune: validation = random_holdout(train, 0.2, seed 42), objective validation NDCG@20, TPE seed 42, "
    "median pruning (ALS), search spaces of tailwise.models.spaces"
)


def markdown(rows: list[dict]) -> str:
    lines = [
        "| dataset | model | params | NDCG@20 | recall@20 | tail recall@20 | coverage@20 |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        for which in ("default", "tuned"):
            f = r[which]
            params = "defaults" if which == "default" else ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in r["params"].items())
            lines.append(f"| {r['dataset']} | {r['model']} | {params} | {f['ndcg']:.4f} | {f['recall']:.4f} | {f['tail_recall']:.4f} | {f['coverage']:.4f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
