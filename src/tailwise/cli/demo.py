"""``tailwise demo``: evaluate the models on the bundled ml-latest-small, print the table and
write it with the HTML report."""

from __future__ import annotations

import argparse
import importlib.util
from pathlib import Path

from tailwise.cli.common import console
from tailwise.cli.experiment import (
    DEFAULT_MODELS,
    add_experiment_options,
    experiment_from_args,
    run_experiment,
)

#: the report's trade-off frontier (a :class:`~tailwise.eval.runner.SweepSpec`): these models
#: (when evaluated) x re-rankers x tail weights; the sweep reuses each model's fit, so it adds
#: only a candidate pass per re-ranker and cheap re-ranks (three weights instead of five saved no
#: measurable time: bench/demo_cost.py, docs/benchmarks.md)
FRONTIER = {"rerankers": ("xquad", "calibrated"), "weights": (0.0, 0.25, 0.5, 0.75, 1.0), "models": ("ease", "hybrid")}


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo",
        help="evaluate the models on the bundled MovieLens sample",
        description="Load the bundled ml-latest-small (GroupLens licence), split it per user "
        "80/20, fit every model (CF baselines and the language-model hybrid, with the packaged "
        "Universal Sentence Encoder), print accuracy and long-tail metrics side by side, and "
        "write the table and a self-contained HTML report with plots to --out-dir.",
    )
    add_experiment_options(p)
    p.add_argument("--out-dir", type=Path, default=Path("tailwise-demo"), help="where results.csv/json and report.html go (default: ./tailwise-demo)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tailwise.cli.report import command_line, write_reports
    from tailwise.data import load_demo
    from tailwise.eval.report import ReportData
    from tailwise.eval.runner import SweepSpec
    from tailwise.eval.table import print_summary, print_table, write_table

    if args.models == DEFAULT_MODELS and importlib.util.find_spec("implicit") is None:
        args.models = ",".join(m for m in DEFAULT_MODELS.split(",") if m not in ("als", "bpr"))
        console.print('[yellow]implicit is not installed: skipping als and bpr (pip install "tailwise[implicit]")[/]')
    one_split = args.split != "kfold"  # a report (and its frontier) shows one split
    experiment = experiment_from_args(args, sweep=SweepSpec(**FRONTIER) if one_split else None)
    dataset = load_demo()
    console.print(f"dataset: bundled {dataset.name}: {dataset.n_users:,} users, {dataset.n_items:,} items, {dataset.n_interactions:,} ratings")
    results = run_experiment(experiment, dataset)
    print_table(results.rows, experiment.k, f"tailwise demo: {dataset.name}, {results.split} split, top-{experiment.k}")
    print_summary(results.rows, experiment.k, results.tradeoff, console)
    outputs = args.output or [args.out_dir / "results.csv", args.out_dir / "results.json"]
    for out in outputs:
        write_table(results.rows, out)
    console.print(f"results written to {', '.join(map(str, outputs))}")
    if one_split:
        write_reports(ReportData.from_results(results, command_line(args, experiment, "demo")), [args.out_dir / "report.html"])
    else:
        console.print("no report for --split kfold: a report shows one split")
    return 0
