"""What ``evaluate``, ``tradeoff``, ``report`` and ``demo`` share: their options, turned into one
:class:`~tailwise.eval.runner.Experiment`, and the runner behind a progress bar.

Each of those commands is: parse the options, :func:`experiment_from_args` (plus its own
exposure or sweep), :func:`run_experiment`, print and write.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from tailwise.cli.common import (
    add_memory_option,
    add_text_options,
    console,
    params_for,
    parse_params,
    text_params,
)
from tailwise.errors import DataError

if TYPE_CHECKING:
    from tailwise.data.dataset import Dataset
    from tailwise.eval.runner import Experiment, Results, SweepSpec
    from tailwise.rerank import Exposure

DEFAULT_MODELS = "popular,itemknn,ease,als,bpr,content,adapter,hybrid"
TABLE_SUFFIXES = (".csv", ".json")


def add_experiment_options(p: argparse.ArgumentParser, default_models: str = DEFAULT_MODELS) -> None:
    """Models, parameters, split, cutoff, head share, outputs, the memory budget and the text
    encoder."""
    g = p.add_argument_group("evaluation")
    g.add_argument("--models", default=default_models, help=f"comma-separated model names (default: {default_models})")
    g.add_argument("--param", action="append", metavar="[MODEL.]KEY=VALUE", help="hyperparameter, e.g. ease.l2=300 or hybrid.tail_share=0 (repeatable)")
    g.add_argument("--split", default="random", choices=["random", "temporal", "leave-last", "cold-item", "kfold"], help="how to split (default: random per user); kfold reports the mean over folds")
    g.add_argument("--folds", type=int, default=5, help="number of folds for --split kfold (default 5)")
    g.add_argument("--test-fraction", type=float, default=0.2, help="share held out (items for cold-item; default 0.2)")
    g.add_argument("--seed", type=int, default=42, help="split seed (default 42)")
    g.add_argument("--k", type=int, default=20, help="list length and cutoff of every metric (default 20)")
    g.add_argument("--head-share", type=float, default=0.2, help="share of items that are head, by training popularity (default 0.2)")
    g.add_argument("--output", type=Path, action="append", help="write the table as .csv or .json (repeatable)")
    add_memory_option(g)
    add_text_options(p)


def add_sweep_options(p: argparse.ArgumentParser, title: str, rerank: str | None, weights: str | None) -> None:
    """--rerank NAMES, --tail-weights, --n-candidates and --rerank-seed of a trade-off sweep
    (`rerank` and `weights`: the defaults)."""
    g = p.add_argument_group(title)
    default = f"default: {rerank}" if rerank else "default: no sweep"
    g.add_argument("--rerank", default=rerank, metavar="NAMES", help=f"comma-separated re-rankers: xquad, calibrated, mmr, stochastic ({default})")
    g.add_argument("--tail-weights", default=weights, metavar="W,W,...", help="knob values in [0, 1] swept per re-ranker (0 = the model's own lists)")
    g.add_argument("--n-candidates", type=int, default=300, metavar="N", help="candidates per user handed to the re-rankers (default: 300)")
    g.add_argument("--rerank-seed", type=int, default=0, metavar="SEED", help="seed of the stochastic re-ranker (default: 0)")


def experiment_from_args(args: argparse.Namespace, exposure: Exposure | None = None, sweep: SweepSpec | None = None) -> Experiment:
    """The experiment of the options of :func:`add_experiment_options`, with `exposure` for
    every list and an optional `sweep`; bad model names or parameters fail here, before any
    data is read."""
    from tailwise.eval.runner import Experiment, ModelSpec, SplitSpec
    from tailwise.rerank import Exposure

    params = parse_params(args.param)
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    models = tuple(ModelSpec(n, {**text_params(args, n), **params_for(n, params)}) for n in names)
    split = SplitSpec(args.split, args.test_fraction, args.seed, args.folds)
    exposure = Exposure() if exposure is None else exposure
    return Experiment(models, split, args.k, args.head_share, exposure, sweep, memory_budget=args.memory_budget)


def sweep_from_args(args: argparse.Namespace, default_weights: str) -> SweepSpec | None:
    """The sweep of --rerank NAMES and --tail-weights (None when --rerank is not given)."""
    from tailwise.eval.runner import SweepSpec

    if not args.rerank:
        if args.tail_weights is not None:
            raise DataError("--tail-weights needs --rerank NAMES (xquad, calibrated, mmr, stochastic)")
        return None
    names = [n.strip() for n in args.rerank.split(",") if n.strip()]
    if not names:
        raise DataError("--rerank names no re-ranker; choose from xquad, calibrated, mmr, stochastic")
    text = args.tail_weights or default_weights
    try:
        weights = [float(w) for w in text.split(",") if w.strip()]
    except ValueError:
        raise DataError(f"--tail-weights must be numbers separated by commas, not {text!r}") from None
    if not weights:
        raise DataError("--tail-weights names no value")
    return SweepSpec(tuple(names), tuple(weights))


def sweep_exposure(args: argparse.Namespace) -> Exposure:
    """The candidates and seed of a sweep (--n-candidates, --rerank-seed); the lists themselves
    are each model's own."""
    from tailwise.rerank import Exposure

    try:
        return Exposure(None, 0.0, args.n_candidates, args.rerank_seed)
    except ValueError as exc:
        raise DataError(f"--n-candidates: {exc}") from None


def table_outputs(args: argparse.Namespace) -> list[Path]:
    """The --output files, each a .csv or .json table; checked before any data is read."""
    for out in args.output or []:
        if out.suffix.lower() not in TABLE_SUFFIXES:
            raise DataError(f"--output must end in .csv or .json, not {out.suffix or 'no suffix'!r}", path=out)
    return list(args.output or [])


def run_experiment(experiment: Experiment, dataset: Dataset) -> Results:
    """:func:`tailwise.eval.runner.run` with a progress bar on stderr (gone when done)."""
    from tailwise.eval.runner import run

    with progress_bar() as progress:
        task = progress.add_task("Evaluating", total=experiment.n_steps)

        def on_step(description: str, done: int, total: int) -> None:
            progress.update(task, description=description, completed=done, total=total)

        return run(experiment, dataset, on_step=on_step)


def progress_bar() -> Progress:
    """A progress bar on stderr that disappears when done."""
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    return Progress(*columns, console=console, transient=True)


def title(results: Results, what: str = "") -> str:
    """The table's title: dataset, split and list length."""
    return f"{what}{results.dataset}: {results.split} split, {results.experiment.k} items per list"
