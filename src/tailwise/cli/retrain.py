"""``tailwise retrain``: refit a model directory on its interactions plus the stored feedback."""

from __future__ import annotations

import argparse
from pathlib import Path

from tailwise.cli.common import add_memory_option, add_service_options, console, status


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "retrain",
        help="refit a served model with the feedback and items stored by `tailwise serve`",
        description="Merge the feedback events and items stored in the service's database into "
        "the model directory's interactions and refit the same model with the same parameters. "
        "The new directory replaces the old one atomically; a running `tailwise serve` on it "
        "swaps the new model in without a failed request.",
    )
    add_service_options(p)
    p.add_argument("--output", type=Path, help="write the new model here instead of replacing MODEL_DIR")
    add_memory_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tailwise.service.retrain import retrain
    from tailwise.service.settings import ServiceSettings
    from tailwise.service.state import default_db_path

    settings = ServiceSettings.from_env(secret_file=args.secret_file)
    db = args.db or default_db_path(args.model_dir)
    with status("Merging feedback and refitting"):
        pipe, summary = retrain(args.model_dir, db, args.output, settings, memory_budget=args.memory_budget)
    console.print(
        f"retrained [bold]{pipe.model.name}[/] with {summary['events']:,} feedback events "
        f"({summary['new_users']:,} new users, {summary['new_items']:,} new items, "
        f"{summary['updated_items']:,} updated texts) in {summary['fit_seconds']:.2f}s "
        f"-> {args.output or args.model_dir}"
    )
    return 0
