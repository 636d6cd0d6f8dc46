"""Fit time of the hybrid with a warm embedding cache against EASE's, on ml-1m (random 80/20).

    python bench/fit_time.py [--repeats 3]

Encodes the item texts once into a fresh cache (timed: the cold-cache encoding cost), then fits
EASE (lambda 500) and the default hybrid `--repeats` times each, alternating, and keeps each
one's fastest fit. Also checks that a warm refit encodes nothing. Run it on a quiet machine.
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
from longtail import load  # noqa: E402


def main() -> None:
    from tailwise.data.splits import random_holdout
    from tailwise.models import EASE, Hybrid
    from tailwise.models.textside import TextSide

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dataset", default="ml-1m")
    args = ap.parse_args()
    ds = load(args.dataset)
    train = random_holdout(ds, 0.2, 42).train
    with tempfile.TemporaryDirectory() as cache:
        side = TextSide("use", 128, cache)
        t0 = time.perf_counter()
        side.embed(ds.texts())
        encode_s = time.perf_counter() - t0
        times: dict[str, list[float]] = {"ease": [], "hybrid": []}
        for _ in range(args.repeats):
            for name, make in (("ease", lambda: EASE()), ("hybrid", lambda: Hybrid(cache_dir=cache))):
                t0 = time.perf_counter()
                make().fit(train)
                times[name].append(time.perf_counter() - t0)
        side.embed(ds.texts())
        out = {
            "dataset": args.dataset,
            "texts": ds.n_items,
            "encode_cold_s": encode_s,
            "refit_encoded": side.last_encoded,
            "ease_fit_s": min(times["ease"]),
            "hybrid_fit_s": min(times["hybrid"]),
            "ratio": min(times["hybrid"]) / min(times["ease"]),
            "runs": times,
        }
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / f"fit_time-{args.dataset}.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
