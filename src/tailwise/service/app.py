"""The FastAPI application factory: :func:`create_app` (nothing is built at import time).

Every error is a JSON ``{"detail": "<clear message>"}`` with a 4xx status: request validation
(422, the field named), unknown ids (404), a model that cannot take new items (409), bodies
over the size limit (413). Anything unexpected is logged and answered 500, which the test suite
fuzzes for (``tests/service``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from tailwise._compat import require
from tailwise.service.settings import ServiceSettings

log = logging.getLogger(__name__)

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
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
        Limits and pseudonymisation; default :meth:`ServiceSettings.from_env`.

    The model is loaded here (a bad directory fails at once); background threads (reload
    watcher, text-index warm-up) run between the app's start-up and shutdown.
    """
    fastapi = require("fastapi", "The HTTP service")
    from fastapi.exceptions import RequestValidationError
    from fastapi.responses import JSONResponse
    from starlette.exceptions import HTTPException

    from tailwise import __version__
    from tailwise.models.base import ColdStartError
    from tailwise.service import routes_feedback, routes_items, routes_meta, routes_recommend
    from tailwise.service.routes_users import router as users_router
    from tailwise.service.state import RequestError, ServiceState, default_db_path

    settings = settings or ServiceSettings.from_env()
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
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=exc.headers)

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

    for module in (routes_recommend, routes_items, routes_feedback, routes_meta):
        app.include_router(module.router(state))
    app.include_router(users_router(state))  # DELETE /users/{user_id}
    if routes_meta.STATIC.is_dir():
        from fastapi.staticfiles import StaticFiles

        app.mount("/static", StaticFiles(directory=routes_meta.STATIC), name="static")
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    return app


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


class BodyLimit:
    """ASGI middleware: a request body larger than `max_bytes` gets 413 before the app sees it.

    Bodies of POST/PUT/PATCH are read up front (declared ``Content-Length`` or streamed
    chunks, whichever reveals the size first) and handed to the app in one piece.
    """

    def __init__(self, app: Callable, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        payload = json.dumps({"detail": f"the request body is larger than {self.max_bytes} bytes"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode()), (b"connection", b"close")]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": payload})
