"""The FastAPI application factory: :func:`create_app` (nothing is built at import time).

Every error is a JSON ``{"detail": "<clear message>"}`` with a 4xx status: request validation
(422, the field named), a Host header naming no allowed host or a body that cannot be parsed
(400), no valid API key (401), a key without the right (403), unknown ids (404), a wrong method
(405, ``Allow`` listing every method of the path), a model that cannot take new items (409),
bodies over the size limit (413). Anything unexpected is logged and answered 500, which the
test suite fuzzes for (``tests/service``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tailwise._compat import require
from tailwise.service.settings import ServiceSettings

log = logging.getLogger(__name__)

_TYPE_NAMES = frozenset({"str", "int", "float", "bool", "list", "dict"})


def create_app(model_dir: str | Path, db_path: str | Path | None = None, settings: ServiceSettings | None = None) -> Any:
    """A FastAPI app serving the model in `model_dir`, with feedback stored in `db_path`.

    Parameters
    ----------
    model_dir : str or Path
        A model directory (``tailwise fit`` / ``tailwise retrain``). The app watches it and
        swaps in a retrained model written there.
    db_path : str or Path, optional
        The SQLite feedback database; default ``<model_dir>/../<model_dir name>.feedback.sqlite``.
    settings : ServiceSettings, optional
        Limits, pseudonymisation, API keys and allowed hosts; default
        :meth:`ServiceSettings.from_env`. Without keys only loopback clients are answered.

    The model is loaded here (a bad directory fails at once); background threads (reload
    watcher, text-index warm-up) run between the app's start-up and shutdown.
    """
    fastapi = require("fastapi", "The HTTP service")
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    from tailwise import __version__
    from tailwise.models.base import ColdStartError
    from tailwise.service import routes_feedback, routes_items, routes_meta, routes_recommend, routes_users
    from tailwise.service.middleware import BodyLimit, RequestGate
    from tailwise.service.openapi import add_docs
    from tailwise.service.state import RequestError, ServiceState, default_db_path

    settings = settings or ServiceSettings.from_env()
    for warning in settings.warnings():
        log.warning("%s", warning)
    state = ServiceState(model_dir, default_db_path(model_dir) if db_path is None else db_path, settings)

    @asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            state.close()

    app = fastapi.FastAPI(
        title="tailwise",
        version=__version__,
        description="Recommendations that bring the long tail in: recommend, explain, add items, collect feedback.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.service = state

    def error(status: int, detail: str) -> JSONResponse:
        return JSONResponse({"detail": detail}, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Any, exc: RequestValidationError) -> JSONResponse:
        return error(422, describe_errors(exc.errors()))

    @app.exception_handler(HTTPException)
    async def http_error(request: Any, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.url.path} (the API is described at /docs)"
        elif exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "the body could not be parsed: not JSON, or JSON nested too deeply"
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method of the path, not just those of the first route
            headers["Allow"] = ", ".join(allowed_methods([*app.router.routes, *routes], request.scope))
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestError)
    async def refused(request: Any, exc: RequestError) -> JSONResponse:
        return error(exc.status, str(exc))

    @app.exception_handler(ColdStartError)
    async def cold(request: Any, exc: ColdStartError) -> JSONResponse:
        return error(409, str(exc))

    @app.exception_handler(Exception)
    async def crashed(request: Any, exc: Exception) -> JSONResponse:  # logged, never expected
        log.error("internal error on %s %s", request.method, request.url.path, exc_info=exc)
        return error(500, "internal error; the service log has the details")

    routes = []
    for module in (routes_recommend, routes_items, routes_feedback, routes_meta, routes_users):
        router = module.router(state)
        routes.extend(router.routes)
        app.include_router(router)
    if routes_meta.STATIC.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=routes_meta.STATIC), name="static")
    add_docs(app, settings)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(RequestGate, settings=settings)  # outermost: before the body is read
    return app


def allowed_methods(routes: list[Any], scope: dict) -> list[str]:
    """The methods of every route whose path matches the request's (for ``Allow``)."""
    from starlette.routing import Match

    methods: set[str] = set()
    for route in routes:
        if getattr(route, "methods", None) and route.matches(scope)[0] is not Match.NONE:
            methods |= route.methods
    return sorted(methods)


def describe_errors(errors: list[dict[str, Any]], shown: int = 5) -> str:
    """Pydantic/FastAPI validation errors as one readable line.

    Examples
    --------
    >>> describe_errors([{"loc": ("query", "k"), "msg": "Input should be greater than or equal to 1", "type": "greater_than_equal"}])
    "query parameter 'k': Input should be greater than or equal to 1"
    >>> describe_errors([{"loc": ("body", "events", 0, "type"), "msg": "Field required", "type": "missing"}])
    "body field 'events[0].type': Field required"
    """
    parts = []
    for e in errors[:shown]:
        loc = list(e.get("loc", ()))
        kind, rest = (str(loc[0]), loc[1:]) if loc else ("body", [])
        msg = str(e.get("msg", "invalid value")).removeprefix("Value error, ")
        if e.get("type") == "json_invalid":
            why = (e.get("ctx") or {}).get("error", "")
            at = f" at character {rest[0]}" if rest else ""
            parts.append(f"the body is not valid JSON{at}: {why}".rstrip(": "))
            continue
        if kind == "body" and not rest and e.get("type") == "missing":
            parts.append("a JSON body is required")
            continue
        if kind == "body" and not rest and e.get("type") in ("model_attributes_type", "dict_type", "model_type"):
            parts.append("the body must be a JSON object, sent with Content-Type: application/json")
            continue
        name = ""
        for p in rest:
            if isinstance(p, int):
                name += f"[{p}]"
            elif "[" not in str(p) and str(p) not in _TYPE_NAMES:
                name += f".{p}" if name else str(p)
        label = {"query": "query parameter", "path": "path parameter", "body": "body field", "header": "header"}.get(kind, kind)
        parts.append(f"{label} {name!r}: {msg}" if name else f"{kind}: {msg}")
    more = f" (and {len(errors) - shown} more errors)" if len(errors) > shown else ""
    return "; ".join(dict.fromkeys(parts)) + more
