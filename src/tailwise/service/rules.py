"""The rules the HTTP API holds ids, texts and times to, in one place: each as a check with a
clear message (what the server enforces) and as a JSON-schema pattern (what the OpenAPI schema
declares), so that the two cannot drift apart.

Patterns are written for both ECMA-262 (JSON Schema) and Python's :mod:`re`; the server matches
them with :func:`re.fullmatch` or :func:`re.search` exactly as a JSON-schema validator reads them.
No pydantic or FastAPI here: the keys file (:mod:`tailwise.service.keys`) uses the id rule too.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

MAX_ID_CHARS = 256
#: an id: one or more characters, none of them a control character (C0 or DEL)
ID_PATTERN = r"^[^\x00-\x1f\x7f]+$"
#: a free text: no NUL character
TEXT_PATTERN = r"^[^\x00]*$"
#: a text with something in it: a character that is not white space (searched, not matched)
NONBLANK_PATTERN = r"\S"
#: the latest accepted event time, epoch seconds (the year 2200)
MAX_TIMESTAMP = 7_258_118_400.0
_YEAR = r"(19[7-9]\d|2[01]\d\d)"
_LEAP_YEAR = r"(19(7[26]|8[048]|9[26])|20([02468][048]|[13579][26])|21(0[48]|[2468][048]|[13579][26]))"
_MONTH_DAY = r"((0[13578]|1[02])-(0[1-9]|[12]\d|3[01])|(0[469]|11)-(0[1-9]|[12]\d|30)|02-(0[1-9]|1\d|2[0-8]))"
_TIME = r"([T ]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?(Z|[+-]([01]\d|2[0-3]):[0-5]\d)?)?"
_EPOCH = r"(\d{1,9}|[1-6]\d{9}|7[01]\d{8}|72[0-4]\d{7})(\.\d{1,6})?"
#: an event time as text: an ISO-8601 date or date-time of the years 1970-2199 (UTC when it has
#: no zone), or epoch seconds in decimal (0 to 7,249,999,999)
TIMESTAMP_PATTERN = rf"^({_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29){_TIME}$|^{_EPOCH}$"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
_TIMESTAMP = re.compile(TIMESTAMP_PATTERN)


def check_id(value: str) -> str:
    """An id as the API accepts it (:data:`ID_PATTERN`, at most :data:`MAX_ID_CHARS` characters,
    valid Unicode); ValueError says what is wrong.

    Examples
    --------
    >>> check_id("movie 42")
    'movie 42'
    >>> check_id("a\\tb")
    Traceback (most recent call last):
    ...
    ValueError: must not contain control characters
    """
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
    """A free text: no NUL characters (:data:`TEXT_PATTERN`) and no unpaired surrogates."""
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    if _SURROGATE.search(value):
        raise ValueError("must be valid Unicode (found an unpaired surrogate)")
    return value


def is_blank(value: str | None) -> bool:
    """Whether a text is missing or holds white space only (no match of :data:`NONBLANK_PATTERN`)."""
    return value is None or re.search(NONBLANK_PATTERN, value) is None


def parse_timestamp(value: float | str | None) -> float | None:
    """Epoch seconds from a number (0 to :data:`MAX_TIMESTAMP`) or a text of
    :data:`TIMESTAMP_PATTERN` (ISO-8601, UTC when it has no zone, or decimal epoch seconds).

    Examples
    --------
    >>> parse_timestamp("2024-05-01T12:00:00Z"), parse_timestamp("1714564800"), parse_timestamp(None)
    (1714564800.0, 1714564800.0, None)
    """
    if value is None:
        return None
    if isinstance(value, str):
        if not _TIMESTAMP.fullmatch(value):
            raise ValueError(f"must be an ISO-8601 date or epoch seconds of the years 1970 to 2199, not {value[:40]!r}")
        if value[4:5] != "-":
            return float(value)
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    seconds = float(value)
    if not 0 <= seconds <= MAX_TIMESTAMP:  # NaN fails too
        raise ValueError(f"must be between 1970 and 2200 (epoch seconds 0 to {MAX_TIMESTAMP:.0f}), not {value!r}")
    return seconds
