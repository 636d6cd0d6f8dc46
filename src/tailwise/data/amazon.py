"""Amazon loaders: the UniSRec folder format (``amazon-scientific``) and Amazon Reviews 2023
categories by name (downloaded and cached on first use)."""

from __future__ import annotations

import gzip
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from tailwise.data.dataset import Dataset
from tailwise.data.loaders import Columns, build_dataset, parse_interactions, parse_items
from tailwise.data.tables import Table, read_table
from tailwise.errors import DataError


def load_amazon(
    path: str | Path,
    on_duplicate: str = "last",
    cache_dir: str | Path | None = None,
    base_url: str | None = None,
    progress: bool = True,
) -> Dataset:
    """Load an Amazon folder, or an Amazon Reviews 2023 category by name (e.g. ``"All_Beauty"``).

    A category name (:data:`tailwise.data.remote.AMAZON_2023`) downloads the category's reviews
    and item metadata into the cache on first use (``cache_dir``, else ``$TAILWISE_DATA``, else
    ``~/.cache/tailwise/data``; ``base_url`` or ``$TAILWISE_AMAZON_URL`` for a mirror): every
    review is an interaction (user, ``parent_asin``, rating, time in seconds) and an item's text
    is its title, categories and store.

    A folder holds ``interactions.csv`` plus a ``*.text`` TSV of item text (UniSRec processing).

    ``interactions.csv`` has ``user_id,item_id,...,seq_pos``; the chronological position
    ``seq_pos`` becomes the timestamp, so temporal and leave-last-out splits work. The text file
    has the header ``item_id:token<TAB>text:token_seq``. Repeat purchases of the same item by the
    same user follow `on_duplicate` (default: keep the last).
    """
    from tailwise.data.remote import AMAZON_2023, amazon_files

    root = Path(path)
    if not root.is_dir() and str(path) in AMAZON_2023:
        reviews, meta = amazon_files(str(path), cache_dir, base_url, progress)
        return load_amazon_2023(reviews, meta, on_duplicate, name=f"amazon-{path}")
    if not root.is_dir():
        raise DataError("Amazon path must be a folder or an Amazon Reviews 2023 category such as All_Beauty", path=root)
    texts = sorted(root.glob("*.text"))
    if not texts:
        raise DataError("no *.text item-text file in the Amazon folder", path=root)
    inter_path = root / "interactions.csv"
    table = read_table(inter_path)
    inter = parse_interactions(table, Columns("user_id", "item_id", None, "seq_pos"), on_duplicate)
    items = read_table(texts[0], fmt="tsv")
    items.frame.columns = [c.split(":")[0] for c in items.frame.columns]
    text = parse_items(items, "item_id", ["text"])
    text = {k: re.sub(r"[\s.]+$", "", v) for k, v in text.items()}
    return build_dataset(inter, text, name=root.name)


def _jsonl(path: Path, fields: tuple[str, ...]) -> Table:
    """The chosen fields of a (gzipped) JSON-lines file as string columns, with file lines."""
    rows: list[list[str]] = []
    lines: list[int] = []
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except ValueError as exc:
                    raise DataError(f"not a JSON object ({exc.args[0]})", path, n) from None
                if not isinstance(rec, dict):
                    raise DataError("not a JSON object", path, n)
                rows.append([_flat(rec.get(f)) for f in fields])
                lines.append(n)
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the file ({exc})", path) from None
    frame = pd.DataFrame(rows, columns=list(fields), dtype=str) if rows else pd.DataFrame(columns=list(fields))
    return Table(str(path), frame, np.asarray(lines, dtype=np.int64))


def _flat(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, list):
        return ", ".join(_flat(x) for x in v if x)
    return str(v)


def load_amazon_2023(
    reviews: str | Path, meta: str | Path, on_duplicate: str = "last", name: str = "amazon-2023"
) -> Dataset:
    """Load an Amazon Reviews 2023 category from its reviews and metadata JSON-lines files.

    Reviews give ``user_id``, ``parent_asin``, ``rating`` and ``timestamp`` (milliseconds,
    stored as seconds); metadata gives each ``parent_asin`` its text: title, categories, store.
    """
    table = _jsonl(Path(reviews), ("user_id", "parent_asin", "rating", "timestamp"))
    ts = table.frame["timestamp"]
    table.frame["timestamp"] = [t[:-3] if len(t) > 3 and t.isdigit() else t for t in ts]
    inter = parse_interactions(table, Columns("user_id", "parent_asin", "rating", "timestamp"), on_duplicate)
    items = _jsonl(Path(meta), ("parent_asin", "title", "categories", "store"))
    first = ~items.frame.duplicated("parent_asin", keep="first").to_numpy()
    text = parse_items(
        Table(items.path, items.frame[first].reset_index(drop=True), items.lines[first]),
        "parent_asin",
        ["title", "categories", "store"],
    )
    return build_dataset(inter, text, name=name)
