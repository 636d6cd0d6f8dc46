"""The feedback store as a Parquet file, for the next fit (on Spark or one machine).

One row per stored event: ``user_id`` (the stored key: the id, or its keyed hash when the
service pseudonymises ids), ``item_id``, ``type``, ``value``, ``timestamp`` (epoch seconds) and
``event_id``. Erased users are not exported: an event of a user is left out when it was received
before that user's latest erasure (:meth:`FeedbackStore.erase_user
<tailwise.service.store.FeedbackStore.erase_user>` deletes those events; the rule also covers
one that a concurrent write stored in between). Events a user sends after the erasure are new
data, as for ``tailwise retrain``, and are exported. The events and the erasures are read in one
read-only transaction (the database is not changed), and the file is written atomically.
"""

from __future__ import annotations

import contextlib
import sqlite3
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

    require("pyarrow", "Writing Parquet")
    db_path, out = Path(db_path), Path(out)
    if not db_path.is_file():
        raise DataError("the feedback database does not exist", path=db_path)
    try:
        with contextlib.closing(sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)) as db:
            db.execute("BEGIN")  # one snapshot: events and erasures agree
            rows = db.execute("SELECT id, user_key, item_id, type, value, ts, received FROM events ORDER BY id").fetchall()
            erased = dict(db.execute("SELECT user_key, erased FROM erased").fetchall())
            db.execute("COMMIT")
    except sqlite3.DatabaseError as exc:
        raise DataError(f"cannot read the feedback database: {exc}", path=db_path) from None
    kept = [r for r in rows if r[1] not in erased or r[6] > erased[r[1]]]
    frame = pd.DataFrame({
        "user_id": [r[1] for r in kept], "item_id": [r[2] for r in kept], "type": [r[3] for r in kept],
        "value": pd.Series([r[4] for r in kept], dtype="float64"), "timestamp": pd.Series([r[5] for r in kept], dtype="float64"),
        "event_id": pd.Series([r[0] for r in kept], dtype="int64"),
    }, columns=list(COLUMNS))  # fmt: skip
    atomic_write(out, lambda fh: frame.to_parquet(fh, index=False))
    return Exported(out, len(kept), len(rows) - len(kept))
