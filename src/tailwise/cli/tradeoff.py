"""``tailwise tradeoff``: the accuracy-tail frontier of models x re-rankers x tail weights."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from tailwise.cli.common import (
    add_data_options,
    add_text_options,
    console,
    load_data,
    params_for,
    parse_params,
    status,
    text_params,
)  # fmt: skip
from tailwise.errors import DataError

DEFAULT_MODELS = "ease,hybrid"
DEFAULT_RERANKERS = "xquad,calibrated"
DEFAULT_WEIGHTS = "0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tradeoff",
        help="sweep re-rankers and tail weights: the accuracy/long-tail frontier as a table",
        description="Split the data and fit each model once on the train side. Each model's "
        "top-N candidates per user are re-ranked by every re-ranker at every tail weight "
        "(0 = the model's own lists, 1 = the strongest push toward the tail), and each setting's "
        "lists are measured on the test side. The table has NDCG@K next to tail recall@K and "
        "catalogue coverage@K; the columns pareto_tail and pareto_coverage mark the frontier: "
        "the settings no other setting beats on both NDCG and tail recall (or coverage).",
        epilog="example: tailwise tradeoff --movielens ml-1m --models ease,hybrid "
        "--rerank xquad,calibrated,mmr --tail-weights 0,0.25,0.5,0.75,1 --output frontier.csv",
    )
    add_data_options(p)
    g = p.add_argument_group("sweep")
    g.add_argument("--models", default=DEFAULT_MODELS, help=f"comma-separated model names (default: {DEFAULT_MODELS})")
    g.add_argument("--rerank", default=DEFAULT_RERANKERS, metavar="NAMES", help=f"comma-separated re-rankers: xquad, calibrated, mmr, stochastic (default: {DEFAULT_RERANKERS})")
    g.add_argument("--tail-weights", default=DEFAULT_WEIGHTS, metavar="W,W,...", help=f"knob values in [0, 1] (default: {DEFAULT_WEIGHTS})")
    g.add_argument("--n-candidates", type=int, default=300, metavar="N", help="candidates per user handed to the re-rankers (default: 300)")
    g.add_argument("--rerank-seed", type=int, default=0, metavar="SEED", help="seed of the stochastic re-ranker (default: 0)")
    g.add_argument("--param", action="append", metavar="[MODEL.]KEY=VALUE", help="hyperparameter, e.g. hybrid.tail_share=0 (repeatable)")
    e = p.add_argument_group("evaluation")
    e.add_argument("--split", default="random", choices=["random", "temporal", "leave-last", "cold-item"], help="how to split (default: random per user)")
    e.add_argument("--test-fraction", type=float, default=0.2, help="share held out (default 0.2)")
    e.add_argument("--seed", type=int, default=42, help="split seed (default 42)")
    e.add_argument("--k", type=int, default=20, help="list length and metric cutoff (default 20)")
    e.add_argument("--head-share", type=float, default=0.2, help="share of items that are head, by training popularity (default 0.2)")
    e.add_argument("--output", type=Path, action="append", help="write the table as .csv or .json (repeatable)")
    add_text_options(p)
    p.set_defaults(run=run)


def plan(args: argparse.Namespace) -> tuple[list[str], list[float]]:
    """The re-rankers and weights asked for, checked before any data is read."""
    from tailwise.rerank import make_reranker

    names = [n.strip().lower() for n in args.rerank.split(",") if n.strip()]
    if not names:
        raise DataError("--rerank names no re-ranker; choose from xquad, calibrated, mmr, stochastic")
    try:
        weights = [float(w) for w in args.tail_weights.split(",") if w.strip()]
    except ValueError:
        raise DataError(f"--tail-weights must be numbers separated by commas, not {args.tail_weights!r}") from None
    if not weights:
        raise DataError("--tail-weights names no value")
    for name in names:
        for w in weights:
            make_reranker(name, w)  # ValueError naming the valid choices or the range
    if args.n_candidates < 1 or args.k < 1:
        raise DataError("--n-candidates and --k must be at least 1")
    for out in args.output or []:
        if out.suffix.lower() not in (".csv", ".json"):
            raise DataError(f"--output must end in .csv or .json, not {out.suffix or 'no suffix'!r}", path=out)
    return names, weights


def run(args: argparse.Namespace) -> int:
    from tailwise.data.splits import make_split
    from tailwise.eval.evaluator import EvalContext
    from tailwise.eval.table import write_table
    from tailwise.eval.tradeoff import mark_pareto, sweep
    from tailwise.models import make_model

    names, weights = plan(args)
    params = parse_params(args.param)
    model_names = [n.strip() for n in args.models.split(",") if n.strip()]
    models = [make_model(n, **{**text_params(args, n), **params_for(n, params)}) for n in model_names]
    dataset = load_data(args)
    with status("Splitting"):
        split = make_split(dataset, args.split, args.test_fraction, args.seed)
        ctx = EvalContext.build(split, k=args.k, head_share=args.head_share)
    steps = len(models) * (1 + len(names) * len(weights))
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("Sweeping", total=steps)

        def on_step(model: str, *what: object) -> None:
            label = "fitting and ranking candidates" if what == ("fit",) else f"{what[0]} at {what[1]:g}"
            progress.update(task, description=f"{model}: {label}")
            progress.advance(task)

        rows = sweep(models, ctx, names, weights, on_step=on_step, n_candidates=args.n_candidates, seed=args.rerank_seed)
    rows = [{"dataset": dataset.name, "split": split.name, **r} for r in mark_pareto(rows)]
    console.print(frontier_table(rows, args.k, f"{dataset.name}: {split.name} split, top-{args.k}, {args.n_candidates} candidates"))
    for out in args.output or []:
        write_table(rows, out)
        console.print(f"wrote {out}")
    return 0


def frontier_table(rows: list[dict], k: int, title: str) -> Table:
    """One line per setting: NDCG, tail recall, coverage, re-ranking time; * marks the frontier."""
    table = Table(title=title, header_style="bold")
    for name in ("model", "rerank", "w", f"NDCG@{k}", f"tail recall@{k}", f"coverage@{k}", "rerank s"):
        table.add_column(name, justify="left" if name in ("model", "rerank") else "right")
    for r in rows:
        table.add_row(
            str(r["model"]), str(r["rerank"]), f"{r['tail_weight']:g}",
            f"{r['ndcg']:.4f}", f"{r['tail_recall']:.4f}{' *' if r['pareto_tail'] else '  '}",
            f"{r['coverage']:.4f}{' *' if r['pareto_coverage'] else '  '}", f"{r['rerank_s']:.3f}",
        )  # fmt: skip
    table.caption = "* = on the frontier: no other setting has both a higher NDCG and a higher tail recall (or coverage)"
    return table
