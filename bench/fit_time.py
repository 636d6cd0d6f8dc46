"""Fit time of the hybrid with a warm embedding cache against EASE's, on ml-1m (random 80/20).

    python bench/fit_time.py [--repeats 3]

Encodes the item texts once into a fresh cache (timed: the cold-cache encoding cost), then fits
EASE (lambda 500) and the default hybrid `--repeats` times each, alternating, and keeps each
one's fastest fit. Also checks that a warm refit encodes nothing. The first hybrid fit of a
fresh cache also stores the catalogue's text kernel (see `tailwise.text.side`); it is
timed apart as `hybrid_first_fit_s`. Wall-clock times need a quiet machine; the CPU seconds
with one BLAS thread (`--threads 1`) hardly move when other jobs share the cores.
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
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--dataset", default="ml-1m")
    ap.add_argument("--threads", type=int, default=None, help="BLAS threads (default: all)")
    args = ap.parse_args()
    from threadpoolctl import threadpool_limits

    with threadpool_limits(args.threads):
        run(args)


def run(args: argparse.Namespace) -> None:
    from tailwise.data.splits import random_holdout
    from tailwise.models import EASE, Hybrid
    from tailwise.text.side import TextSide

    ds = load(args.dataset)
    train = random_holdout(ds, 0.2, 42).train
    with tempfile.TemporaryDirectory() as cache:
        side = TextSide("use", 128, cache)
        t0 = time.perf_counter()
        side.embed(ds.texts())
        encode_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        Hybrid(cache_dir=cache).fit(train)
        first_fit_s = time.perf_counter() - t0
        times: dict[str, list[float]] = {"ease": [], "hybrid": []}
        cpu: dict[str, list[float]] = {"ease": [], "hybrid": []}
        for _ in range(args.repeats):
            for name, make in (("ease", lambda: EASE()), ("hybrid", lambda: Hybrid(cache_dir=cache))):
                t0, c0 = time.perf_counter(), time.process_time()
                make().fit(train)
                times[name].append(time.perf_counter() - t0)
                cpu[name].append(time.process_time() - c0)
        side.embed(ds.texts())
        out = {
            "dataset": args.dataset,
            "texts": ds.n_items,
            "encode_cold_s": encode_s,
            "refit_encoded": side.last_encoded,
            "ease_fit_s": min(times["ease"]),
            "hybrid_fit_s": min(times["hybrid"]),
            "ratio": min(times["hybrid"]) / min(times["ease"]),
            "hybrid_first_fit_s": first_fit_s,
            "blas_threads": args.threads or "all",
            "ease_cpu_s": min(cpu["ease"]),
            "hybrid_cpu_s": min(cpu["hybrid"]),
            "cpu_ratio": min(cpu["hybrid"]) / min(cpu["ease"]),
            "runs": times,
            "cpu_runs": cpu,
        }
    (ROOT / "results").mkdir(exist_ok=True)
    suffix = f"-threads{args.threads}" if args.threads else ""
    (ROOT / "results" / f"fit_time-{args.dataset}{suffix}.json").write_text(json.dumps(out, indent=2))
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
