"""Loading interactions and item text from generic files into a :class:`Dataset`.

Policies (documented in ``docs/data.md``):

- **duplicate (user, item) pairs**: ``on_duplicate="last"`` (default) keeps the latest one (by
  timestamp when there is one, else by file order) and logs how many were dropped; ``"first"``
  keeps the earliest; ``"error"`` stops at the first repeat, naming both lines.
- **items without text**: ``on_missing_text="keep"`` (default) keeps them with empty text (CF
  models use them as usual; text models treat them as unknown); ``"drop"`` removes them and their
  interactions; ``"error"`` stops, naming the item. An item that appears in the interactions but
  not in the items file counts as an item without text.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tailwise.data import columnar
from tailwise.data.dataset import Dataset
from tailwise.data.tables import Table, read_table
from tailwise.errors import DataError

log = logging.getLogger(__name__)

DUPLICATE_POLICIES = ("last", "first", "error")
MISSING_TEXT_POLICIES = ("keep", "drop", "error")


@dataclass(frozen=True)
class Columns:
    """Column names of an interactions file; rating and timestamp are optional.

    ``rating`` and ``timestamp`` default to ``"auto"``: used when a column of that name exists.
    Pass ``None`` to ignore such a column.
    """

    user: str = "user_id"
    item: str = "item_id"
    rating: str | None = "auto"
    timestamp: str | None = "auto"


#: ratings are stored as float32: a larger magnitude would overflow to infinity
MAX_RATING = float(np.finfo(np.float32).max)


def _numeric(table: Table, name: str, role: str, limit: float | None = None) -> np.ndarray:
    """The column as finite float64 numbers, at most `limit` in magnitude; the first bad value
    is a DataError naming its line."""
    raw = table.column(name, role)
    values = pd.to_numeric(pd.Series(raw), errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if len(bad):
        row = int(bad[0])
        shown = str(raw[row]) if raw[row] else "(empty)"
        raise table.fail(
            row, name, f"{role} must be a number, found {shown!r} ({len(bad)} bad rows in all)"
        )
    big = np.flatnonzero(np.abs(values) > limit) if limit is not None else []
    if len(big):
        row = int(big[0])
        raise table.fail(row, name, f"{role} {str(raw[row])!r} is out of range: at most {limit:.4g} in magnitude ({len(big)} such rows in all)")
    return values


def _ids(table: Table, name: str, role: str) -> np.ndarray:
    values = np.char.strip(table.column(name, role))
    empty = np.flatnonzero(values == "")
    if len(empty):
        raise table.fail(int(empty[0]), name, f"{role} is empty")
    return values


def _parse_timestamp(table: Table, name: str) -> np.ndarray:
    """Timestamps as float64: numbers as they are, or dates as seconds since the epoch.

    A column is numeric when most of its values are numbers, else a column of dates; the first
    value that does not fit the column's kind is a DataError naming its own line and value."""
    raw = table.column(name, "timestamp")
    numeric = pd.to_numeric(pd.Series(raw), errors="coerce")
    finite = np.isfinite(numeric.to_numpy(dtype=np.float64))
    if finite.all():
        return numeric.to_numpy(dtype=np.float64)
    if finite.mean() > 0.5:
        row = int(np.flatnonzero(~finite)[0])
        raise table.fail(row, name, f"timestamp must be a number like the rest of the column, found {str(raw[row])!r}")
    parsed = pd.to_datetime(pd.Series(raw), errors="coerce", utc=True, format="mixed")
    bad = np.flatnonzero(parsed.isna().to_numpy() | finite)
    if len(bad):
        row = int(bad[0])
        raise table.fail(row, name, f"timestamp is not a date like the rest of the column: {str(raw[row])!r}")
    # seconds since the epoch, whatever resolution pandas parsed to (ns, us or s)
    seconds = (parsed - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(seconds=1)
    return seconds.to_numpy(dtype=np.float64)


@dataclass(frozen=True)
class Interactions:
    """Parsed interactions with external ids, before they are indexed."""

    path: str
    users: np.ndarray
    items: np.ndarray
    rating: np.ndarray | None
    timestamp: np.ndarray | None
    lines: np.ndarray


def parse_interactions(
    table: Table, columns: Columns = Columns(), on_duplicate: str = "last"
) -> Interactions:
    """Check and convert an interactions table; see the module docstring for the policies."""
    if on_duplicate not in DUPLICATE_POLICIES:
        raise ValueError(f"on_duplicate must be one of {DUPLICATE_POLICIES}")
    cols = set(table.frame.columns)
    rating_col = ("rating" if "rating" in cols else None) if columns.rating == "auto" else columns.rating
    ts_col = (
        ("timestamp" if "timestamp" in cols else None)
        if columns.timestamp == "auto"
        else columns.timestamp
    )
    users = _ids(table, columns.user, "user id")
    items = _ids(table, columns.item, "item id")
    rating = None if rating_col is None else _numeric(table, rating_col, "rating", MAX_RATING)
    ts = None if ts_col is None else _parse_timestamp(table, ts_col)
    keep = _dedupe(table, users, items, ts, on_duplicate, columns.item)
    return Interactions(
        path=table.path,
        users=users[keep],
        items=items[keep],
        rating=None if rating is None else rating[keep].astype(np.float32),
        timestamp=None if ts is None else ts[keep],
        lines=table.lines[keep],
    )


def _dedupe(
    table: Table,
    users: np.ndarray,
    items: np.ndarray,
    ts: np.ndarray | None,
    policy: str,
    item_col: str,
) -> np.ndarray:
    pairs = pd.DataFrame({"u": users, "i": items})
    dup_later = pairs.duplicated(keep="first").to_numpy()
    if not dup_later.any():
        return np.arange(len(users))
    if policy == "error":
        row = int(np.flatnonzero(dup_later)[0])
        first = int(np.flatnonzero((users == users[row]) & (items == items[row]))[0])
        user, item = str(users[row]), str(items[row])
        raise table.fail(
            row,
            item_col,
            f"duplicate pair (user {user!r}, item {item!r}), first seen on line "
            f"{table.lines[first]}; choose a duplicate policy (--on-duplicate last|first)",
        )
    order = np.arange(len(users)) if ts is None else np.lexsort((np.arange(len(users)), ts))
    ordered = pairs.iloc[order]
    keep_mask = ~ordered.duplicated(keep="last" if policy == "last" else "first").to_numpy()
    kept = np.sort(order[keep_mask])
    log.warning(
        "%s: %d duplicate (user, item) pairs; kept the %s of each",
        table.path,
        len(users) - len(kept),
        policy,
    )
    return kept


def parse_items(
    table: Table,
    item_col: str = "item_id",
    text_cols: list[str] | None = None,
    joiner: str = ". ",
) -> dict[str, str]:
    """Item id -> text, joining the chosen columns (default: every column but the id).

    A repeated item id is an error naming both lines.
    """
    ids = _ids(table, item_col, "item id")
    cols = text_cols or [c for c in table.frame.columns if c != item_col]
    parts = [np.char.strip(table.column(c, "text")) for c in cols]
    seen: dict[str, int] = {}
    out: dict[str, str] = {}
    for row, item in enumerate(ids.tolist()):
        if item in seen:
            raise table.fail(
                row, item_col, f"item {item!r} is listed twice (first on line {seen[item]})"
            )
        seen[item] = int(table.lines[row])
        out[item] = joiner.join(p[row] for p in parts if p[row] and p[row] != "N/A")
    return out


def build_dataset(
    inter: Interactions,
    item_text: dict[str, str] | None,
    on_missing_text: str = "keep",
    name: str = "dataset",
) -> Dataset:
    """Index interactions and text into a Dataset, applying the missing-text policy."""
    if on_missing_text not in MISSING_TEXT_POLICIES:
        raise ValueError(f"on_missing_text must be one of {MISSING_TEXT_POLICIES}")
    users, items, rating, ts = inter.users, inter.items, inter.rating, inter.timestamp
    if item_text is not None:
        has_text = np.fromiter((bool(item_text.get(i)) for i in items), bool, len(items))
        if not has_text.all():
            row = int(np.flatnonzero(~has_text)[0])
            missing = sorted(set(items[~has_text].tolist()))
            msg = f"{len(missing)} items have no text, e.g. item {str(items[row])!r}"
            if on_missing_text == "error":
                raise DataError(msg + " (--on-missing-text keep|drop)", inter.path, int(inter.lines[row]), "item_id")
            if on_missing_text == "drop":
                users, items = users[has_text], items[has_text]
                rating = None if rating is None else rating[has_text]
                ts = None if ts is None else ts[has_text]
                item_text = {k: v for k, v in item_text.items() if v}
                log.warning("%s: %s; dropped them and their interactions", inter.path, msg)
                if not len(users):
                    raise DataError("no interactions left after dropping items without text", inter.path)
            else:
                log.warning("%s: %s; kept them with empty text", inter.path, msg)
    return Dataset.from_ids(users, items, rating=rating, timestamp=ts, item_text=item_text, name=name)


def load_dataset(
    interactions: str | Path,
    items: str | Path | None = None,
    columns: Columns = Columns(),
    item_col: str | None = None,
    text_cols: list[str] | None = None,
    fmt: str | None = None,
    sep: str | None = None,
    encoding: str = "utf-8",
    on_duplicate: str = "last",
    on_missing_text: str = "keep",
    name: str | None = None,
) -> Dataset:
    """Load an interactions file (and optionally an items file) into a Dataset.

    Parameters
    ----------
    interactions : path
        CSV/TSV/Parquet/JSONL with a header: user and item columns plus optional rating and
        timestamp (names set by `columns`).
    items : path, optional
        A file with the item id column and text columns; items listed here without any
        interaction are kept as cold items.
    item_col : str, optional
        The item id column of the items file (default: the same as ``columns.item``).
    text_cols : list of str, optional
        Columns joined into the item text (default: every other column of the items file).

    CSV/TSV and Parquet files are read column by column with pyarrow when it is installed
    (:mod:`tailwise.data.columnar`: a 20M-row log in a few GB); unusual or bad files, and every
    file without pyarrow, are read row by row, which reports bad values by file, line and field.
    Both give the same Dataset.
    """
    if on_duplicate not in DUPLICATE_POLICIES:
        raise ValueError(f"on_duplicate must be one of {DUPLICATE_POLICIES}")
    if on_missing_text not in MISSING_TEXT_POLICIES:
        raise ValueError(f"on_missing_text must be one of {MISSING_TEXT_POLICIES}")
    name = name or Path(interactions).stem
    item_col = item_col or columns.item
    item_text = None
    if items is not None:
        try:
            item_text = columnar.read_item_text(Path(items), item_col, text_cols, encoding)
        except columnar.Fallback as why:
            log.debug("%s: reading it row by row (%s)", items, why)
            try:
                item_text = parse_items(read_table(items, encoding=encoding), item_col, text_cols)
            except DataError:
                # the row path reports a bad interactions file before a bad items file
                parse_interactions(
                    read_table(interactions, fmt=fmt, sep=sep, encoding=encoding),
                    columns,
                    on_duplicate,
                )
                raise
    try:
        return columnar.load_interactions_dataset(
            Path(interactions),
            columns,
            fmt,
            sep,
            encoding,
            on_duplicate,
            on_missing_text,
            item_text,
            name,
        )
    except columnar.Fallback as why:
        log.debug("%s: reading it row by row (%s)", interactions, why)
    inter_table = read_table(interactions, fmt=fmt, sep=sep, encoding=encoding)
    inter = parse_interactions(inter_table, columns, on_duplicate)
    return build_dataset(inter, item_text, on_missing_text, name)
