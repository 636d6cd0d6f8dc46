"""``POST /feedback``: events stored in SQLite (acknowledged after COMMIT) and folded into the
users' profiles at once."""


import time
from typing import Annotated

from fastapi import APIRouter

from tailwise.service.guard import Caller, guard
from tailwise.service.routes_recommend import ERRORS
from tailwise.service.schemas import FeedbackRequest, FeedbackResponse
from tailwise.service.state import FeedbackIn, RequestError, ServiceState


def router(state: ServiceState) -> APIRouter:
    """The feedback route of one service."""
    s = state.settings
    r = APIRouter(tags=["feedback"])

    @r.post("/feedback", response_model=FeedbackResponse, responses=ERRORS)
    def feedback(body: FeedbackRequest, caller: Annotated[Caller, guard(s.keys).write_for_user]) -> dict:
        """Store events in one transaction; answered only after the commit. The next
        ``GET /recommend`` for those users already reflects them. A key bound to a user posts
        events of that user only."""
        caller.check_users(e.user_id for e in body.events)
        if len(body.events) > s.max_batch:
            raise RequestError(f"at most {s.max_batch} events per request, not {len(body.events)}")
        now = time.time()
        events = [
            FeedbackIn(e.user_id, e.item_id, e.type, e.value, now if e.timestamp is None else float(e.timestamp))
            for e in body.events
        ]
        return {"stored": state.add_feedback(events)}

    return r
