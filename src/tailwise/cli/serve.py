"""``tailwise serve``: the HTTP service (JSON API, web page, OpenAPI docs) over a model directory."""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

from tailwise.cli.common import add_service_options, console
from tailwise.errors import DataError

#: addresses that listen on every interface: no use as a Host header
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a model over HTTP: recommendations, new items, feedback, a web page",
        description="Serve a model directory with FastAPI/uvicorn (the `serve` extra). Feedback "
        "and items added while serving are stored in an SQLite database; a model retrained into "
        "the same directory (`tailwise retrain`) is swapped in without downtime. API docs at /docs. "
        "Without API keys (--keys) the service answers this machine only and will not listen on "
        "another interface.",
    )
    add_service_options(p, "a directory written by `tailwise fit` or `tailwise retrain`")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only; another needs --keys)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--keys", type=Path, metavar="FILE", help="API keys file written by `tailwise keys new` (or set TAILWISE_KEYS_FILE)")
    p.add_argument("--allowed-hosts", metavar="HOSTS", help="comma-separated names requests may address in their Host header "
                   "(default: localhost, 127.0.0.1, ::1; or TAILWISE_ALLOWED_HOSTS; '*' = any); --host is always allowed")  # fmt: skip
    p.add_argument("--max-k", type=int, help="largest list length a request may ask for (default: 100)")
    p.add_argument("--reload-interval", type=float, help="seconds between checks for a retrained model (default: 2; 0 = off)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tailwise._compat import require
    from tailwise.service.app import create_app
    from tailwise.service.settings import ServiceSettings, is_loopback

    uvicorn = require("uvicorn", "tailwise serve")
    settings = ServiceSettings.from_env(
        secret_file=args.secret_file, keys_file=args.keys, max_k=args.max_k, reload_interval=args.reload_interval
    )
    if settings.open and not is_loopback(args.host):
        raise DataError(
            f"refusing to listen on {args.host or 'every interface'} without API keys: anyone who can reach the port "
            "could read and write. Create a key with `tailwise keys new --role write --keys keys.txt` and pass "
            "--keys keys.txt (or set TAILWISE_KEYS_FILE), or listen on 127.0.0.1"
        )
    hosts = args.allowed_hosts.split(",") if args.allowed_hosts else list(settings.allowed_hosts)
    settings = replace(settings, allowed_hosts=(*hosts, *([] if args.host in _ANY_ADDRESS else [args.host])))
    app = create_app(args.model_dir, args.db, settings)
    live = app.state.service.live
    console.print(
        f"serving [bold]{live.pipe.model.name}[/] ({len(live.pipe.users):,} users, {live.n_items:,} items) "
        f"on http://{args.host}:{args.port} (API docs at /docs)"
        + (", user ids pseudonymised" if settings.pseudonymise else "")
    )
    if not settings.open:
        roles = [k.role for k in settings.keys.keys]
        console.print(
            f"API keys: {roles.count('read')} read, {roles.count('write')} write; requests must name one of these "
            f"hosts: {', '.join(settings.allowed_hosts)}"
        )
    for warning in settings.warnings():
        console.print(f"[yellow]warning:[/] {warning}")
    # with pseudonymised ids the access log (request lines hold user ids) stays off
    config = uvicorn.Config(app, host=args.host, port=args.port, access_log=not settings.pseudonymise, log_level="info")
    uvicorn.Server(config).run()
    return 0
