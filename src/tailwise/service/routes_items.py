"""``POST /items`` (add or update items, cold start), ``GET /items`` (search) and
``GET /items/{item_id}``."""


from typing import Annotated

from fastapi import APIRouter, Path, Query
from pydantic import AfterValidator

from tailwise.service.explain import short_title
from tailwise.service.routes_recommend import ERRORS
from tailwise.service.schemas import (
    ItemInfo,
    ItemsRequest,
    ItemsResponse,
    SearchResponse,
    check_id,
    check_text,
)
from tailwise.service.state import RequestError, ServiceState, UnknownItemError
from tailwise.service.store import StoredItem

#: search words fit in a URL (servers refuse request lines over about 16 KB)
MAX_QUERY_CHARS = 500
ITEM_ERRORS = {**ERRORS, 409: {"model": dict, "description": "the model cannot score new items"}}


def router(state: ServiceState) -> APIRouter:
    """The item routes of one service."""
    s = state.settings
    r = APIRouter(tags=["items"])

    @r.post("/items", response_model=ItemsResponse, responses=ITEM_ERRORS)
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
            text = it.full_text()
            if len(text) > s.max_text_chars:
                raise RequestError(f"items[{n}]: the text may have at most {s.max_text_chars} characters, not {len(text)}")
            items.append(StoredItem(it.item_id, text, short_title(it.title or text)))
        done = state.add_items(items)
        return {"added": done.added, "updated": done.updated, "batches": done.batches, "live_at": done.live_at}

    @r.get("/items", response_model=SearchResponse, responses=ERRORS)
    def search_items(
        q: Annotated[str, AfterValidator(check_text), Query(max_length=MAX_QUERY_CHARS, description="words to look for")],
        limit: Annotated[int, Query(ge=1, le=s.max_k)] = 20,
    ) -> dict:
        """Items whose title contains `q`, then those whose text is closest to it."""
        if not q.strip():
            raise RequestError("q must contain some non-blank text")
        return state.live.search(q, limit)

    @r.get("/items/{item_id:path}", response_model=ItemInfo, responses=ERRORS)
    def get_item(item_id: Annotated[str, AfterValidator(check_id), Path()]) -> dict:
        """One item: its text, interactions (training and feedback), head/tail, new."""
        live = state.live
        if (j := live.item_index(item_id)) < 0:
            raise UnknownItemError(f"unknown item {item_id!r}")
        return live.item_info(j)

    return r
