"""``tailwise export-feedback``: the service's feedback events as Parquet, for the next fit."""

from __future__ import annotations

import argparse
from pathlib import Path

from tailwise.cli.common import console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export-feedback",
        help="write the service's feedback events to a Parquet file (erased users left out)",
        description="Write every feedback event of the service's database (user_id, item_id, type, "
        "value, timestamp, event_id) to a Parquet file that `tailwise spark fit --interactions` and "
        "`tailwise fit` read. Users erased with `tailwise forget` or DELETE /users/{id} are not "
        "exported (events they send after the erasure are new data, as for `tailwise retrain`). "
        "User ids are written as stored: hashed when the service pseudonymises them.",
    )
    p.add_argument("--db", type=Path, required=True, help="the service's feedback database (SQLite)")
    p.add_argument("--out", type=Path, required=True, help="the Parquet file to write (new, unless --force)")
    p.add_argument("--force", action="store_true", help="replace --out when it exists")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tailwise.errors import DataError
    from tailwise.service.export import export_feedback

    if args.out.resolve() == args.db.resolve():
        raise DataError("--out is the database itself; choose another path", path=args.out)
    if args.out.exists() and not args.force:
        raise DataError("--out exists and would be replaced; choose another path or pass --force", path=args.out)
    done = export_feedback(args.db, args.out)
    console.print(f"wrote {done.events:,} events to {done.path} ({done.skipped:,} events of erased users left out)")
    return 0
