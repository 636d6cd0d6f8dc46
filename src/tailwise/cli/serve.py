"""``tailwise serve``: the HTTP service (JSON API, web page, OpenAPI docs) over a model directory."""

from __future__ import annotations

import argparse
from pathlib import Path

from tailwise.cli.common import console


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "serve",
        help="serve a model over HTTP: recommendations, new items, feedback, a web page",
        description="Serve a model directory with FastAPI/uvicorn (the `serve` extra). Feedback "
        "and items added while serving are stored in an SQLite database; a model retrained into "
        "the same directory (`tailwise retrain`) is swapped in without downtime. API docs at /docs.",
    )
    p.add_argument("--model-dir", type=Path, required=True, help="a directory written by `tailwise fit` or `tailwise retrain`")
    p.add_argument("--db", type=Path, help="SQLite feedback database (default: MODEL_DIR/../NAME.feedback.sqlite)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default: 8000)")
    p.add_argument("--secret-file", type=Path, help="pseudonymise user ids with the secret in this file (or set TAILWISE_SECRET)")
    p.add_argument("--max-k", type=int, help="largest list length a request may ask for (default: 100)")
    p.add_argument("--reload-interval", type=float, help="seconds between checks for a retrained model (default: 2; 0 = off)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from tailwise._compat import require
    from tailwise.service.app import create_app
    from tailwise.service.settings import ServiceSettings

    uvicorn = require("uvicorn", "tailwise serve")
    settings = ServiceSettings.from_env(secret_file=args.secret_file, max_k=args.max_k, reload_interval=args.reload_interval)
    app = create_app(args.model_dir, args.db, settings)
    live = app.state.service.live
    console.print(
        f"serving [bold]{live.pipe.model.name}[/] ({len(live.pipe.users):,} users, {live.n_items:,} items) "
        f"on http://{args.host}:{args.port} (API docs at /docs)"
        + (", user ids pseudonymised" if settings.pseudonymise else "")
    )
    # with pseudonymised ids the access log (request lines hold user ids) stays off
    config = uvicorn.Config(app, host=args.host, port=args.port, access_log=not settings.pseudonymise, log_level="info")
    uvicorn.Server(config).run()
    return 0
