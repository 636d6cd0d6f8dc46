"""Request and response bodies of the HTTP API (pydantic), with the checks that make bad input
a 4xx with a clear message instead of an error deeper down.

Ids are strings of 1 to 256 characters without control characters; a JSON number is read as
its decimal string (``42`` and ``"42"`` name the same item). Texts may not hold NUL characters
or unpaired surrogates (which could not be stored). Unknown fields are rejected, so a typo
(``"tail_wieght"``) is an error rather than silently ignored. Limits that depend on the
service's settings (largest ``k``, list lengths, text length) are checked by the routes.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from tailwise.rerank import RERANKERS
from tailwise.text.template import ItemTemplate

MAX_ID_CHARS = 256
#: the largest seed a request may give (a 63-bit integer)
MAX_SEED = 2**63 - 1
SEED_HELP = "seed of the stochastic re-ranker (default: a new one per request)"
#: the latest accepted event time, epoch seconds (the year 2200)
MAX_TIMESTAMP = 7_258_118_400.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")

#: fields of ``POST /items`` joined into an item's text, in this order, when no text is given
ITEM_FIELDS = ("title", "genres", "brand", "tags", "description")
_TEMPLATE = ItemTemplate(fields=ITEM_FIELDS)

RerankName = Literal[("none", *RERANKERS)]  # type: ignore[valid-type]
EventType = Literal["view", "click", "purchase", "rating"]


def check_id(value: str) -> str:
    """An id as the API accepts it (see the module docstring); ValueError says what is wrong."""
    if not value:
        raise ValueError("must not be empty")
    if len(value) > MAX_ID_CHARS:
        raise ValueError(f"must have at most {MAX_ID_CHARS} characters, not {len(value)}")
    if _CONTROL.search(value):
        raise ValueError("must not contain control characters")
    if _SURROGATE.search(value):
        raise ValueError("must be valid Unicode (found an unpaired surrogate)")
    return value


def check_text(value: str) -> str:
    """A free text: no NUL characters and no unpaired surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if _SURROGATE.search(value):
        raise ValueError("must be valid Unicode (found an unpaired surrogate)")
    return value


Id = Annotated[str, AfterValidator(check_id)]
Text = Annotated[str, AfterValidator(check_text)]
_CONFIG = ConfigDict(extra="forbid", coerce_numbers_to_str=True)


def parse_timestamp(value: float | str | None) -> float | None:
    """Epoch seconds from a number, a numeric string or an ISO-8601 date (UTC when no zone).

    Examples
    --------
    >>> parse_timestamp("2024-05-01T12:00:00Z"), parse_timestamp("1714564800"), parse_timestamp(None)
    (1714564800.0, 1714564800.0, None)
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            seconds = float(text)
        except ValueError:
            try:
                when = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
            except ValueError:
                raise ValueError(f"must be an ISO-8601 date or epoch seconds, not {value!r}") from None
            if when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
            seconds = when.timestamp()
    else:
        seconds = float(value)
    if not math.isfinite(seconds) or not 0 <= seconds <= MAX_TIMESTAMP:
        raise ValueError(f"must be between 1970 and 2200 (epoch seconds 0 to {MAX_TIMESTAMP:.0f}), not {value!r}")
    return seconds


# ---------------------------------------------------------------------- requests
class RecommendRequest(BaseModel):
    """``POST /recommend``: a history of item ids and/or a free-text query, optionally within
    a whitelist of candidate item ids."""

    model_config = _CONFIG
    history: list[Id] | None = Field(None, description="item ids the user liked (a new user, no refit)")
    query: Text | None = Field(None, description="free text, e.g. 'space adventure for kids'")
    k: int = Field(10, ge=1, strict=True, description="list length (at most the service's max_k)")
    tail_weight: float = Field(0.0, ge=0.0, le=1.0, allow_inf_nan=False, description="re-ranker knob, 0 = off")
    rerank: RerankName = Field("xquad", description="re-ranker used when tail_weight > 0")
    seed: int | None = Field(None, ge=0, le=MAX_SEED, strict=True, description=SEED_HELP)
    candidates: list[Id] | None = Field(None, min_length=1, description="recommend only among these item ids")

    @model_validator(mode="after")
    def _needs_input(self) -> RecommendRequest:
        if not self.history and not (self.query and self.query.strip()):
            raise ValueError("give a non-empty history (item ids) and/or a query (text)")
        return self


class ItemIn(BaseModel):
    """One item of ``POST /items``: a text, or named fields joined into one."""

    model_config = _CONFIG
    item_id: Id
    text: Text | None = Field(None, description="the whole item text (title first)")
    title: Text | None = None
    genres: Text | list[Text] | None = None
    brand: Text | None = None
    tags: Text | list[Text] | None = None
    description: Text | None = None

    @model_validator(mode="after")
    def _needs_text(self) -> ItemIn:
        if not self.full_text().strip():
            raise ValueError(f"item {self.item_id!r} needs a non-empty text or one of the fields {', '.join(ITEM_FIELDS)}")
        return self

    def full_text(self) -> str:
        """The item text: `text` when given, else the named fields joined by the template."""
        if self.text is not None and self.text.strip():
            return self.text
        record = {f: ", ".join(v) if isinstance(v, list) else v for f in ITEM_FIELDS if (v := getattr(self, f))}
        return _TEMPLATE.render(record)


class ItemsRequest(BaseModel):
    """``POST /items``."""

    model_config = _CONFIG
    items: list[ItemIn] = Field(min_length=1)


class FeedbackEvent(BaseModel):
    """One event of ``POST /feedback``."""

    model_config = _CONFIG
    user_id: Id
    item_id: Id
    type: EventType
    value: float = Field(1.0, allow_inf_nan=False)
    timestamp: float | str | None = Field(None, description="ISO-8601 or epoch seconds; default: when received")

    @field_validator("timestamp")
    @classmethod
    def _time(cls, value: float | str | None) -> float | None:
        return parse_timestamp(value)


class FeedbackRequest(BaseModel):
    """``POST /feedback``."""

    model_config = _CONFIG
    events: list[FeedbackEvent] = Field(min_length=1)


# ---------------------------------------------------------------------- responses
class RecItem(BaseModel):
    item_id: str
    rank: int
    score: float
    tail: bool
    title: str
    because: str


class RecommendResponse(BaseModel):
    user_id: str | None
    known: bool
    model: str
    items: list[RecItem]


class SimilarResponse(BaseModel):
    item_id: str
    items: list[RecItem]


class ItemsResponse(BaseModel):
    added: int
    updated: int
    batches: int = Field(description="batches placed and committed one after another; each was recommendable once committed")
    live_at: str = Field(description="when the last batch went live (ISO-8601, UTC): every item is recommendable from then on")


class ItemInfo(BaseModel):
    item_id: str
    title: str
    text: str
    interactions: int
    tail: bool
    new: bool


class FoundItem(BaseModel):
    item_id: str
    title: str
    interactions: int
    tail: bool
    new: bool
    score: float


class SearchResponse(BaseModel):
    query: str
    items: list[FoundItem]


class FeedbackResponse(BaseModel):
    stored: int


class Health(BaseModel):
    status: str


class Info(BaseModel):
    model: str
    params: dict[str, Any]
    created: str | None
    loaded_at: str
    counts: dict[str, int]
    pseudonymised: bool
    versions: dict[str, str]


class UserSummary(BaseModel):
    user_id: str
    interactions: int


class UsersResponse(BaseModel):
    total: int
    users: list[UserSummary]


class ErrorResponse(BaseModel):
    detail: str
