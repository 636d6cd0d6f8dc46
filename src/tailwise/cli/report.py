"""``tailwise report``: evaluate models on one split and write a self-contained HTML report."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from pathlib import Path
from typing import TYPE_CHECKING

from tailwise.cli.common import add_data_options, console, load_data
from tailwise.cli.experiment import (
    TABLE_SUFFIXES,
    add_experiment_options,
    add_sweep_options,
    experiment_from_args,
    progress_bar,
    run_experiment,
    sweep_exposure,
    sweep_from_args,
    title,
)  # fmt: skip
from tailwise.errors import DataError

if TYPE_CHECKING:
    from tailwise.eval.report import ReportData
    from tailwise.eval.runner import Experiment

REPORT_SUFFIXES = (".html", ".htm")
DEFAULT_WEIGHTS = "0,0.25,0.5,0.75,1"


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report",
        help="evaluate models on a split and write a self-contained HTML report with plots",
        description="Split the data, fit each model on the train side and write one HTML file "
        "(opens offline, figures embedded): the metrics table, the catalogue's long-tail curve, "
        "where each model's recommendations fall on it, Lorenz curves and Gini of exposure, "
        "recall by popularity bucket, cold-item results when the split has them, and, with "
        "--rerank, the accuracy/long-tail trade-off frontier. --output FILE.html names the "
        "report (default report.html); an --output ending in .csv or .json also writes the table.",
    )
    add_data_options(p)
    add_experiment_options(p)
    add_sweep_options(p, f"trade-off frontier (as tailwise tradeoff; each model is fitted once; weights default {DEFAULT_WEIGHTS})", None, None)
    p.add_argument("--tune", type=Path, metavar="STUDY_OR_JSON", help="add a section on a `tailwise tune` search: its --study FILE.db or its --output JSON")
    p.set_defaults(run=run)


def check_one_split(args: argparse.Namespace) -> None:
    """A report shows one split: refuse --split kfold (before any data is read)."""
    if args.split == "kfold":
        raise DataError("a report shows one split; --split kfold is not supported here (use random, temporal, leave-last or cold-item)")


def report_outputs(args: argparse.Namespace) -> tuple[list[Path], list[Path]]:
    """(reports, tables) from the --output values; checked before any model is fitted."""
    outputs = args.output or [Path("report.html")]
    reports = [p for p in outputs if p.suffix.lower() in REPORT_SUFFIXES]
    tables = [p for p in outputs if p.suffix.lower() in TABLE_SUFFIXES]
    for p in outputs:
        if p not in reports and p not in tables:
            raise DataError(f"--output must end in .html (the report) or .csv/.json (the table), not {p.suffix or 'no suffix'!r}", path=p)
    if not reports:
        raise DataError("no --output ends in .html: name the report file, e.g. --output report.html")
    return reports, tables


def command_line(args: argparse.Namespace, experiment: Experiment, command: str = "report") -> str:
    """The data options and the experiment that shaped this report, as a command line to rerun it."""
    parts = ["tailwise", command]
    for flag in ("interactions", "movielens", "amazon", "items"):
        if getattr(args, flag, None):
            parts += [f"--{flag}", str(getattr(args, flag))]
    if getattr(args, "demo_data", False):
        parts.append("--demo-data")
    split = experiment.split
    parts += ["--models", args.models, "--split", split.kind, "--k", str(experiment.k), "--seed", str(split.seed)]
    if split.kind != "leave-last":
        parts += ["--test-fraction", f"{split.test_fraction:g}"]
    for pair in args.param or []:
        parts += ["--param", pair]
    if getattr(args, "tune", None) is not None:
        parts += ["--tune", str(args.tune)]
    if experiment.head_share != 0.2:
        parts += ["--head-share", f"{experiment.head_share:g}"]
    sweep = experiment.sweep
    if sweep is not None and sweep.models is None:  # a sweep the command's own options gave
        parts += ["--rerank", ",".join(sweep.rerankers), "--tail-weights", ",".join(f"{w:g}" for w in sweep.weights)]
        if experiment.exposure.n_candidates != 300:
            parts += ["--n-candidates", str(experiment.exposure.n_candidates)]
    return shlex.join(parts)


def write_reports(data: ReportData, reports: list[Path]) -> None:
    """Draw the figures (with progress) and write every report file atomically."""
    from tailwise.artifacts import atomic_write_text
    from tailwise.eval.report import render
    from tailwise.eval.report.sections import SECTION_STEPS

    with progress_bar() as progress:
        task = progress.add_task("Drawing figures", total=len(SECTION_STEPS))

        def on_step(label: str) -> None:
            progress.update(task, description=f"Drawing the {label}", completed=SECTION_STEPS.index(label))

        page = render(data, on_step=on_step)
    for path in reports:
        atomic_write_text(path, page)
        console.print(f"report written to {path}  (open {path.resolve().as_uri()})", soft_wrap=True)


def run(args: argparse.Namespace) -> int:
    from tailwise.eval.report import ReportData
    from tailwise.eval.table import print_summary, print_table, write_table

    check_one_split(args)
    reports, tables = report_outputs(args)
    tune = None
    if getattr(args, "tune", None) is not None:  # read before any model is fitted
        from tailwise.eval.tune_results import load_summary

        tune = load_summary(args.tune)
    experiment = experiment_from_args(args, exposure=sweep_exposure(args), sweep=sweep_from_args(args, DEFAULT_WEIGHTS))
    results = run_experiment(experiment, load_data(args))
    print_table(results.rows, experiment.k, title(results))
    print_summary(results.rows, experiment.k, results.tradeoff, console)
    data = ReportData.from_results(results, command_line(args, experiment))
    write_reports(dataclasses.replace(data, tune=tune) if tune else data, reports)
    for path in tables:
        write_table(results.rows, path)
        console.print(f"wrote {path}")
    return 0
