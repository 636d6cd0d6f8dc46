"""``tailwise evaluate``: fit several models on one split and print one table."""

from __future__ import annotations

import argparse

from tailwise.cli.common import add_data_options, console, load_data
from tailwise.cli.experiment import (
    add_experiment_options,
    experiment_from_args,
    run_experiment,
    table_outputs,
    title,
)  # fmt: skip
from tailwise.cli.recommend import add_rerank_options, exposure_from_args


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="compare models on a split: accuracy and long-tail metrics side by side",
        description="Split the data, fit each model on the train side, and measure its top-k lists "
        "on the test side: recall, precision, NDCG, hit rate, MRR next to tail and head recall, "
        "coverage, tail coverage, APLT, ARP, Gini, novelty, diversity and cold-item recall.",
    )
    add_data_options(p)
    add_experiment_options(p)
    add_rerank_options(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tailwise.eval.table import print_summary, print_table, write_table

    experiment = experiment_from_args(args, exposure=exposure_from_args(args))
    outputs = table_outputs(args)
    results = run_experiment(experiment, load_data(args))
    print_table(results.rows, experiment.k, title(results))
    print_summary(results.rows, experiment.k, results.tradeoff, console)
    for out in outputs:
        write_table(results.rows, out)
        console.print(f"wrote {out}")
    return 0
