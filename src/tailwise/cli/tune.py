"""``tailwise tune``: search a model's hyperparameters (Optuna) and write a params file."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tailwise.cli.common import (
    add_data_options,
    add_memory_option,
    add_text_options,
    console,
    load_data,
    params_for,
    parse_params,
    refuse_overwrite,
    text_params,
)  # fmt: skip
from tailwise.errors import DataError

DEFAULT_TRIALS = 30


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tune",
        help="search a model's hyperparameters and write a params file for fit",
        description="Search a model's hyperparameters with Optuna (TPE, seeded; median pruning for "
        "ALS and BPR) on a validation split carved from the given data (per user, a random 20%% of "
        "its interactions, seed 42): maximise NDCG@K, NDCG@K under a tail-recall floor, or find "
        "the NDCG/tail-recall Pareto front. Prints the best parameters and their validation "
        "figures and writes them to --output, which `tailwise fit --params` reads. With --study "
        "FILE.db the study is kept in SQLite and a rerun adds trials to it.",
    )
    add_data_options(p)
    g = p.add_argument_group("search")
    g.add_argument("--model", required=True, help="the model to tune: popular, itemknn, ease, als, bpr, content, adapter, hybrid or twotower")
    g.add_argument("--trials", type=int, default=DEFAULT_TRIALS, help=f"trials to run (added to a --study's earlier ones; default {DEFAULT_TRIALS})")
    g.add_argument("--objective", choices=["accuracy", "pareto"], default="accuracy", help="accuracy: maximise NDCG@K (default); pareto: NDCG@K and tail recall@K together")
    g.add_argument("--tail-floor", type=float, metavar="X", help="with accuracy: only trials with validation tail recall@K >= X count")
    g.add_argument("--space", action="append", metavar="KEY=LOW:HIGH[:log]", help="search KEY in this range (or KEY=A,B,C among choices) instead of its default range (repeatable)")
    g.add_argument("--param", action="append", metavar="KEY=VALUE", help="fix a parameter instead of searching it (repeatable)")
    g.add_argument("--study", type=Path, metavar="FILE.db", help="SQLite file keeping the study: created if new, continued if it holds the same search")
    g.add_argument("--output", type=Path, default=Path("params.json"), help="params file to write (default params.json; a file tune did not write is never replaced)")
    g.add_argument("--leave-test-out", action="store_true", help="first hold out the test split of `tailwise evaluate` (per user random --test-fraction, --seed) and tune on the rest only")
    g.add_argument("--test-fraction", type=float, default=0.2, help="with --leave-test-out: the share held out (default 0.2)")
    g.add_argument("--k", type=int, default=20, help="list length and cutoff of the metrics (default 20)")
    g.add_argument("--head-share", type=float, default=0.2, help="share of items that are head, by training popularity (default 0.2)")
    g.add_argument("--seed", type=int, default=42, help="sampler seed and --leave-test-out split seed (default 42)")
    add_memory_option(g)
    add_text_options(p)
    p.set_defaults(run=run)


def check_output(path: Path) -> None:
    """Refuse to replace a file that ``tailwise tune`` did not write."""
    if path.is_dir():
        raise DataError("--output is a directory; name a .json file", path=path)
    if path.exists():
        try:
            ours = json.loads(path.read_text(encoding="utf-8")).get("format") == "tailwise-tune"
        except (OSError, UnicodeDecodeError, ValueError, AttributeError):
            ours = False
        if not ours:
            raise DataError("--output exists and was not written by tailwise tune; choose another path", path=path)


def run(args: argparse.Namespace) -> int:
    from tailwise.eval.tune import TuneSpec
    from tailwise.models import make_model
    from tailwise.models.spaces import space_for

    if args.trials < 1:
        raise DataError(f"--trials must be at least 1, not {args.trials}")
    if args.tail_floor is not None and args.objective == "pareto":
        raise DataError("--tail-floor goes with --objective accuracy (the pareto objective keeps every trade-off)")
    inputs = (args.interactions, args.items, args.movielens, args.amazon)
    check_output(args.output)
    refuse_overwrite(args.output, "--output", inputs)
    if args.study is not None:
        refuse_overwrite(args.study, "--study", inputs)
    fixed = {**text_params(args, args.model), **params_for(args.model, parse_params(args.param), strict=True)}
    make_model(args.model, **fixed)  # unknown model or bad fixed parameters fail here
    spec = TuneSpec(
        args.model, space_for(args.model, args.space, set(fixed)), fixed, args.objective,
        args.tail_floor, args.k, args.head_share, args.seed,
    )  # fmt: skip
    if args.study is not None and args.study.exists():
        from tailwise.eval.tune_results import check_study_file

        check_study_file(args.study)  # before the data is read
    data = load_data(args)
    if args.leave_test_out:
        from tailwise.data.splits import random_holdout

        data = random_holdout(data, args.test_fraction, args.seed).train
    summary = _search(spec, data, args)
    print_summary(summary)
    if summary["params"] is None:
        console.print(f"[bold red]no trial reached tail recall@{spec.k} >= {spec.tail_floor:g}[/]; lower --tail-floor or run more trials; nothing written")
        return 1
    from tailwise.artifacts import atomic_write_text

    atomic_write_text(args.output, json.dumps(summary, indent=2) + "\n")
    console.print(f"wrote {args.output}  (use: tailwise fit --params {args.output} ...)")
    return 0


def _search(spec, data, args: argparse.Namespace) -> dict:
    import logging
    import time

    from tailwise._compat import require
    from tailwise.cli.experiment import progress_bar
    from tailwise.eval.tune import tune

    optuna = require("optuna", "tailwise tune")
    if not logging.getLogger().isEnabledFor(logging.INFO):  # -v shows Optuna's per-trial lines
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    t0 = time.perf_counter()
    with progress_bar() as progress:
        task = progress.add_task(f"Tuning {spec.model}", total=args.trials)

        def on_trial(s: dict) -> None:
            best = s["best"]
            what = f"best NDCG@{spec.k} {best['ndcg']:.4f}" if best else "no feasible trial yet"
            progress.update(task, advance=1, description=f"Tuning {spec.model}: {what}, {s['n_pruned']} pruned")

        summary = tune(spec, data, args.trials, args.study, args.memory_budget, on_trial)
    summary["seconds"] = round(time.perf_counter() - t0, 2)
    return summary


def print_summary(s: dict) -> None:
    """The best parameters (or the Pareto front), their validation figures and the trial counts."""
    from rich.console import Console
    from rich.table import Table

    out = Console()  # the results go to stdout, progress and messages to stderr
    k = s["k"]
    counts = f"{s['n_trials']} trials: {s['n_complete']} complete, {s['n_pruned']} pruned, {s['n_failed']} failed"
    if s["objective"] == "pareto":
        table = Table(title=f"{s['model']}: Pareto front of validation NDCG@{k} and tail recall@{k}", caption=counts)
        names = sorted({p for r in s["front"] for p in r["params"]})
        for col in ("trial", *names, f"NDCG@{k}", f"tail recall@{k}", f"recall@{k}", "coverage"):
            table.add_column(col, justify="right")
        for r in s["front"]:
            table.add_row(str(r["trial"]), *(_fmt(r["params"].get(n)) for n in names), *(_fmt(r.get(m)) for m in ("ndcg", "tail_recall", "recall", "coverage")))
        out.print(table)
        return
    floor = f", tail recall@{k} >= {s['tail_floor']:g}" if s["tail_floor"] is not None else ""
    table = Table(title=f"{s['model']}: best validation NDCG@{k}{floor}")
    table.add_column("", style="bold")
    table.add_column("value", justify="right")
    table.add_row("trials", counts.split(": ", 1)[1].replace(", ", "\n"))
    best = s["best"]
    if best is not None:
        table.add_row("trial", str(best["trial"]))
        for name, value in s["params"].items():
            table.add_row(name, _fmt(value))
        for m, label in (("ndcg", f"NDCG@{k}"), ("recall", f"recall@{k}"), ("tail_recall", f"tail recall@{k}"), ("coverage", f"coverage@{k}"), ("fit_s", "fit seconds")):
            table.add_row(label, _fmt(best.get(m)))
    out.print(table)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 10 else f"{value:,.4g}"
    return "–" if value is None else str(value)
