"""The hybrid's self-tuning on every shared dataset: accuracy, tail and fit time against untuned.

    python bench/selftune.py                          # ml-1m, amazon-scientific, the bundled sample
    python bench/selftune.py --datasets sample

Per dataset, per-user random 80/20 (seed 42), K = 20, head = the 20% most interacted-with
training items. Fits, in this order and in one process (so the fit times are comparable):
EASE (l2 500), the content model (text only), the hybrid with the settings given (the untuned
values: alpha 0.4, evidence 10, tail_mix 0.5, tail_share 0.5) and the self-tuned hybrid (the
default). The embedding cache is warmed first, so no fit encodes. Writes
``bench/results/selftune.json`` and prints a markdown table for ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parent / ".." / "shared" / "data"


def load(name: str):
    from tailwise.data import load_amazon, load_movielens
    from tailwise.data.bundled import load_demo

    if name == "sample":
        return load_demo()
    return (load_movielens if name == "ml-1m" else load_amazon)(DATA / name)


def main() -> None:
    from tailwise.data.splits import random_holdout
    from tailwise.eval.evaluator import EvalContext, fit_pipeline, score_pipeline
    from tailwise.models import make_model
    from tailwise.models.selftune import UNTUNED
    from tailwise.text.side import TextSide

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="ml-1m,amazon-scientific,sample")
    ap.add_argument("--output", type=Path, default=ROOT / "results" / "selftune.json")
    args = ap.parse_args()
    out: dict[str, dict] = json.loads(args.output.read_text()) if args.output.exists() else {}
    with tempfile.TemporaryDirectory() as cache:
        for name in args.datasets.split(","):
            ds = load(name)
            TextSide("use", 128, cache).embed(ds.texts())  # warm: no fit below encodes
            ctx = EvalContext.build(random_holdout(ds, 0.2, 42), 20)
            runs = {
                "ease": ("ease", {}),
                "content": ("content", {"cache_dir": cache}),
                "hybrid untuned": ("hybrid", {**UNTUNED, "cache_dir": cache}),
                "hybrid (self-tuned)": ("hybrid", {"cache_dir": cache}),
            }
            rows = {}
            for label, (model, params) in runs.items():
                t0 = time.perf_counter()
                pipe = fit_pipeline(make_model(model, **params), ctx)
                fit_s = time.perf_counter() - t0
                m = score_pipeline(pipe, ctx)[1]
                rows[label] = {"ndcg": m["ndcg"], "recall": m["recall"], "tail_recall": m["tail_recall"], "coverage": m["coverage"], "fit_s": round(fit_s, 1)}
                if model == "hybrid":
                    rows[label]["settings"] = pipe.model.fit_info().get("settings")
                print(name, label, rows[label], file=sys.stderr, flush=True)
            out[name] = rows
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(out, indent=2) + "\n")
    print("| dataset | model | NDCG@20 | tail recall@20 | coverage@20 | fit s |")
    print("|---|---|---:|---:|---:|---:|")
    for name, rows in out.items():
        for label, r in rows.items():
            print(f"| {name} | {label} | {r['ndcg']:.4f} | {r['tail_recall']:.4f} | {r['coverage']:.3f} | {r['fit_s']:.0f} |")


if __name__ == "__main__":
    main()
