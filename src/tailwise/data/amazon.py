"""Loader for the Amazon review format of ``amazon-scientific`` (UniSRec processing)."""

from __future__ import annotations

import re
from pathlib import Path

from tailwise.data.dataset import Dataset
from tailwise.data.loaders import Columns, build_dataset, parse_interactions, parse_items
from tailwise.data.tables import read_table
from tailwise.errors import DataError


def load_amazon(path: str | Path, on_duplicate: str = "last") -> Dataset:
    """Load an Amazon folder: ``interactions.csv`` plus a ``*.text`` TSV of item text.

    ``interactions.csv`` has ``user_id,item_id,...,seq_pos``; the chronological position
    ``seq_pos`` becomes the timestamp, so temporal and leave-last-out splits work. The text file
    has the header ``item_id:token<TAB>text:token_seq``. Repeat purchases of the same item by the
    same user follow `on_duplicate` (default: keep the last).
    """
    root = Path(path)
    if not root.is_dir():
        raise DataError("Amazon path must be a folder", path=root)
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
