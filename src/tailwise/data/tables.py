"""Reading tables (CSV, TSV, Parquet, JSONL) into string columns, with located errors.

Every reader returns a :class:`Table`: string columns plus, for each row, the line of the file it
came from, so that later checks can name the exact file, line and field of a bad value.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from tailwise._compat import require
from tailwise.errors import DataError

FORMATS = ("csv", "tsv", "parquet", "jsonl")


@dataclass(frozen=True)
class Table:
    """String columns read from one file, with the file line of each row."""

    path: str
    frame: pd.DataFrame  # every column as str, missing values as ""
    lines: np.ndarray  # 1-based file line of each row

    def column(self, name: str, role: str) -> np.ndarray:
        """The column `name` as a string array, or a DataError listing the columns there are."""
        if name not in self.frame.columns:
            have = ", ".join(map(str, self.frame.columns))
            raise DataError(
                f"the {role} column {name!r} is missing; the file has columns: {have}",
                path=self.path,
                line=1,
                field=name,
            )
        return self.frame[name].to_numpy(dtype=str)

    def fail(self, row: int, field: str, message: str) -> DataError:
        """A DataError located at table row `row` (0-based) and column `field`."""
        return DataError(message, path=self.path, line=int(self.lines[row]), field=field)


def detect_format(path: Path) -> str:
    """The format from the file name: .csv/.tsv/.parquet/.jsonl, optionally .gz."""
    name = path.name.lower().removesuffix(".gz")
    for fmt, suffixes in {
        "csv": (".csv", ".txt"),
        "tsv": (".tsv", ".tab"),
        "parquet": (".parquet", ".pq"),
        "jsonl": (".jsonl", ".ndjson", ".json"),
    }.items():
        if name.endswith(suffixes):
            return fmt
    raise DataError(
        f"cannot tell the format from the file name; use one of {', '.join(FORMATS)} "
        "(or pass the format explicitly)",
        path=path,
    )


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    """The whole file decoded, or a DataError naming the line of the first undecodable byte."""
    p = Path(path)
    if not p.exists():
        raise DataError("file not found", path=p)
    if p.is_dir():
        raise DataError("expected a file but this is a folder", path=p)
    raw = p.read_bytes()
    if p.name.lower().endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise DataError(f"not a valid gzip file ({exc})", path=p) from None
    try:
        text = raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise DataError(
            f"byte 0x{raw[exc.start]:02x} cannot be decoded as {encoding}; "
            "pass the file's encoding (for example --encoding latin-1)",
            path=p,
            line=line,
        ) from None
    if not text.strip():
        raise DataError("file is empty", path=p)
    return text.removeprefix("\ufeff")


def read_table(
    path: str | Path,
    fmt: str | None = None,
    sep: str | None = None,
    encoding: str = "utf-8",
    header: bool = True,
    names: list[str] | None = None,
) -> Table:
    """Read a table file into string columns.

    Parameters
    ----------
    path : str or Path
        The file; ``.gz`` is decompressed.
    fmt : {"csv", "tsv", "parquet", "jsonl"}, optional
        Taken from the file name when not given.
    sep : str, optional
        Field separator for delimited text (default ``,`` for csv and tab for tsv). A
        multi-character separator such as ``::`` is split literally.
    encoding : str
        Text encoding (default UTF-8).
    header : bool
        Whether the first line holds column names; when false, `names` gives them.
    """
    p = Path(path)
    fmt = fmt or detect_format(p)
    if fmt == "parquet":
        return _read_parquet(p)
    text = read_text(p, encoding)
    if fmt == "jsonl":
        return _read_jsonl(p, text)
    if fmt not in ("csv", "tsv"):
        raise DataError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}", path=p)
    sep = sep or ("\t" if fmt == "tsv" else ",")
    if len(sep) > 1:
        return _read_split(p, text, sep, header, names)
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skip_blank_lines=False,
            header=0 if header else None,
            names=names,
            engine="c",
        )
    except pd.errors.ParserError as exc:
        raise DataError(f"cannot parse the file as {fmt.upper()}: {exc}", path=p) from None
    frame.columns = [str(c).strip() for c in frame.columns]
    lines = np.arange(len(frame), dtype=np.int64) + (2 if header else 1)
    if "\n" in text and '"' in text:  # quoted fields may span lines: recount exactly
        lines = _csv_record_lines(text, sep, len(frame), header)
    if not isinstance(frame.index, pd.RangeIndex):  # pandas made the extra field an index
        raise DataError(
            f"rows have more fields than the {len(frame.columns)} column names",
            path=p,
            line=int(lines[0]),
        )
    blank = (frame == "").all(axis=1).to_numpy()
    frame = frame.loc[~blank].reset_index(drop=True)
    lines = lines[~blank]
    if frame.empty:
        raise DataError("file has a header but no rows", path=p, line=2)
    return Table(str(p), frame, lines)


def _csv_record_lines(text: str, sep: str, n: int, header: bool) -> np.ndarray:
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    starts = []
    prev_end = 0
    for _ in reader:
        starts.append(prev_end + 1)
        prev_end = reader.line_num
    starts = starts[1:] if header else starts
    out = np.asarray(starts[:n], dtype=np.int64)
    return out if len(out) == n else np.arange(n, dtype=np.int64) + (2 if header else 1)


def _read_split(p: Path, text: str, sep: str, header: bool, names: list[str] | None) -> Table:
    rows, lines = [], []
    raw_lines = text.splitlines()
    start = 0
    if header:
        names = [c.strip() for c in raw_lines[0].split(sep)]
        start = 1
    if names is None:
        raise DataError("no column names: the file has no header and none were given", path=p)
    for n, line in enumerate(raw_lines[start:], start=start + 1):
        if not line.strip():
            continue
        parts = line.split(sep)
        if len(parts) != len(names):
            raise DataError(
                f"expected {len(names)} fields separated by {sep!r}, found {len(parts)}",
                path=p,
                line=n,
            )
        rows.append(parts)
        lines.append(n)
    if not rows:
        raise DataError("file has no rows", path=p)
    frame = pd.DataFrame(rows, columns=names, dtype=str)
    return Table(str(p), frame, np.asarray(lines, dtype=np.int64))


def _read_jsonl(p: Path, text: str) -> Table:
    records, lines = [], []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"invalid JSON: {exc.msg}", path=p, line=n) from None
        if not isinstance(rec, dict):
            raise DataError("each line must be a JSON object", path=p, line=n)
        records.append({k: "" if v is None else _jsonl_str(v) for k, v in rec.items()})
        lines.append(n)
    frame = pd.DataFrame.from_records(records).fillna("").astype(str)
    return Table(str(p), frame, np.asarray(lines, dtype=np.int64))


def _jsonl_str(v: object) -> str:
    if isinstance(v, list):
        return "|".join(map(str, v))
    return str(v)


def _read_parquet(p: Path) -> Table:
    if not p.exists():
        raise DataError("file not found", path=p)
    pq = require("pyarrow.parquet", "Reading Parquet files")
    try:
        frame = pq.read_table(p).to_pandas()
    except Exception as exc:  # pyarrow raises many types for corrupt files
        raise DataError(f"cannot read the Parquet file: {exc}", path=p) from None
    if frame.empty:
        raise DataError("file has no rows", path=p)
    frame = frame.astype(object).where(frame.notna(), "").astype(str)
    # Parquet has no lines: report the 1-based row number instead
    return Table(str(p), frame, np.arange(1, len(frame) + 1, dtype=np.int64))
