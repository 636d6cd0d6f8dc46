"""The long-tail core on ml-1m and amazon-scientific: hybrid vs EASE, cold items, encoding cost.

    python bench/longtail.py                    # both datasets, every text model
    python bench/longtail.py --datasets ml-1m --models ease,hybrid
    python bench/longtail.py --models hybrid --param backbone=factors   # the factor backbone

Runs, per dataset:
1. encoding of all item texts with the default encoder into an empty cache (cold), timed;
2. per-user random 80/20 (seed 42): each model fitted with the now warm cache (it must encode
   nothing), K = 20;
3. cold-item split (10% of items with all their interactions held out, seed 42), ranking among
   the held-out items.
Writes ``bench/results/longtail.json`` and prints markdown tables for ``docs/benchmarks.md``.
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
LOADERS = {"ml-1m": "movielens", "amazon-scientific": "amazon"}
RANDOM_MODELS = "ease,content,adapter,hybrid,twotower"
COLD_MODELS = "content,adapter,hybrid,twotower"
COLS = ("ndcg", "recall", "tail_recall", "coverage", "aplt", "cold_recall", "fit_s", "recommend_s")


def load(name: str):
    from tailwise.data import load_amazon, load_movielens

    return (load_movielens if LOADERS[name] == "movielens" else load_amazon)(DATA / name)


def main() -> None:
    from tailwise.cli.common import parse_params
    from tailwise.data.splits import cold_items, random_holdout
    from tailwise.eval.evaluator import EvalContext, evaluate_model
    from tailwise.models import MODELS, make_model
    from tailwise.text.side import TextSide

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default=",".join(LOADERS))
    ap.add_argument("--models", default=None, help="restrict both model lists to these")
    ap.add_argument("--encoder", default="use")
    ap.add_argument("--param", action="append", default=[], metavar="KEY=VALUE", help="a hybrid parameter (repeatable)")
    args = ap.parse_args()
    hybrid_params = parse_params(args.param).get("*", {})  # the CLI's own --param parsing
    only = set(args.models.split(",")) if args.models else None
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as cache:
        for name in args.datasets.split(","):
            ds = load(name)
            side = TextSide(args.encoder, 128, cache)
            t0 = time.perf_counter()
            side.embed(ds.texts())
            encode_s = time.perf_counter() - t0
            res = {"encode_s": encode_s, "texts": ds.n_items, "encoded": side.last_encoded, "random": [], "cold": []}
            print(f"{name}: encoded {side.last_encoded} texts in {encode_s:.1f}s", file=sys.stderr)
            for split_name, split, models in (
                ("random", random_holdout(ds, 0.2, 42), RANDOM_MODELS),
                ("cold", cold_items(ds, 0.1, 42), COLD_MODELS),
            ):
                ctx = EvalContext.build(split, k=20)
                for m in models.split(","):
                    if m not in MODELS or (only and m not in only):
                        continue
                    params = {"cache_dir": cache} if "cache_dir" in MODELS[m]().get_params() else {}
                    if "encoder" in params or "cache_dir" in params:
                        params["encoder"] = args.encoder
                    if m == "hybrid":
                        params.update(hybrid_params)
                    row = evaluate_model(make_model(m, **params), ctx)
                    res[split_name].append({k: row.get(k) for k in ("model", *COLS)})
                    print(f"  {split_name:6s} {m:9s} ndcg={row['ndcg']:.4f} recall={row['recall']:.4f} tail={row['tail_recall']:.4f} fit={row['fit_s']:.2f}s", file=sys.stderr)
            # a refit with the warm cache encodes nothing
            side.embed(ds.texts())
            res["refit_encoded"] = side.last_encoded
            out[name] = res
    (ROOT / "results").mkdir(exist_ok=True)
    suffix = "".join(f"-{k}={v}" for k, v in sorted(hybrid_params.items()))
    (ROOT / "results" / f"longtail{suffix}.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
