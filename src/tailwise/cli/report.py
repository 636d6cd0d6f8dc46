"""``tailwise report``: evaluate models on one split and write a self-contained HTML report."""

from __future__ import annotations

import argparse
import dataclasses
import shlex
from collections.abc import Collection, Sequence
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from tailwise.cli.common import (
    add_data_options,
    console,
    load_data,
    params_for,
    parse_params,
    status,
    text_params,
)  # fmt: skip
from tailwise.cli.evaluate import add_eval_options
from tailwise.errors import DataError

REPORT_SUFFIXES = (".html", ".htm")
TABLE_SUFFIXES = (".csv", ".json")
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
    add_eval_options(p)
    add_report_options(p)
    p.set_defaults(run=run)


def add_report_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("trade-off frontier (as tailwise tradeoff; each model is fitted once)")
    g.add_argument("--rerank", metavar="NAMES", help="comma-separated re-rankers swept for the frontier: xquad, calibrated, mmr, stochastic (default: no frontier)")
    g.add_argument("--tail-weights", metavar="W,W,...", help=f"tail weights in [0, 1] swept per re-ranker (default {DEFAULT_WEIGHTS})")
    g.add_argument("--n-candidates", type=int, default=300, metavar="N", help="candidates per user handed to the re-rankers (default: 300)")


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


def sweep_plan(args: argparse.Namespace) -> tuple[list[str], list[float]]:
    """The re-rankers and tail weights of the frontier, checked as ``tailwise tradeoff`` checks
    them (empty when --rerank is not given)."""
    if not args.rerank:
        if args.tail_weights is not None:
            raise DataError("--tail-weights needs --rerank NAMES (xquad, calibrated, mmr, stochastic)")
        return [], []
    from tailwise.cli.tradeoff import plan

    weights = args.tail_weights or DEFAULT_WEIGHTS
    sweep_args = {"rerank": args.rerank, "tail_weights": weights, "output": None}
    return plan(argparse.Namespace(**sweep_args, n_candidates=args.n_candidates, k=args.k))


def command_line(args: argparse.Namespace, command: str = "report") -> str:
    """The options that shaped this report, as a command line to rerun it."""
    parts = ["tailwise", command]
    for flag in ("interactions", "movielens", "amazon", "items"):
        if getattr(args, flag, None):
            parts += [f"--{flag}", str(getattr(args, flag))]
    if getattr(args, "demo_data", False):
        parts.append("--demo-data")
    parts += ["--models", args.models, "--split", args.split, "--k", str(args.k), "--seed", str(args.seed)]
    if args.split != "leave-last":
        parts += ["--test-fraction", f"{args.test_fraction:g}"]
    for pair in args.param or []:
        parts += ["--param", pair]
    if args.head_share != 0.2:
        parts += ["--head-share", f"{args.head_share:g}"]
    if getattr(args, "rerank", None):
        parts += ["--rerank", args.rerank, "--tail-weights", args.tail_weights or DEFAULT_WEIGHTS]
        if args.n_candidates != 300:
            parts += ["--n-candidates", str(args.n_candidates)]
    return shlex.join(parts)


def evaluate_for_report(
    dataset,
    args: argparse.Namespace,
    command: str = "report",
    rerankers: Sequence[str] = (),
    weights: Sequence[float] = (),
    swept: Collection[str] | None = None,
    n_candidates: int = 300,
):
    """Split, fit and score every model (keeping its lists) and sweep the frontier; show progress.

    The models named in `swept` (default: all) go through :func:`tailwise.eval.tradeoff.sweep`
    with `rerankers` x `weights` first; the sweep fits them, so their own lists are then scored
    without a second fit. Returns the :class:`~tailwise.eval.report.ReportData`.
    """
    from tailwise.data.splits import make_split
    from tailwise.eval.evaluator import EvalContext
    from tailwise.eval.report import ReportData, run_model
    from tailwise.models import make_model

    check_one_split(args)
    params = parse_params(args.param)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    models = [make_model(n, **{**text_params(args, n), **params_for(n, params)}) for n in names]
    to_sweep = [m for m in models if rerankers and (swept is None or m.name in swept)]
    with status("Splitting"):
        split = make_split(dataset, args.split, args.test_fraction, args.seed)
        ctx = EvalContext.build(split, k=args.k, head_share=args.head_share)
    tradeoff, runs = None, []
    with _progress() as progress:
        task = progress.add_task("Evaluating", total=len(models) + len(to_sweep) * (1 + len(rerankers) * len(weights)))
        if to_sweep:
            from tailwise.eval.tradeoff import sweep

            def on_step(model: str, *what: object) -> None:
                doing = "fitting, ranking candidates" if what == ("fit",) else f"re-ranking with {what[0]} at tail weight {what[1]:g}"
                progress.update(task, description=f"Trade-off sweep: {model}, {doing}")
                progress.advance(task)

            tradeoff = sweep(to_sweep, ctx, rerankers, weights, on_step=on_step, n_candidates=n_candidates)
        fit_s = {row["model"]: row["fit_s"] for row in tradeoff or []}
        for n, model in enumerate(models, start=1):
            fitted = any(model is m for m in to_sweep)
            progress.update(task, description=f"{'Scoring' if fitted else 'Fitting and scoring'} {model.name} ({n}/{len(models)})")
            run = run_model(model, ctx, fit=not fitted)
            runs.append(dataclasses.replace(run, row={**run.row, "fit_s": fit_s[model.name]}) if fitted else run)
            progress.advance(task)
    return ReportData(ctx, runs, dataset=dataset.name, tradeoff=tradeoff, command=command_line(args, command))


def _progress() -> Progress:
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True)


def write_outputs(data, reports: list[Path], tables: list[Path]) -> None:
    """Draw the figures (with progress) and write every report and table file atomically."""
    from tailwise.artifacts import atomic_write_text
    from tailwise.eval.report import render
    from tailwise.eval.report.sections import SECTION_STEPS
    from tailwise.eval.table import write_table

    with _progress() as progress:
        task = progress.add_task("Drawing figures", total=len(SECTION_STEPS))

        def on_step(label: str) -> None:
            progress.update(task, description=f"Drawing the {label}", completed=SECTION_STEPS.index(label))

        page = render(data, on_step=on_step)
    for path in reports:
        atomic_write_text(path, page)
        console.print(f"report written to {path}  (open {path.resolve().as_uri()})", soft_wrap=True)
    rows = table_rows(data)
    for path in tables:
        write_table(rows, path)
        console.print(f"wrote {path}")


def table_rows(data) -> list[dict]:
    """The metric rows with the dataset and split columns, as ``tailwise evaluate`` writes them."""
    return [{"dataset": data.dataset, "split": data.ctx.split.name, **row} for row in data.rows]


def run(args: argparse.Namespace) -> int:
    from tailwise.eval.table import print_table

    check_one_split(args)
    reports, tables = report_outputs(args)
    rerankers, weights = sweep_plan(args)
    dataset = load_data(args)
    data = evaluate_for_report(dataset, args, rerankers=rerankers, weights=weights, n_candidates=args.n_candidates)
    print_table(data.rows, args.k, f"{dataset.name}: {data.ctx.split.name} split, {args.k} items per list")
    write_outputs(data, reports, tables)
    return 0
