"""``GET /healthz``, ``GET /info``, ``GET /users``, ``POST /reload`` and the web page at ``GET /``."""


from pathlib import Path as FilePath
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse

from tailwise.service.guard import guard
from tailwise.service.routes_recommend import ERRORS
from tailwise.service.schemas import Health, Info, ReloadResponse, UsersResponse
from tailwise.service.state import NotFoundError, ServiceState

STATIC = FilePath(__file__).parent / "static"


def router(state: ServiceState) -> APIRouter:
    """The meta routes of one service."""
    s = state.settings
    r = APIRouter(tags=["service"])
    g = guard(s.keys)

    @r.get("/healthz", response_model=Health)
    def healthz() -> dict:
        """Liveness: the service answers and holds a model."""
        return {"status": "ok"}

    @r.get("/info", response_model=Info, responses=ERRORS, dependencies=[g.read])
    def info() -> dict:
        """The model (name, parameters), counts (users, items, new items, feedback) and versions."""
        return state.info()

    @r.get("/users", response_model=UsersResponse, responses=ERRORS, dependencies=[g.read])
    def users(
        prefix: Annotated[str, Query(max_length=256)] = "",
        limit: Annotated[int, Query(ge=1, le=s.max_k)] = 20,
        offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
    ) -> dict:
        """Training user ids (sorted) for the web page; off when user ids are pseudonymised."""
        if s.pseudonymise:
            raise NotFoundError("listing users is off while user ids are pseudonymised")
        return state.live.users(prefix, limit, offset)

    @r.post("/reload", response_model=ReloadResponse, responses=ERRORS, dependencies=[g.write])
    def reload() -> dict:
        """Check the model directory now (as the service does every reload interval) and swap
        in a retrained model; ``reloaded`` says whether one was swapped in."""
        return {"reloaded": state.check_reload()}

    @r.get("/", include_in_schema=False)
    def page() -> FileResponse:
        """The web page."""
        index = STATIC / "index.html"
        if not index.exists():
            raise NotFoundError("the web page is not installed")
        return FileResponse(index)

    return r
