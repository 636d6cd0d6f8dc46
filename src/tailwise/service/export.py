"""The feedback store as a Parquet file, for the next fit (on Spark or one machine).

One row per stored event: ``user_id`` (the stored key: the id, or its keyed hash when the
service pseudonymises ids), ``item_id``, ``type``, ``value``, ``timestamp`` (epoch seconds) and
``event_id``. Erased users are left out (:meth:`FeedbackStore.erased_keys
<tailwise.service.store.FeedbackStore.erased_keys>`): their events are deleted at erasure, and
any event stored under their key since is not exported either. The events and the erasures are
read in one transaction (:meth:`FeedbackStore.contents`), and the file is written atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tailwise._compat import require
from tailwise.errors import DataError

COLUMNS = ("user_id", "item_id", "type", "value", "timestamp", "event_id")


@dataclass(frozen=True)
class Exported:
    """What :func:`export_feedback` wrote: events written, events of erased users left out."""

    path: Path
    events: int
    skipped: int


def export_feedback(db_path: str | Path, out: str | Path) -> Exported:
    """Write the events of the feedback database `db_path` to the Parquet file `out`.

    Raises
    ------
    DataError
        When the database does not exist or cannot be read.
    """
    import pandas as pd

    from tailwise.artifacts import atomic_write
    from tailwise.service.store import FeedbackStore

    require("pyarrow", "Writing Parquet")
    db_path, out = Path(db_path), Path(out)
    if not db_path.is_file():
        raise DataError("the feedback database does not exist", path=db_path)
    with FeedbackStore(db_path, key_check=_stored_mode(db_path)) as store:  # opened in its own mode
        contents = store.contents()
    erased = {e.user_key for e in contents.erasures}
    kept = [(i, e) for i, e in contents.events if e.user_key not in erased]
    frame = pd.DataFrame({
        "user_id": [e.user_key for _, e in kept], "item_id": [e.item_id for _, e in kept],
        "type": [e.type for _, e in kept], "value": pd.Series([e.value for _, e in kept], dtype="float64"),
        "timestamp": pd.Series([e.ts for _, e in kept], dtype="float64"), "event_id": pd.Series([i for i, _ in kept], dtype="int64"),
    }, columns=list(COLUMNS))  # fmt: skip
    atomic_write(out, lambda fh: frame.to_parquet(fh, index=False))
    return Exported(out, len(kept), len(contents.events) - len(kept))


def _stored_mode(db_path: Path) -> str | None:
    """The key fingerprint the database was created with (None: raw ids), read without
    changing the file, so the store opens in its own mode."""
    import sqlite3

    try:
        with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as db:
            rows = dict(db.execute("SELECT key, value FROM meta").fetchall())
    except sqlite3.DatabaseError as exc:
        raise DataError(f"cannot read the feedback database: {exc}", path=db_path) from None
    return rows.get("key_check") or None
