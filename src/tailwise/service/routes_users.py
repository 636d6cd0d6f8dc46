"""``GET /history``: a user's history as the service sees it; ``DELETE /users/{user_id}``: the
right to erasure.

The user's feedback events are deleted and the user is recorded as erased in one SQLite
transaction, committed before the answer; the live service then drops the user's folded
feedback and stops using the user's training history (the user gets the fallback, as an unknown
user does), and the next ``tailwise retrain`` leaves the user out of the model directory it
writes. Erasing again is harmless (idempotent). A write operation: it runs in the thread pool.
"""


from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, HTTPException, Path, Query
from pydantic import AfterValidator, BaseModel, Field

from tailwise.service.guard import Caller, guard
from tailwise.service.routes_recommend import ERRORS
from tailwise.service.schemas import Id, check_id
from tailwise.service.state import ServiceState


class ErasureResponse(BaseModel):
    user_id: str
    events_deleted: int = Field(description="feedback events deleted from the database by this request")
    in_model: bool = Field(
        description="the served model was trained on the user's history: no longer used, and "
        "dropped from the model directory by the next `tailwise retrain`"
    )
    erased_at: str = Field(description="when the erasure was committed (ISO-8601, UTC)")


class HistoryItem(BaseModel):
    item_id: str
    title: str
    tail: bool
    source: str = Field(description="'feedback' (sent to this service) or 'training' (in the model's training data)")


class HistoryResponse(BaseModel):
    user_id: str
    known: bool = Field(description="the service has a history for this user (training data or feedback)")
    total: int = Field(description="items in the history; `items` holds the first `limit`")
    items: list[HistoryItem]


def router(state: ServiceState) -> APIRouter:
    """The user routes of one service."""
    s = state.settings
    r = APIRouter(tags=["users"])

    @r.get("/history", response_model=HistoryResponse, responses=ERRORS)
    def history(
        user_id: Annotated[Id, Query(description="the user's id")],
        caller: Annotated[Caller, guard(s.keys).read],
        limit: Annotated[int, Query(ge=1, le=1000, description="items to list")] = 10,
    ) -> dict:
        """The items the service holds for a user, feedback sent since training first (the
        most recent first), then the training items; what their recommendations build on.
        A key bound to a user reads that user's history only."""
        bound = caller.key.user if caller.key is not None else None
        if bound is not None and bound != user_id:
            raise HTTPException(403, f"this API key reads the history of user {bound!r} only, not of {user_id!r}")
        return state.live.history(user_id, s.user_key(user_id), limit)

    @r.delete("/users/{user_id:path}", response_model=ErasureResponse, responses=ERRORS)
    def erase_user(
        user_id: Annotated[str, AfterValidator(check_id), Path(description="the user's id")],
        caller: Annotated[Caller, guard(s.keys).write_for_user],
    ) -> dict:
        """Erase a user: delete their feedback events and profile from every store (see the
        service documentation). Answered after the commit; idempotent. Needs a write key; a key
        bound to a user erases that user only."""
        caller.check_users([user_id])
        erasure = state.erase_user(user_id)
        return {
            "user_id": user_id, "events_deleted": erasure.events,
            "in_model": state.live.trained_on(user_id, s.user_key(user_id)),
            "erased_at": datetime.fromtimestamp(erasure.at, UTC).isoformat(timespec="milliseconds"),
        }  # fmt: skip

    return r
