"""Re-ranking on ml-1m: the accuracy-tail frontier, and what re-ranking costs in `recommend`.

    python bench/rerank.py                          # every part (about 15 minutes on 2 cores)
    python bench/rerank.py --models ease --parts sweep
    python bench/rerank.py --parts timing --repeats 5

Parts:
1. ``sweep``: per-user random 80/20 (seed 42), K = 20; each model fitted once, its top-300
   candidates re-ranked by every re-ranker at tail weights 0, 0.1, ..., 1
   (the experiment runner's sweep, :mod:`tailwise.eval.runner`); the Pareto front of NDCG@20 vs tail recall@20 and vs
   coverage@20; the issue's target (a setting with tail recall >= 0.12 at NDCG >= 0.30, which
   dominates BPR from ``bench/results/baselines.json``); how the frontier point depends on N.
2. ``timing``: the default model (hybrid) and EASE, each fitted on the train side and saved; then
   ``tailwise recommend`` for all 6,040 users as a separate process, with and without
   ``--rerank NAME --tail-weight 0.5``, alternating, fastest of ``--repeats`` runs; and the
   same in-process through ``Pipeline.recommend`` (no loading, no CSV).

Writes ``bench/results/rerank-ml-1m.json`` and prints the markdown tables of
``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT))

from longtail import load  # bench helper: ml-1m with the text columns

RERANKERS = ("xquad", "calibrated", "mmr", "stochastic")
WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))
COLS = ("ndcg", "recall", "tail_recall", "coverage", "aplt", "gini", "rerank_s", "recommend_s")


def sweep_part(ds, models: list[str], n_values: list[int]) -> dict:
    from tailwise.eval.evaluator import evaluate_model
    from tailwise.eval.runner import Experiment, ModelSpec, SplitSpec, SweepSpec, run
    from tailwise.models import make_model
    from tailwise.rerank import Exposure

    def step(description, done, total):
        print(f"  [{done}/{total}] {description}", file=sys.stderr, flush=True)

    experiment = Experiment(
        models=tuple(ModelSpec(m) for m in models), split=SplitSpec("random", 0.2, 42), k=20,
        sweep=SweepSpec(tuple(RERANKERS), tuple(WEIGHTS)),
    )  # fmt: skip
    results = run(experiment, ds, on_step=step)
    rows, ctx = results.tradeoff, results.ctx
    bpr = next(r for r in json.loads((ROOT / "results" / "baselines.json").read_text()) if r["dataset"] == "ml-1m" and r["model"] == "bpr")
    meets = [r for r in rows if r["tail_recall"] >= 0.12 and r["ndcg"] >= 0.30]
    best = max(meets, key=lambda r: r["ndcg"]) if meets else None
    dominating = [r for r in rows if r["ndcg"] >= bpr["ndcg"] and r["tail_recall"] >= bpr["tail_recall"]]
    # the frontier point's sensitivity to the number of candidates
    by_n = []
    if best is not None:
        for n in n_values:
            row = evaluate_model(make_model(best["model"]), ctx, Exposure(best["rerank"], best["tail_weight"], n))
            by_n.append({"n_candidates": n, **{k: row[k] for k in ("ndcg", "tail_recall", "coverage", "recommend_s")}})
            print(f"  N={n}: ndcg={row['ndcg']:.4f} tail={row['tail_recall']:.4f}", file=sys.stderr)
    return {
        "split": "per-user random 80/20, seed 42",
        "k": 20,
        "users": len(ctx.users),
        "n_candidates": 300,
        "rows": rows,
        "bpr": {k: bpr[k] for k in ("ndcg", "tail_recall", "coverage")},
        "target": {
            "rule": "a setting with tail_recall@20 >= 0.12 and ndcg@20 >= 0.30",
            "met": best is not None,
            "best": best,
            "settings_meeting": len(meets),
            "settings_dominating_bpr": len(dominating),
        },
        "by_n_candidates": by_n,
    }


def _cli(args: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "tailwise.cli.main", *args], check=True, capture_output=True)
    return time.perf_counter() - t0


def timing_part(ds, model: str, repeats: int) -> dict:
    from tailwise.data.splits import random_holdout
    from tailwise.models import make_model
    from tailwise.pipeline import Pipeline
    from tailwise.rerank import Exposure

    split = random_holdout(ds, 0.2, 42)
    out: dict = {"model": model, "users": split.train.n_users, "k": 10, "tail_weight": 0.5, "repeats": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pipe = Pipeline.fit(make_model(model), split.train)
        pipe.save(tmp / "model")
        users = [str(u) for u in pipe.users.ids]
        (tmp / "users.txt").write_text("\n".join(users) + "\n")
        base = ["recommend", "--model-dir", str(tmp / "model"), "--users", str(tmp / "users.txt"), "--k", "10", "--output", str(tmp / "recs.csv")]
        variants = {"none": []} | {name: ["--rerank", name, "--tail-weight", "0.5"] for name in RERANKERS}
        cli = {name: [] for name in variants}
        for _ in range(repeats):  # alternate, so load on the machine hits every variant alike
            for name, extra in variants.items():
                cli[name].append(_cli(base + extra))
        out["cli_s"] = {name: min(times) for name, times in cli.items()}
        pipe = Pipeline.load(tmp / "model")
        pipe.recommend(users[:100], k=10)  # warm-up
        for name in RERANKERS:
            pipe.recommend(users[:100], k=10, exposure=Exposure(name, 0.5))  # builds the context once
        lib = {name: [] for name in variants}
        for _ in range(repeats):
            for name in variants:
                t0 = time.perf_counter()
                pipe.recommend(users, k=10, exposure=Exposure.parse(None if name == "none" else name, 0.5 if name != "none" else None))
                lib[name].append(time.perf_counter() - t0)
        out["pipeline_s"] = {name: min(times) for name, times in lib.items()}
    for key in ("cli_s", "pipeline_s"):
        base_s = out[key]["none"]
        out[key.replace("_s", "_added")] = {n: out[key][n] / base_s - 1 for n in RERANKERS}
    return out


def markdown(res: dict) -> str:
    lines = []
    if "sweep" in res:
        s = res["sweep"]
        lines += ["| model | re-ranker | w | NDCG@20 | tail recall@20 | coverage@20 | APLT@20 | re-rank s |", "|---|---|---:|---:|---:|---:|---:|---:|"]
        for r in s["rows"]:
            if r["tail_weight"] in (0.0, 0.3, 0.5, 0.7, 1.0) and (r["tail_weight"] > 0 or r["rerank"] == "xquad"):
                star = " *" if r["pareto_tail"] else ""
                rr = r["rerank"] if r["tail_weight"] > 0 else "(own lists)"
                lines.append(f"| {r['model']} | {rr} | {r['tail_weight']:g} | {r['ndcg']:.4f} | {r['tail_recall']:.4f}{star} | {r['coverage']:.4f} | {r['aplt']:.4f} | {r['rerank_s']:.2f} |")
        t = s["target"]
        lines.append("")
        lines.append(f"target met: {t['met']}; best: {json.dumps({k: t['best'][k] for k in ('model', 'rerank', 'tail_weight', 'ndcg', 'tail_recall')} if t['best'] else None)}")
        for r in s["by_n_candidates"]:
            lines.append(f"N={r['n_candidates']}: ndcg={r['ndcg']:.4f} tail={r['tail_recall']:.4f} recommend_s={r['recommend_s']:.2f}")
    if "timing" in res:
        lines += ["", "| model | re-ranker | `tailwise recommend` s | added | `Pipeline.recommend` s | added |", "|---|---|---:|---:|---:|---:|"]
        for model, t in res["timing"].items():
            for name in ("none", *RERANKERS):
                add_c = "" if name == "none" else f"{100 * t['cli_added'][name]:+.0f}%"
                add_p = "" if name == "none" else f"{100 * t['pipeline_added'][name]:+.0f}%"
                lines.append(f"| {model} | {name} | {t['cli_s'][name]:.2f} | {add_c} | {t['pipeline_s'][name]:.2f} | {add_p} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="ease,hybrid,als", help="models of the sweep")
    ap.add_argument("--parts", default="sweep,timing")
    ap.add_argument("--timing-models", default="hybrid,ease", help="models of the timing part")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n-values", default="50,100,300,1000", help="candidate counts tried at the target's best setting")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    ds = load("ml-1m")
    path = ROOT / "results" / "rerank-ml-1m.json"
    res = json.loads(path.read_text()) if path.exists() else {}
    res["dataset"] = "ml-1m"
    if "sweep" in parts:
        res["sweep"] = sweep_part(ds, args.models.split(","), [int(n) for n in args.n_values.split(",")])
    if "timing" in parts:
        res["timing"] = {m: timing_part(ds, m, args.repeats) for m in args.timing_models.split(",")}
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(res, indent=2))
    print(markdown(res))


if __name__ == "__main__":
    main()
