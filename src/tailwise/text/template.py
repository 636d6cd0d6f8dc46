"""Item text from a template over item columns, cut to a token budget.

The budget counts **whitespace-separated words**, not model tokens: it is cheap, the same for
every encoder, and keeps the cache key (a hash of the text) independent of the encoder. English
words make about 1.3 WordPiece tokens each, so ``max_tokens=128`` words stay inside MiniLM's
256-token window; Chinese or Japanese text without spaces counts as few "words" and is then
bounded by the encoder's own truncation instead.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

#: values treated as missing fields (after stripping whitespace)
MISSING = frozenset({"", "N/A"})

_END_PUNCT = (".", "!", "?", "…", "。", "！", "？")


def truncate_words(text: str, max_tokens: int | None) -> str:
    """The first `max_tokens` whitespace-separated words of `text`.

    A text within the budget is returned unchanged (so its cache key does not move); a longer
    one is cut and its words joined by single spaces. Joined item texts put the longest, least
    important field (the plot) last, so cutting from the end keeps titles.

    Parameters
    ----------
    text : str
        The text to cut.
    max_tokens : int or None
        Word budget; None means no limit.

    Examples
    --------
    >>> truncate_words("Toy Story (1995). Animation. A cowboy doll is threatened", 4)
    'Toy Story (1995). Animation.'
    >>> truncate_words("short  text", 10)
    'short  text'
    """
    if max_tokens is None:
        return text
    if max_tokens < 0:
        raise ValueError(f"max_tokens must be non-negative or None, not {max_tokens}")
    words = text.split()
    if len(words) <= max_tokens:
        return text
    return " ".join(words[:max_tokens])


def _clean(value: object, missing: frozenset[str]) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = " ".join(str(value).split())
    return "" if text in missing else text


@dataclass(frozen=True)
class ItemTemplate:
    """Joins item fields into one text, in field order, within a word budget.

    Parameters
    ----------
    fields : tuple of str
        Column names, most important first (e.g. title, genres, director, actors, plot).
    max_tokens : int or None
        Word budget of the whole text (see the module docstring); None means no limit. When the
        text is too long, the **last** fields are cut first: a field that crosses the budget is
        cut to the words that fit and the fields after it are dropped.
    labels : bool
        Prefix each value with its field name (``"Director: Jane Doe"``); label words count
        toward the budget.
    missing : frozenset of str
        Values treated as absent; None and NaN are absent too.

    Notes
    -----
    Values are stripped and their inner whitespace collapsed to single spaces. Fields are
    joined with ``". "``, or with a single space after a value that already ends in a full stop,
    exclamation or question mark (so no ``".."`` appears).

    Examples
    --------
    >>> t = ItemTemplate(fields=("title", "genres", "plot"), max_tokens=6)
    >>> t.render({"title": "Heat (1995)", "genres": "N/A", "plot": "A cop hunts a thief across L.A."})
    'Heat (1995). A cop hunts a'
    >>> ItemTemplate(fields=("title", "genres"), labels=True).render({"title": "Heat", "genres": "Crime"})
    'Title: Heat. Genres: Crime'
    """

    fields: tuple[str, ...]
    max_tokens: int | None = None
    labels: bool = False
    missing: frozenset[str] = MISSING

    def __post_init__(self) -> None:
        if isinstance(self.fields, str) or not self.fields:
            raise ValueError("fields must be a non-empty tuple of column names")
        object.__setattr__(self, "fields", tuple(self.fields))
        if self.max_tokens is not None and self.max_tokens < 0:
            raise ValueError(f"max_tokens must be non-negative or None, not {self.max_tokens}")

    def _label(self, field: str) -> list[str]:
        if not self.labels:
            return []
        return (field.replace("_", " ").strip().capitalize() + ":").split()

    def parts(self, record: Mapping[str, object]) -> list[str]:
        """The kept field texts (labelled when asked), in order, after the word budget."""
        out: list[str] = []
        left = self.max_tokens
        for field in self.fields:
            value = _clean(record.get(field), self.missing)
            if not value:
                continue
            words = self._label(field) + value.split()
            if left is not None:
                if left <= len(self._label(field)):
                    break  # not even one word of the value fits
                words = words[:left]
                left -= len(words)
            out.append(" ".join(words))
            if left == 0:
                break
        return out

    def render(self, record: Mapping[str, object]) -> str:
        """The item text of one record (a mapping of column name to value).

        Columns not in :attr:`fields` are ignored; absent, empty and missing values are skipped.
        A record with no usable field gives ``""``.
        """
        text = ""
        for part in self.parts(record):
            if text:
                text += " " if text.endswith(_END_PUNCT) else ". "
            text += part
        return text

    def render_many(self, records: Iterable[Mapping[str, object]]) -> list[str]:
        """:meth:`render` over records."""
        return [self.render(r) for r in records]

    def render_columns(self, columns: Mapping[str, Sequence[object]]) -> list[str]:
        """:meth:`render` over column-oriented data (column name to equally long sequences).

        Examples
        --------
        >>> ItemTemplate(fields=("title", "year")).render_columns({"title": ["A", "B"], "year": ["1999", ""]})
        ['A. 1999', 'B']
        """
        used = [f for f in self.fields if f in columns]
        if not used:
            raise ValueError(f"none of the template fields {list(self.fields)} is a column")
        lengths = {len(columns[f]) for f in used}
        if len(lengths) > 1:
            raise ValueError(f"columns have different lengths: {sorted(lengths)}")
        n = lengths.pop()
        return [self.render({f: columns[f][i] for f in used}) for i in range(n)]
