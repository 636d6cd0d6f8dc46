"""The service's SQLite database: feedback events and items added while serving.

One file (WAL journal, ``synchronous=FULL`` by default), one connection per store guarded by a
lock, one transaction per write. A write returns only after its ``COMMIT``, so whatever the
service has acknowledged survives a crash of the process (and, with FULL, of the machine).
Deleted rows are overwritten (``secure_delete``), and an erasure checkpoints and truncates the
write-ahead log, so an erased user's events do not linger in free pages or in the ``-wal`` file.

Tables::

    meta    key/value: schema version, whether user ids are raw or pseudonymised, and a
            fingerprint of the secret (never the secret itself)
    events  id (increasing), user_key (the user id or its keyed hash), item_id, type, value,
            ts (event time, epoch seconds), received (epoch seconds)
    items   item_id (unique), text, title, seq (order of first addition), updated
    erased  id (increasing), user_key (unique: the latest erasure of a user), erased (epoch
            seconds): users whose events were deleted and whose training history the next
            retrain drops. Anything that reads users' data out of the service (a retrain, a
            future export) must leave these users out: :meth:`FeedbackStore.erased_keys`.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Self

from tailwise.errors import DataError

log = logging.getLogger(__name__)

SCHEMA_VERSION = "2"  # 2: the erased table and the events(user_key) index

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key TEXT NOT NULL,
    item_id TEXT NOT NULL,
    type TEXT NOT NULL,
    value REAL NOT NULL,
    ts REAL NOT NULL,
    received REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY,
    text TEXT NOT NULL,
    title TEXT NOT NULL,
    seq INTEGER NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS erased (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_key TEXT NOT NULL UNIQUE,
    erased REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS events_user ON events (user_key);
"""


@dataclass(frozen=True)
class Event:
    """One feedback event as stored (``user_key`` is the id or its keyed hash)."""

    user_key: str
    item_id: str
    type: str
    value: float
    ts: float


@dataclass(frozen=True)
class StoredItem:
    """An item added or updated through the service."""

    item_id: str
    text: str
    title: str


@dataclass(frozen=True)
class Erasure:
    """A user's erasure: its id (increasing), the user's stored key, the events it deleted and
    when (epoch seconds)."""

    id: int
    user_key: str
    events: int
    at: float


@dataclass(frozen=True)
class Contents:
    """Everything a retrain reads from the store, from one consistent snapshot."""

    events: list[tuple[int, Event]]
    items: list[StoredItem]
    erasures: list[Erasure]


class FeedbackStore:
    """Feedback events and added items in one SQLite file.

    Parameters
    ----------
    path : str or Path
        The database file (created with its folder when missing).
    key_check : str, optional
        Fingerprint of the pseudonymisation secret (:meth:`ServiceSettings.key_check`), None
        when user ids are stored as they are. A database keeps the mode it was created with:
        opening it with another secret, or without one, is an error, so raw and hashed ids are
        never mixed.
    synchronous : {"FULL", "NORMAL"}
        SQLite's ``synchronous`` pragma.
    """

    def __init__(self, path: str | Path, key_check: str | None = None, synchronous: str = "FULL") -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(f"PRAGMA synchronous={synchronous.upper()}")
            self._db.execute("PRAGMA secure_delete=ON")
            self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise DataError(f"cannot open the feedback database: {exc}", path=self.path) from None
        self._check_mode(key_check)

    # ------------------------------------------------------------------ setup
    def _meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT key, value FROM meta").fetchall())

    def _check_mode(self, key_check: str | None) -> None:
        with self._lock:
            meta = self._meta()
            has_events = self._db.execute("SELECT 1 FROM events LIMIT 1").fetchone() is not None
            stored = meta.get("key_check") or None
            if meta.get("user_ids") == "pseudonymised" and key_check is None:
                raise DataError(
                    "this database stores pseudonymised user ids: start with the same secret "
                    "(TAILWISE_SECRET or TAILWISE_SECRET_FILE)", path=self.path,
                )  # fmt: skip
            if stored is not None and key_check is not None and stored != key_check:
                raise DataError("the secret differs from the one this database was written with", path=self.path)
            if meta.get("user_ids") == "raw" and key_check is not None and has_events:
                raise DataError(
                    "this database stores raw user ids; pseudonymisation cannot be switched on "
                    "for it (start a new database)", path=self.path,
                )  # fmt: skip
            mode = "pseudonymised" if key_check is not None else "raw"
            rows = [("schema", SCHEMA_VERSION), ("user_ids", mode), ("key_check", key_check or "")]
            self._write(lambda db: db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", rows))

    def _write(self, work) -> None:
        """Run `work(connection)` in one IMMEDIATE transaction (caller holds the lock)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            work(self._db)
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    # ------------------------------------------------------------------ writes
    def add_events(self, events: list[Event]) -> tuple[int, int]:
        """Store events in one transaction; returns the (first, last) event id, after COMMIT."""
        now = time.time()
        rows = [(e.user_key, e.item_id, e.type, float(e.value), float(e.ts), now) for e in events]
        out: list[int] = []

        def work(db: sqlite3.Connection) -> None:
            db.executemany(
                "INSERT INTO events (user_key, item_id, type, value, ts, received) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            )
            out.append(db.execute("SELECT last_insert_rowid()").fetchone()[0])

        with self._lock:
            self._write(work)
        last = int(out[0])
        return last - len(rows) + 1, last

    def upsert_items(self, items: Iterable[StoredItem]) -> None:
        """Add items or replace their text and title, in one transaction."""
        now = time.time()
        items = list(items)

        def work(db: sqlite3.Connection) -> None:
            seq = db.execute("SELECT COALESCE(MAX(seq), 0) FROM items").fetchone()[0]
            db.executemany(
                "INSERT INTO items (item_id, text, title, seq, updated) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(item_id) DO UPDATE SET text = excluded.text, title = excluded.title, "
                "updated = excluded.updated",
                [(it.item_id, it.text, it.title, seq + n + 1, now) for n, it in enumerate(items)],
            )

        with self._lock:
            self._write(work)

    def erase_user(self, user_key: str) -> Erasure:
        """Delete every event of a user and record the user as erased, in one transaction.

        Idempotent: erasing a user again deletes what was stored since (nothing, at once) and
        moves the user's record to a new erasure id, so a model retrained in between forgets the
        user again. Returns after the ``COMMIT``; the write-ahead log is then checkpointed and
        truncated, so the deleted rows are gone from the ``-wal`` file as well (when another
        connection still reads an older snapshot this is logged and happens at a later
        checkpoint).
        """
        now = time.time()
        out: list[tuple[int, int]] = []

        def work(db: sqlite3.Connection) -> None:
            n = db.execute("DELETE FROM events WHERE user_key = ?", (user_key,)).rowcount
            db.execute("DELETE FROM erased WHERE user_key = ?", (user_key,))
            db.execute("INSERT INTO erased (user_key, erased) VALUES (?, ?)", (user_key, now))
            out.append((db.execute("SELECT last_insert_rowid()").fetchone()[0], n))

        with self._lock:
            self._write(work)
            busy = self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        if busy:
            log.warning("the write-ahead log could not be truncated after an erasure (a reader holds it); a later checkpoint will")
        return Erasure(int(out[0][0]), user_key, int(out[0][1]), now)

    # ------------------------------------------------------------------ reads
    def events_after(self, event_id: int = 0) -> list[tuple[int, str, str]]:
        """(id, user_key, item_id) of every event with a larger id, in id order; dislikes (a
        negative value) are left out: they never count as interest."""
        with self._lock:
            return self._db.execute(
                "SELECT id, user_key, item_id FROM events WHERE id > ? AND value >= 0 ORDER BY id", (int(event_id),)
            ).fetchall()

    def events(self) -> list[tuple[int, Event]]:
        """Every event with its id, in id order (for retraining)."""
        with self._lock:
            rows = self._db.execute("SELECT id, user_key, item_id, type, value, ts FROM events ORDER BY id").fetchall()
        return [(r[0], Event(*r[1:])) for r in rows]

    def user_items(self, user_key: str, after: int = 0) -> list[str]:
        """Item ids of one user's events with an id larger than `after`, in id order (not dislikes)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT item_id FROM events WHERE user_key = ? AND id > ? AND value >= 0 ORDER BY id", (user_key, int(after))
            ).fetchall()
        return [r[0] for r in rows]

    def item_event_counts(self, after: int = 0) -> dict[str, int]:
        """Number of events per item id among the events with an id larger than `after` (not dislikes)."""
        with self._lock:
            rows = self._db.execute("SELECT item_id, COUNT(*) FROM events WHERE id > ? AND value >= 0 GROUP BY item_id", (int(after),)).fetchall()
        return {item: int(n) for item, n in rows}

    def erasures(self, after: int = 0) -> list[Erasure]:
        """The erasures with an id larger than `after`, in id order (``events`` is 0 here: the
        number deleted is only known to :meth:`erase_user`)."""
        with self._lock:
            rows = self._db.execute("SELECT id, user_key, erased FROM erased WHERE id > ? ORDER BY id", (int(after),)).fetchall()
        return [Erasure(int(i), key, 0, float(at)) for i, key, at in rows]

    def erased_keys(self) -> set[str]:
        """The stored keys of every erased user. Whatever reads users' data out of the service
        (retraining, any export) must leave these out."""
        return {e.user_key for e in self.erasures()}

    def contents(self) -> Contents:
        """Events, items and erasures read in one transaction, so they agree with each other (an
        erasure between two separate reads could leave a retrain with the events of a user it
        does not know to forget)."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                events = self._db.execute("SELECT id, user_key, item_id, type, value, ts FROM events ORDER BY id").fetchall()
                items = self._db.execute("SELECT item_id, text, title FROM items ORDER BY seq").fetchall()
                erased = self._db.execute("SELECT id, user_key, erased FROM erased ORDER BY id").fetchall()
            finally:
                self._db.execute("COMMIT")
        return Contents(
            [(r[0], Event(*r[1:])) for r in events], [StoredItem(*r) for r in items],
            [Erasure(int(i), key, 0, float(at)) for i, key, at in erased],
        )  # fmt: skip

    def items(self) -> list[StoredItem]:
        """Every added or updated item, in the order they were first added."""
        with self._lock:
            rows = self._db.execute("SELECT item_id, text, title FROM items ORDER BY seq").fetchall()
        return [StoredItem(*r) for r in rows]

    def counts(self) -> dict[str, int]:
        """Number of stored events and items, and the last event id."""
        with self._lock:
            n_events, last = self._db.execute("SELECT COUNT(*), COALESCE(MAX(id), 0) FROM events").fetchone()
            n_items = self._db.execute("SELECT COUNT(*) FROM items").fetchone()[0]
        return {"events": int(n_events), "items": int(n_items), "last_event_id": int(last)}

    @property
    def pseudonymised(self) -> bool:
        """Whether user ids are stored as keyed hashes."""
        with self._lock:
            return self._meta().get("user_ids") == "pseudonymised"

    def integrity_check(self) -> str:
        """SQLite's ``PRAGMA integrity_check``: ``"ok"`` for a sound file."""
        with self._lock:
            return str(self._db.execute("PRAGMA integrity_check").fetchone()[0])

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL into the main file)."""
        with self._lock:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
