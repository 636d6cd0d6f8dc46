"""The hybrid's self-tuning on every shared dataset: accuracy, tail and fit time against untuned.

    python bench/selftune.py                          # ml-1m, amazon-scientific, the bundled sample
    python bench/selftune.py --datasets sample
    python bench/selftune.py --datasets ml-1m --frontier tailslots,xquad   # + the accuracy-tail frontiers

Per dataset, per-user random 80/20 (seed 42), K = 20, head = the 20% most interacted-with
training items. Fits, in this order and in one process (so the fit times are comparable):
EASE (l2 500), the content model (text only), the hybrid with the settings given (the untuned
values: alpha 0.4, evidence 10, tail_mix 0.5, tail_share 0.5) and the self-tuned hybrid (the
default). The embedding cache is warmed first, so no fit encodes. Writes
``bench/results/selftune.json`` and prints a markdown table for ``docs/benchmarks.md``.

With ``--frontier``, each named re-ranker is swept over tail weights on EASE (l2 500), on EASE
with the hybrid's own penalty (``l2_item``) and on the self-tuned hybrid, and both frontiers' tail recall@20 is interpolated at NDCG@20 0.40 and 0.41
(the ml-1m comparison of issue #9): ``bench/results/selftune-frontier.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def main() -> None:
    from tuned_baselines import load  # the same datasets, loaded the same way

    from tailwise.data.splits import random_holdout
    from tailwise.eval.evaluator import EvalContext, fit_pipeline, score_pipeline
    from tailwise.models import make_model
    from tailwise.models.selftune import UNTUNED
    from tailwise.text.side import TextSide

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", default="ml-1m,amazon-scientific,sample")
    ap.add_argument("--output", type=Path, default=ROOT / "results" / "selftune.json")
    ap.add_argument("--frontier", default="", help="re-rankers to sweep on EASE and the self-tuned hybrid")
    ap.add_argument("--repeats", type=int, default=1, help="fit each hybrid this many times, alternating, and keep the fastest")
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
            rows, pipes, times = {}, {}, {}
            for _ in range(args.repeats - 1):  # extra rounds, alternating the two hybrids
                for label in ("hybrid untuned", "hybrid (self-tuned)"):
                    t0 = time.perf_counter()
                    fit_pipeline(make_model(runs[label][0], **runs[label][1]), ctx)
                    times.setdefault(label, []).append(time.perf_counter() - t0)
            for label, (model, params) in runs.items():
                t0 = time.perf_counter()
                pipe = fit_pipeline(make_model(model, **params), ctx)
                fit_s = min([time.perf_counter() - t0, *times.get(label, [])])
                m = score_pipeline(pipe, ctx)[1]
                pipes[label] = pipe
                rows[label] = {"ndcg": m["ndcg"], "recall": m["recall"], "tail_recall": m["tail_recall"], "coverage": m["coverage"], "fit_s": round(fit_s, 1)}
                if model == "hybrid":
                    rows[label]["settings"] = pipe.model.fit_info().get("settings")
                print(name, label, rows[label], file=sys.stderr, flush=True)
            out[name] = rows
            args.output.parent.mkdir(parents=True, exist_ok=True)
            args.output.write_text(json.dumps(out, indent=2) + "\n")
            if args.frontier:
                from tailwise.models.hybrid import EASE_L2, EASE_L2_ITEM

                same = fit_pipeline(make_model("ease", l2=EASE_L2, l2_item=EASE_L2_ITEM), ctx)  # the hybrid's own backbone
                curves = {"ease": pipes["ease"], "ease (hybrid's penalty)": same, "hybrid (self-tuned)": pipes["hybrid (self-tuned)"]}
                frontier(name, ctx, curves, args.frontier.split(","))
    print("| dataset | model | NDCG@20 | tail recall@20 | coverage@20 | fit s |")
    print("|---|---|---:|---:|---:|---:|")
    for name, rows in out.items():
        for label, r in rows.items():
            print(f"| {name} | {label} | {r['ndcg']:.4f} | {r['tail_recall']:.4f} | {r['coverage']:.3f} | {r['fit_s']:.0f} |")


WEIGHTS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1.0)


def at_ndcg(points: list[tuple[float, float]], ndcg: float) -> float | None:
    """Tail recall interpolated linearly at `ndcg` on a frontier of (ndcg, tail recall) points."""
    pts = sorted(points)
    for (n1, t1), (n2, t2) in itertools.pairwise(pts):
        if n1 <= ndcg <= n2:
            return t1 + (t2 - t1) * (ndcg - n1) / (n2 - n1) if n2 > n1 else max(t1, t2)
    return None


def frontier(name: str, ctx, pipes: dict, rerankers: list[str]) -> None:
    from tailwise.eval.evaluator import score_pipeline
    from tailwise.rerank import Exposure

    path = ROOT / "results" / "selftune-frontier.json"
    out = json.loads(path.read_text()) if path.exists() else {}
    for rerank in rerankers:
        curves = {}
        for label, pipe in pipes.items():
            m = score_pipeline(pipe, ctx, Exposure(rerank="none"))[1]  # the model's default list
            points = [(m["ndcg"], m["tail_recall"])]
            for weight in WEIGHTS:
                m = score_pipeline(pipe, ctx, Exposure(rerank=rerank, tail_weight=weight))[1]
                points.append((m["ndcg"], m["tail_recall"]))
                print(name, rerank, label, weight, points[-1], file=sys.stderr, flush=True)
            curves[label] = sorted(set(points))
        at = {f"{x:.2f}": {label: at_ndcg(c, x) for label, c in curves.items()} for x in (0.40, 0.41)}
        out[f"{name}/{rerank}"] = {"curves": curves, "at": at}
        for x, vals in at.items():
            h = vals["hybrid (self-tuned)"]
            for base in [k for k in vals if k != "hybrid (self-tuned)"]:
                e = vals[base]
                ratio = f"{h / e:.2f}x" if e and h else "n/a"
                print(f"| {name} | {rerank} | {x} | {base} | {e if e is None else round(e, 4)} | {h if h is None else round(h, 4)} | {ratio} |")
    path.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
