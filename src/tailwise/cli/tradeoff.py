"""``tailwise tradeoff``: the accuracy-tail frontier of models x re-rankers x tail weights."""

from __future__ import annotations

import argparse

from rich.table import Table

from tailwise.cli.common import add_data_options, console, load_data
from tailwise.cli.experiment import (
    add_experiment_options,
    add_sweep_options,
    experiment_from_args,
    run_experiment,
    sweep_exposure,
    sweep_from_args,
    table_outputs,
)  # fmt: skip

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
    add_experiment_options(p, default_models=DEFAULT_MODELS)
    add_sweep_options(p, "sweep", DEFAULT_RERANKERS, DEFAULT_WEIGHTS)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tailwise.eval.table import write_table

    sweep = sweep_from_args(args, DEFAULT_WEIGHTS)
    experiment = experiment_from_args(args, exposure=sweep_exposure(args), sweep=sweep)
    outputs = table_outputs(args)
    results = run_experiment(experiment, load_data(args))
    head = f"{results.dataset}: {results.split} split, top-{experiment.k}, {experiment.exposure.n_candidates} candidates"
    console.print(frontier_table(results.tradeoff, experiment.k, head))
    for out in outputs:
        write_table(results.tradeoff, out)
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
