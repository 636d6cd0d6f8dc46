"""``tailwise keys``: create and list the API keys of ``tailwise serve``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from tailwise.cli.common import console
from tailwise.errors import DataError


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "keys",
        help="create and list API keys for `tailwise serve`",
        description="API keys of the HTTP service. `new` prints a fresh random token once and appends "
        "only its SHA-256 digest to the keys file; `list` shows the keys of a file. To revoke a key, "
        "delete its line and restart the service. Clients send a token as 'Authorization: Bearer TOKEN' "
        "or 'X-API-Key: TOKEN'.",
    )
    actions = p.add_subparsers(title="actions", metavar="ACTION", required=True)
    new = actions.add_parser("new", help="create a key: print its token, append its digest to the keys file")
    new.add_argument("--role", choices=["read", "write"], required=True, help="read: recommendations and look-ups; write: also items, feedback, erasure, reload")
    new.add_argument("--user", metavar="ID", help="bind a write key to one user: it posts feedback (and erases data) for that user only")
    listing = actions.add_parser("list", help="show the keys of a keys file (digest prefix, role, user)")
    for q in (new, listing):
        q.add_argument("--keys", type=Path, metavar="FILE", help="the keys file (default: $TAILWISE_KEYS_FILE)")
    new.set_defaults(run=run_new)
    listing.set_defaults(run=run_list)


def _keys_file(args: argparse.Namespace) -> Path:
    path = args.keys or (Path(os.environ["TAILWISE_KEYS_FILE"]) if os.environ.get("TAILWISE_KEYS_FILE") else None)
    if path is None:
        raise DataError("name the keys file with --keys FILE (or set TAILWISE_KEYS_FILE)")
    return path


def run_new(args: argparse.Namespace) -> int:
    from tailwise.service.keys import add_key

    path = _keys_file(args)
    token = add_key(path, args.role, args.user)
    console.print(f"added a {args.role} key" + (f" for user {args.user!r}" if args.user else "") + f" to {path}; "
                  "its token follows, shown this once (the file keeps only its digest):")  # fmt: skip
    print(token, file=sys.stdout, flush=True)
    return 0


def run_list(args: argparse.Namespace) -> int:
    from tailwise.service.keys import Keyring

    for key in Keyring.read(_keys_file(args)).keys:
        print(f"{key.digest[:12]}  {key.role:5}  {key.user or ''}".rstrip())
    return 0
