"""Request and response bodies of the HTTP API (pydantic), with the checks that make bad input
a 4xx with a clear message instead of an error deeper down, and the OpenAPI schema that
declares those checks (so a client, or a schema-based fuzzer, knows what will be accepted).

Ids are strings of 1 to 256 characters without control characters; texts may not hold NUL
characters or unpaired surrogates (:mod:`tailwise.service.rules`). Strings and numbers are
strict: a JSON number where a string is declared (``42`` for an id, ``NaN`` for an item id) is
refused, and so is a string where a number is. Unknown fields are rejected, so a typo
(``"tail_wieght"``) is an error rather than silently ignored. Rules across fields (a history
or a query; an item's text or one of its fields) are declared with ``anyOf``. Limits that depend
on the service's settings (largest ``k``, list lengths, text length) are checked by the routes
and declared by :func:`tailwise.service.openapi.declare_limits`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    field_validator,
    model_validator,
)
from pydantic.json_schema import GetJsonSchemaHandler, JsonSchemaValue
from pydantic_core import CoreSchema

from tailwise.rerank import RERANKERS
from tailwise.service.rules import (
    ID_PATTERN,
    MAX_ID_CHARS,
    MAX_TIMESTAMP,
    NONBLANK_PATTERN,
    TEXT_PATTERN,
    TIMESTAMP_PATTERN,
    check_id,
    check_text,
    is_blank,
    parse_timestamp,
)
from tailwise.text.template import ItemTemplate

#: the largest seed a request may give (a 63-bit integer)
MAX_SEED = 2**63 - 1
SEED_HELP = "seed of the stochastic re-ranker (default: a new one per request)"

#: fields of ``POST /items`` joined into an item's text, in this order, when no text is given
ITEM_FIELDS = ("title", "genres", "brand", "tags", "description")
#: the fields of ``POST /items`` that may also be lists of strings
LIST_FIELDS = ("genres", "tags")
_TEMPLATE = ItemTemplate(fields=ITEM_FIELDS)

RerankName = Literal[("none", *RERANKERS)]  # type: ignore[valid-type]
EventType = Literal["view", "click", "purchase", "rating"]


class Declare:
    """Annotation metadata that adds JSON-schema keywords to a type's schema: the declaration of
    a rule that a validator of the same annotation enforces with its own message."""

    def __init__(self, **keywords: Any) -> None:
        self.keywords = keywords

    def __get_pydantic_json_schema__(self, core_schema: CoreSchema, handler: GetJsonSchemaHandler) -> JsonSchemaValue:
        schema = handler(core_schema)
        schema.update(self.keywords)
        return schema


def check_words(value: str) -> str:
    """Search words: a text (:func:`check_text`) with some non-blank character."""
    if is_blank(check_text(value)):
        raise ValueError("must contain some non-blank text")
    return value


def _integral(value: Any) -> Any:
    """A float with no fraction (``74.0``, a JSON-schema integer) as an int; anything else as it
    is, for the strict int check (which refuses strings, booleans and fractions)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


_NONBLANK = {"type": "string", "pattern": NONBLANK_PATTERN}
#: JSON-schema integers: an int or a float without fraction, never a string or a boolean
#: (the bounds go before the validator, or pydantic's schema names them "ge"/"le")
Length = Annotated[int, Field(strict=True, ge=1), BeforeValidator(_integral)]
Seed = Annotated[int, Field(strict=True, ge=0, le=MAX_SEED), BeforeValidator(_integral)]
Id = Annotated[str, AfterValidator(check_id), Declare(minLength=1, maxLength=MAX_ID_CHARS, pattern=ID_PATTERN)]
Text = Annotated[str, AfterValidator(check_text), Declare(pattern=TEXT_PATTERN)]
Words = Annotated[str, AfterValidator(check_words), Declare(allOf=[{"pattern": TEXT_PATTERN}, {"pattern": NONBLANK_PATTERN}])]
Timestamp = Annotated[
    Annotated[float, Strict()] | str | None,
    Declare(anyOf=[{"type": "number", "minimum": 0, "maximum": MAX_TIMESTAMP},
                   {"type": "string", "pattern": TIMESTAMP_PATTERN}, {"type": "null"}]),
]  # fmt: skip


def _config(**json_schema_extra: Any) -> ConfigDict:
    """Unknown fields refused, strings strict (pydantic never turns a number into a string)."""
    return ConfigDict(extra="forbid", json_schema_extra=json_schema_extra or None)


def _nonblank_field(name: str) -> dict[str, Any]:
    """The schema of "field `name` is given and has some non-blank text"."""
    value = {"anyOf": [_NONBLANK, {"type": "array", "contains": _NONBLANK}]} if name in LIST_FIELDS else _NONBLANK
    return {"required": [name], "properties": {name: value}}


# ---------------------------------------------------------------------- requests
class RecommendRequest(BaseModel):
    """``POST /recommend``: a history of item ids and/or a free-text query, optionally within
    a whitelist of candidate item ids."""

    model_config = _config(anyOf=[
        {"required": ["history"], "properties": {"history": {"type": "array", "minItems": 1}}},
        {"required": ["query"], "properties": {"query": _NONBLANK}},
    ])  # fmt: skip
    history: list[Id] | None = Field(None, description="item ids the user liked (a new user, no refit)")
    query: Text | None = Field(None, description="free text, e.g. 'space adventure for kids': items relevant to it come first")
    user_id: Id | None = Field(None, description="a known user whose taste (training history plus feedback, plus `history`) orders the list")
    k: Length = Field(10, description="list length (at most the service's max_k)")
    tail_weight: float = Field(0.0, ge=0.0, le=1.0, strict=True, allow_inf_nan=False, description="re-ranker knob, 0 = off")
    rerank: RerankName = Field("xquad", description="re-ranker used when tail_weight > 0")
    seed: Seed | None = Field(None, description=SEED_HELP)
    candidates: list[Id] | None = Field(None, min_length=1, description="recommend only among these item ids")

    @model_validator(mode="after")
    def _needs_input(self) -> RecommendRequest:
        if not self.history and is_blank(self.query):
            raise ValueError("give a non-empty history (item ids) and/or a query (text)")
        return self


class ItemIn(BaseModel):
    """One item of ``POST /items``: a text, or named fields joined into one."""

    model_config = _config(anyOf=[_nonblank_field(f) for f in ("text", *ITEM_FIELDS)])
    item_id: Id
    text: Text | None = Field(None, description="the whole item text (title first)")
    title: Text | None = None
    genres: Text | list[Text] | None = None
    brand: Text | None = None
    tags: Text | list[Text] | None = None
    description: Text | None = None

    @model_validator(mode="after")
    def _needs_text(self) -> ItemIn:
        if is_blank(self.full_text()):
            raise ValueError(f"item {self.item_id!r} needs a non-empty text or one of the fields {', '.join(ITEM_FIELDS)}")
        return self

    def longest_text(self) -> int:
        """The length of its longest text: `text`, a named field or an entry of a list field
        (each is limited, as the OpenAPI schema declares; the joined text is not)."""
        values = [getattr(self, f) for f in ("text", *ITEM_FIELDS)]
        return max((len(v) for value in values for v in ([value] if isinstance(value, str) else value or [])), default=0)

    def full_text(self) -> str:
        """The item text: `text` when not blank, else the non-blank named fields (and list
        entries) joined by the template."""
        if not is_blank(self.text):
            return self.text
        record = {}
        for f in ITEM_FIELDS:
            values = getattr(self, f)
            values = [values] if isinstance(values, str) else values or []
            if joined := ", ".join(v for v in values if not is_blank(v)):
                record[f] = joined
        return _TEMPLATE.render(record)


class ItemsRequest(BaseModel):
    """``POST /items``."""

    model_config = _config()
    items: list[ItemIn] = Field(min_length=1)


class FeedbackEvent(BaseModel):
    """One event of ``POST /feedback``."""

    model_config = _config()
    user_id: Id
    item_id: Id
    type: EventType
    value: float = Field(1.0, strict=True, allow_inf_nan=False)
    timestamp: Timestamp = Field(None, description="ISO-8601 or epoch seconds; default: when received")

    @field_validator("timestamp")
    @classmethod
    def _time(cls, value: float | str | None) -> float | None:
        return parse_timestamp(value)


class FeedbackRequest(BaseModel):
    """``POST /feedback``."""

    model_config = _config()
    events: list[FeedbackEvent] = Field(min_length=1)


# ---------------------------------------------------------------------- responses
class RecItem(BaseModel):
    item_id: str
    rank: int
    score: float
    tail: bool
    title: str
    because: str


class QueryMatch(BaseModel):
    """How a list answers its free-text query."""

    relevant: int = Field(description="how many of the first items are relevant to the query (0: none is)")
    note: str | None = Field(None, description="why the list does not follow the query, when it does not")


class RecommendResponse(BaseModel):
    user_id: str | None
    known: bool
    model: str
    items: list[RecItem]
    query: QueryMatch | None = None


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


class ReloadResponse(BaseModel):
    reloaded: bool


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
