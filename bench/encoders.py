"""Which text encoder should be the default? Speed and cold-item quality on the shared datasets.

For each encoder and dataset: encode every item text (budget 128 words) into an empty cache,
timed, then fit the adapter on a cold-item split (10% of items held out with all their
interactions, seed 42) and measure recall@20 and NDCG@20 among the held-out items, with the
adapter's text views restricted to the embedding (``tfidf=False, year=False``) so that only the
encoder differs.

    python bench/encoders.py [--encoders use,minilm,onnx-minilm,tfidf] [--datasets ml-1m,amazon-scientific]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))
from longtail import LOADERS, load  # noqa: E402


def main() -> None:
    from tailwise.data.splits import cold_items
    from tailwise.eval.evaluator import EvalContext, evaluate_model
    from tailwise.models import Adapter
    from tailwise.text.side import TextSide

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoders", default="use,minilm,onnx-minilm,tfidf")
    ap.add_argument("--datasets", default=",".join(LOADERS))
    args = ap.parse_args()
    rows = []
    for name in args.datasets.split(","):
        ds = load(name)
        ctx = EvalContext.build(cold_items(ds, 0.1, 42), k=20)
        for enc in args.encoders.split(","):
            with tempfile.TemporaryDirectory() as cache:
                t0 = time.perf_counter()
                TextSide(enc, 128, cache).embed(ds.texts())
                encode_s = time.perf_counter() - t0
                r = evaluate_model(Adapter(encoder=enc, cache_dir=cache, tfidf=False, year=False), ctx)
            rows.append({"dataset": name, "encoder": enc, "encode_s": encode_s, "texts_per_s": ds.n_items / encode_s,
                         "cold_recall": r["recall"], "cold_ndcg": r["ndcg"]})  # fmt: skip
            print(json.dumps(rows[-1]), file=sys.stderr, flush=True)
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "encoders.json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
