"""Loading large interaction files column by column with pyarrow, without a Python object per row.

The row path (:mod:`tailwise.data.tables` and :func:`tailwise.data.loaders.parse_interactions`)
turns every field into a Python string, which for a 20M-row log takes more than 10 GB. This path
reads CSV/TSV and Parquet files with pyarrow into dictionary-encoded id columns: each id becomes
an integer code, each distinct id one string. Duplicate pairs, first-seen order and the missing
text policy all work on the codes.

It covers the usual case only: a UTF-8 file with a header, a one-character separator, id columns
of strings or integers, numbers in the rating and timestamp columns, every value present. For
anything else (a bad or missing value, a date column, a file pyarrow cannot parse, a policy that
stops with an error) it raises :class:`Fallback` and the caller takes the row path, which handles
the case or reports the file, line and field. For a file both paths read, they build the same
:class:`~tailwise.data.dataset.Dataset`.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import importlib.util
import logging
from pathlib import Path

import numpy as np

from tailwise.data.dataset import Dataset
from tailwise.data.idmap import IdMap
from tailwise.data.tables import detect_format
from tailwise.errors import DataError

log = logging.getLogger(__name__)

#: a number as both pandas and pyarrow read it the same way (no spaces, nan, inf or hex)
NUMBER = r"^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$"


class Fallback(Exception):
    """This file or option needs the row path (which also reports located errors)."""


def usable(encoding: str) -> None:
    """Fallback unless pyarrow is installed and the encoding is UTF-8 (all pyarrow reads)."""
    try:
        utf8 = codecs.lookup(encoding).name == "utf-8"
    except LookupError:
        utf8 = False
    if not utf8 or importlib.util.find_spec("pyarrow") is None:
        raise Fallback("no pyarrow, or not UTF-8")


# ---------------------------------------------------------------------------------- reading
def _header(path: Path, sep: str) -> list[str]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", newline="") as f:
            line = f.readline()
    except (OSError, UnicodeDecodeError, EOFError):
        raise Fallback("unreadable header") from None
    fields = next(csv.reader([line.removeprefix("\ufeff").rstrip("\r\n")], delimiter=sep), [])
    names = [c.strip() for c in fields]
    if not names or len(set(names)) != len(names) or "" in names or line.count('"') % 2:
        raise Fallback("an empty, repeated or multi-line column name")
    return names


def read_columns(path: Path, fmt: str, sep: str | None, wanted: dict[str, str]):
    """The `wanted` columns as a pyarrow table: name -> ``"text"`` (strings) or ``"number"``
    (float64 in CSV files; Parquet keeps its types). A name ``"auto:NAME"`` asks for NAME only
    when the file has it."""
    import pyarrow as pa

    if fmt == "parquet":
        names = _parquet_names(path)
    else:
        sep = sep or ("\t" if fmt == "tsv" else ",")
        if len(sep) != 1:
            raise Fallback("multi-character separator")
        names = _header(path, sep)
    kinds = {
        w.removeprefix("auto:"): kind
        for w, kind in wanted.items()
        if not w.startswith("auto:") or w[5:] in names
    }
    cols = list(kinds)
    if any(c not in names for c in cols):
        raise Fallback("a column is missing")
    try:
        if fmt == "parquet":
            import pyarrow.parquet as pq

            table = pq.read_table(path, columns=cols)
        else:
            import pyarrow.csv as pacsv

            types = {"text": pa.string(), "number": pa.float64()}
            table = pacsv.read_csv(
                path,
                read_options=pacsv.ReadOptions(column_names=names, skip_rows=1),
                parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(
                    column_types={c: types[k] for c, k in kinds.items()},
                    include_columns=cols,
                    strings_can_be_null=False,
                    quoted_strings_can_be_null=False,
                ),
            )
    except (pa.ArrowException, OSError) as exc:
        raise Fallback(f"pyarrow cannot read it: {exc}") from None
    if table.num_rows == 0 or any(table[c].null_count for c in cols):
        raise Fallback("no rows, or missing values")
    return table


def clean_id(value: str) -> str:
    """An id or text as the row path sees it: NumPy drops trailing NULs, then whitespace goes."""
    return value.rstrip("\x00").strip()


def encode_ids(column) -> tuple[np.ndarray, list[str]]:
    """(code per row, distinct cleaned ids): a string or integer column factorised."""
    import pyarrow as pa
    import pyarrow.compute as pc

    kind = column.type.value_type if pa.types.is_dictionary(column.type) else column.type
    if not (
        pa.types.is_integer(kind) or pa.types.is_string(kind) or pa.types.is_large_string(kind)
    ):
        raise Fallback(f"id column of type {kind}")
    if pa.types.is_dictionary(column.type):
        column = column.cast(kind)
    if pa.types.is_integer(kind):
        column = pc.cast(column, pa.string())
    # one hash table over all chunks: every chunk gets the final dictionary (else unify them)
    column = pc.dictionary_encode(column)
    if len({c.dictionary.buffers()[-1].address for c in column.chunks}) > 1:
        column = column.unify_dictionaries()
    raw = column.chunks[-1].dictionary.to_pylist()
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in column.chunks])
    clean = [clean_id(s) for s in raw]
    index: dict[str, int] = {}
    remap = np.fromiter((index.setdefault(s, len(index)) for s in clean), np.int64, len(clean))
    if "" in index:
        raise Fallback("an empty id")
    return remap[codes], list(index)


def numbers(column, limit: float | None = None) -> np.ndarray:
    """A numeric column (or one of plain number strings) as finite float64 within `limit`."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if pa.types.is_dictionary(column.type):  # parse each distinct string once
        column = column.unify_dictionaries()
        distinct = numbers(column.chunks[0].dictionary, limit)
        codes = [c.indices.to_numpy(zero_copy_only=False) for c in column.chunks]
        return distinct[np.concatenate(codes)]
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        if len(column) and not pc.all(pc.match_substring_regex(column, NUMBER)).as_py():
            raise Fallback("not plain numbers")
    elif not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise Fallback(f"numbers of type {column.type}")
    values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
    if not np.isfinite(values).all() or (
        limit is not None and len(values) and np.abs(values).max() > limit
    ):
        raise Fallback("a number out of range")
    return values


def read_item_text(
    path: Path, item_col: str, text_cols: list[str] | None, encoding: str, joiner: str = ". "
) -> dict[str, str]:
    """:func:`tailwise.data.loaders.parse_items` of a plain items file; :class:`Fallback` otherwise."""
    import pyarrow as pa

    usable(encoding)
    try:
        fmt = detect_format(path)
    except DataError:
        raise Fallback("unknown format") from None
    if fmt not in ("csv", "tsv", "parquet") or not path.is_file():
        raise Fallback(f"format {fmt}")
    if text_cols is None:
        if fmt == "parquet":
            names = _parquet_names(path)
        else:
            names = _header(path, "\t" if fmt == "tsv" else ",")
        text_cols = [c for c in names if c != item_col]
    if item_col in text_cols:
        raise Fallback("the id column is also a text column")
    table = read_columns(path, fmt, None, {item_col: "text", **dict.fromkeys(text_cols, "text")})
    for c in text_cols:
        value_type = (
            table[c].type.value_type if pa.types.is_dictionary(table[c].type) else table[c].type
        )
        if not (pa.types.is_string(value_type) or pa.types.is_large_string(value_type)):
            raise Fallback(f"text column of type {value_type}")
    codes, ids = encode_ids(table[item_col])
    if len(ids) != len(codes):
        raise Fallback("an item listed twice")
    parts = [[clean_id(t) for t in table[c].to_pylist()] for c in text_cols]
    del table
    return {
        ids[k]: joiner.join(t for t in texts if t and t != "N/A")
        for k, texts in zip(codes.tolist(), zip(*parts) if parts else [()] * len(codes))
    }


# ---------------------------------------------------------------------------------- indexing
def first_of_groups(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes renumbered by first appearance: (new code per row, old code of each new one)."""
    import pyarrow as pa

    enc = pa.array(codes).dictionary_encode()
    return enc.indices.to_numpy().astype(np.int64), enc.dictionary.to_numpy()


def keep_once(keys: np.ndarray, order: np.ndarray, policy: str) -> np.ndarray:
    """Rows to keep, ascending: of each repeated key, the first (or last) one in `order`."""
    seq = order if policy == "first" else order[::-1]
    group, _ = first_of_groups(keys[seq])
    seen = np.maximum.accumulate(group)
    is_first = np.empty(len(seq), dtype=bool)
    is_first[0] = True
    is_first[1:] = group[1:] > seen[:-1]  # groups are numbered by first appearance
    return np.sort(seq[is_first])


def load_interactions_dataset(
    path: Path,
    columns,
    fmt: str | None,
    sep: str | None,
    encoding: str,
    on_duplicate: str,
    on_missing_text: str,
    item_text: dict[str, str] | None,
    name: str,
) -> Dataset:
    """:func:`tailwise.data.loaders.load_dataset` for the usual case; :class:`Fallback` otherwise."""
    usable(encoding)
    try:
        fmt = fmt or detect_format(path)
    except DataError:
        raise Fallback("unknown format") from None
    if fmt not in ("csv", "tsv", "parquet") or not path.is_file():
        raise Fallback(f"format {fmt}")
    rating_col = "auto:rating" if columns.rating == "auto" else columns.rating
    ts_col = "auto:timestamp" if columns.timestamp == "auto" else columns.timestamp

    wanted = {columns.user: "text", columns.item: "text"}
    for col in (rating_col, ts_col):
        if col is not None:
            wanted[col] = "number"
    if len(wanted) < 2 + (rating_col is not None) + (ts_col is not None):
        raise Fallback("a column named twice")
    table = read_columns(path, fmt, sep, wanted)
    ucodes, user_ids = encode_ids(table[columns.user])
    icodes, item_ids = encode_ids(table[columns.item])
    rating_name = None if rating_col is None else rating_col.removeprefix("auto:")
    ts_name = None if ts_col is None else ts_col.removeprefix("auto:")
    from tailwise.data.loaders import MAX_RATING

    rating = numbers(table[rating_name], MAX_RATING) if rating_name in table.column_names else None
    ts = numbers(table[ts_name]) if ts_name in table.column_names else None
    del table

    keys = ucodes * len(item_ids) + icodes
    n_rows = len(keys)
    ordered = np.sort(keys)
    repeats = bool((ordered[1:] == ordered[:-1]).any())
    del ordered
    if repeats:
        if on_duplicate == "error":
            raise Fallback("duplicates with on_duplicate='error'")
        order = np.arange(n_rows) if ts is None else np.lexsort((np.arange(n_rows), ts))
        keep = keep_once(keys, order, on_duplicate)
        log.warning(
            "%s: %d duplicate (user, item) pairs; kept the %s of each",
            path,
            n_rows - len(keep),
            on_duplicate,
        )
        ucodes, icodes = ucodes[keep], icodes[keep]
        rating = None if rating is None else rating[keep]
        ts = None if ts is None else ts[keep]
    del keys

    if item_text is not None:
        has_text = np.fromiter((bool(item_text.get(i)) for i in item_ids), bool, len(item_ids))[
            icodes
        ]
        if not has_text.all():
            if on_missing_text == "error":
                raise Fallback("items without text with on_missing_text='error'")
            row = int(np.flatnonzero(~has_text)[0])
            n_missing = len(np.unique(icodes[~has_text]))
            msg = f"{n_missing} items have no text, e.g. item {item_ids[icodes[row]]!r}"
            if on_missing_text == "drop":
                if not has_text.any():
                    raise Fallback("nothing left")
                ucodes, icodes = ucodes[has_text], icodes[has_text]
                rating = None if rating is None else rating[has_text]
                ts = None if ts is None else ts[has_text]
                item_text = {k: v for k, v in item_text.items() if v}
                log.warning("%s: %s; dropped them and their interactions", path, msg)
            else:
                log.warning("%s: %s; kept them with empty text", path, msg)
    user_idx, user_order = first_of_groups(ucodes)
    item_idx, item_order = first_of_groups(icodes)
    users = IdMap([user_ids[k] for k in user_order.tolist()])
    seen = [item_ids[k] for k in item_order.tolist()]
    text = None
    if item_text is not None:  # cold items follow, in the items file's order
        known = set(seen)
        seen += [k for k in item_text if k not in known]
        text = np.asarray([item_text.get(x, "") for x in seen], dtype=object)
    items = IdMap(seen)
    return Dataset(
        users=users,
        items=items,
        user_idx=user_idx,
        item_idx=item_idx,
        rating=None if rating is None else rating.astype(np.float32),
        timestamp=ts,
        item_text=text,
        name=name,
    )


def _parquet_names(path: Path) -> list[str]:
    """The column names of a Parquet file (read from its schema alone)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        return list(pq.read_schema(path).names)
    except (pa.ArrowException, OSError):
        raise Fallback("unreadable Parquet schema") from None
