"""``tailwise forget``: erase one user's data (the right to erasure)."""

from __future__ import annotations

import argparse

from tailwise.cli.common import add_memory_option, add_service_options, console, status


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "forget",
        help="erase a user: delete their feedback events, and drop their history at the next retrain",
        description="Delete every feedback event of one user from the service's database and record "
        "the user as erased. A running `tailwise serve` stops using the user's profile and training "
        "history within its reload interval (DELETE /users/{id} does the same at once); the next "
        "`tailwise retrain` (or --retrain here) writes a model directory without the user. Erasing "
        "again is harmless.",
    )
    add_service_options(p)
    p.add_argument("--user", required=True, help="the user's id, as the service receives it")
    p.add_argument("--retrain", action="store_true", help="retrain now, so the model directory forgets the user too")
    add_memory_option(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tailwise.service.erasure import forget_user
    from tailwise.service.retrain import retrain
    from tailwise.service.settings import ServiceSettings
    from tailwise.service.state import default_db_path

    settings = ServiceSettings.from_env(secret_file=args.secret_file)
    db = args.db or default_db_path(args.model_dir)
    done = forget_user(args.model_dir, db, args.user, settings)
    console.print(f"erased the user: {done.erasure.events:,} feedback events deleted from {db}")
    if done.leftovers.removed:
        console.print(f"removed {len(done.leftovers.removed)} leftover copies of the model directory")
    if done.in_model and args.retrain:
        with status("Retraining without the user"):
            _, summary = retrain(args.model_dir, db, None, settings, memory_budget=args.memory_budget)
        console.print(f"retrained: {args.model_dir} no longer holds the user ({summary['erased_users']} erased users dropped)")
    elif done.in_model:
        console.print(
            f"{args.model_dir} was trained on the user's history: a running service no longer uses it; "
            f"run `tailwise retrain --model-dir {args.model_dir}` to drop it from the directory"
        )
    else:
        console.print(f"{args.model_dir} holds no history of the user (nothing to retrain)")
    return 0
