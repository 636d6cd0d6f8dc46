"""``GET /recommend``, ``POST /recommend`` and ``GET /similar/{item_id}``: thin routes over
:class:`~tailwise.service.live.Snapshot`.

The two GET routes are the hot path: a few milliseconds of NumPy on a ready snapshot, so they run
on the event loop (``async def``) and skip the hand-over to a worker thread and back. ``POST
/recommend`` may encode a query text, so it runs in the thread pool like the writing routes.

Each request builds one :class:`~tailwise.rerank.Exposure` from its ``rerank``, ``tail_weight``
and ``seed`` and the service's ``n_candidates``, and hands it to the pipeline. Without a
``seed`` the stochastic re-ranker draws from the next value of a counter, so repeated requests
spread exposure; a ``seed`` fixes the draw.
"""


import itertools
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Path, Query
from fastapi.responses import JSONResponse

from tailwise.rerank import Exposure
from tailwise.service.guard import AUTH_RESPONSES, guard
from tailwise.service.live import Snapshot
from tailwise.service.schemas import (
    MAX_SEED,
    SEED_HELP,
    Id,
    RecommendRequest,
    RecommendResponse,
    RerankName,
    SimilarResponse,
    is_blank,
)
from tailwise.service.state import RequestError, ServiceState, UnknownItemError

ERRORS = {code: {"model": dict, "description": text} for code, text in (
    (400, "a Host header naming no allowed host, or a body that cannot be parsed"),
    (404, "unknown item id"), (413, "body too large"), (422, "invalid request"),
)} | AUTH_RESPONSES  # fmt: skip
_seeds = itertools.count()


def exposure(rerank: str, tail_weight: float, n_candidates: int, seed: int | None) -> Exposure:
    """The exposure settings of one request (see the module docstring)."""
    return Exposure(rerank, tail_weight, n_candidates, next(_seeds) if seed is None else seed)


def item_indices(live: Snapshot, ids: list[str], name: str) -> np.ndarray:
    """Indices of the item ids of request field `name`; an unknown id is a 404 naming it."""
    idx = live.pipe.items.indices(ids, missing=-1)
    if (idx < 0).any():
        n = int((idx < 0).argmax())
        raise UnknownItemError(f"{name}[{n}]: unknown item {ids[n]!r}")
    return idx


def router(state: ServiceState) -> APIRouter:
    """The recommending routes of one service."""
    s = state.settings
    r = APIRouter(tags=["recommend"], dependencies=[guard(s.keys).read])
    K = Annotated[int, Query(ge=1, le=s.max_k, description="list length")]
    Weight = Annotated[float, Query(ge=0.0, le=1.0, allow_inf_nan=False, description="re-ranker knob, 0 = off")]

    @r.get("/recommend", response_model=RecommendResponse, responses=ERRORS)
    async def recommend_user(
        user_id: Annotated[Id, Query(description="the user's id")],
        k: K = 10,
        tail_weight: Weight = 0.0,
        rerank: Annotated[RerankName, Query(description="re-ranker used when tail_weight > 0")] = "xquad",
        seed: Annotated[int | None, Query(ge=0, le=MAX_SEED, description=SEED_HELP)] = None,
    ) -> JSONResponse:
        """Top-k for a user: training history plus feedback so far; unknown users without
        feedback get the most popular items (``known: false``)."""
        live = state.live
        settings = exposure(rerank, tail_weight, s.n_candidates, seed)
        return JSONResponse(live.for_user(user_id, s.user_key(user_id), k, settings))

    @r.post("/recommend", response_model=RecommendResponse, responses=ERRORS)
    def recommend_history(body: RecommendRequest) -> JSONResponse:
        """Top-k for an ad-hoc history (item ids) and/or a free-text query, without refitting;
        only items of `candidates` (item ids) when given. With a query, the items relevant to
        it come first (``query.relevant`` says how many), ordered by the taste of `user_id`
        (a known user: training history plus feedback, joined by the given history) or of the
        history, else by the text with the model as a prior; ``query.note`` says when no item
        is relevant."""
        if body.k > s.max_k:
            raise RequestError(f"k must be at most {s.max_k}, not {body.k}")
        history = body.history or []
        if len(history) > s.max_history:
            raise RequestError(f"history may hold at most {s.max_history} item ids, not {len(history)}")
        if body.query and len(body.query) > s.max_text_chars:
            raise RequestError(f"query may have at most {s.max_text_chars} characters, not {len(body.query)}")
        live = state.live
        idx = item_indices(live, history, "history")
        allowed = None if body.candidates is None else np.unique(item_indices(live, body.candidates, "candidates"))
        settings = exposure(body.rerank, body.tail_weight, s.n_candidates, body.seed)
        if body.user_id is not None:
            key = s.user_key(body.user_id)
            return JSONResponse(live.for_user_query(body.user_id, key, None if is_blank(body.query) else body.query, idx, body.k, settings, allowed))
        return JSONResponse(live.for_history(idx, body.query, body.k, settings, allowed))

    @r.get("/similar/{item_id:path}", response_model=SimilarResponse, responses=ERRORS)
    async def similar(item_id: Annotated[Id, Path()], k: K = 10) -> JSONResponse:
        """The k items most like an item, by the model's own item relations."""
        live = state.live
        if (j := live.item_index(item_id)) < 0:
            raise UnknownItemError(f"unknown item {item_id!r}")
        return JSONResponse(live.similar(j, k))

    return r
