"""``POST /items`` (add or update items, cold start), ``GET /items`` (search) and
``GET /items/{item_id}``."""


from typing import Annotated

from fastapi import APIRouter, Path, Query

from tailwise.service.explain import short_title
from tailwise.service.guard import guard
from tailwise.service.routes_recommend import ERRORS
from tailwise.service.schemas import (
    Id,
    ItemInfo,
    ItemsRequest,
    ItemsResponse,
    SearchResponse,
    Words,
)
from tailwise.service.state import RequestError, ServiceState, UnknownItemError
from tailwise.service.store import StoredItem

#: search words fit in a URL (servers refuse request lines over about 16 KB)
MAX_QUERY_CHARS = 500
ITEM_ERRORS = {**ERRORS, 409: {"model": dict, "description": "the model cannot score new items"}}


def router(state: ServiceState) -> APIRouter:
    """The item routes of one service."""
    s = state.settings
    r = APIRouter(tags=["items"], dependencies=[guard(s.keys).read])

    @r.post("/items", response_model=ItemsResponse, responses=ITEM_ERRORS, dependencies=[guard(s.keys).write])
    def add_items(body: ItemsRequest) -> dict:
        """Add items, or replace the text of known ones. New items are embedded and stored so
        that they survive a restart, in batches: each batch is recommendable as soon as it is
        committed, and the answer comes when all are (``live_at``). Feedback and reads are not
        held up meanwhile. Models without a text side answer 409 for new items (nothing is
        stored)."""
        if len(body.items) > s.max_batch:
            raise RequestError(f"at most {s.max_batch} items per request, not {len(body.items)}")
        items = []
        for n, it in enumerate(body.items):
            if (longest := it.longest_text()) > s.max_text_chars:
                raise RequestError(f"items[{n}]: a text may have at most {s.max_text_chars} characters, not {longest}")
            text = it.full_text()
            items.append(StoredItem(it.item_id, text, short_title(it.title or text)))
        done = state.add_items(items)
        return {"added": done.added, "updated": done.updated, "batches": done.batches, "live_at": done.live_at}

    @r.get("/items", response_model=SearchResponse, responses=ERRORS)
    def search_items(
        q: Annotated[Words, Query(max_length=MAX_QUERY_CHARS, description="words to look for")],
        limit: Annotated[int, Query(ge=1, le=s.max_k)] = 20,
    ) -> dict:
        """Items whose title contains `q`, then those whose text is closest to it."""
        return state.live.search(q, limit)

    @r.get("/items/{item_id:path}", response_model=ItemInfo, responses=ERRORS)
    def get_item(item_id: Annotated[Id, Path()]) -> dict:
        """One item: its text, interactions (training and feedback), head/tail, new."""
        live = state.live
        if (j := live.item_index(item_id)) < 0:
            raise UnknownItemError(f"unknown item {item_id!r}")
        return live.item_info(j)

    return r
