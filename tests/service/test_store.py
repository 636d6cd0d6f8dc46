"""The SQLite feedback store and the pseudonymisation settings, on real SQLite files."""

from __future__ import annotations

import sqlite3

import pytest

from tailwise.errors import DataError
from tailwise.service.settings import ServiceSettings
from tailwise.service.store import Event, FeedbackStore, StoredItem

SECRET = "a secret of sixteen+ chars"


def ev(user: str, item: str = "i1", ts: float = 1.0) -> Event:
    return Event(user, item, "click", 1.0, ts)


def test_events_get_increasing_ids_and_survive_reopening(tmp_path):
    path = tmp_path / "fb.sqlite"
    with FeedbackStore(path) as store:
        assert store.add_events([ev("a"), ev("b")]) == (1, 2)
        assert store.add_events([ev("c", "i2", 5.5)]) == (3, 3)
    with FeedbackStore(path) as store:
        assert store.counts() == {"events": 3, "items": 0, "last_event_id": 3}
        assert store.events_after(1) == [(2, "b", "i1"), (3, "c", "i2")]
        assert store.events()[2] == (3, Event("c", "i2", "click", 1.0, 5.5))
        assert store.integrity_check() == "ok"
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_failed_batch_stores_nothing(tmp_path):
    with FeedbackStore(tmp_path / "fb.sqlite") as store:
        store.add_events([ev("a")])
        with pytest.raises(sqlite3.Error):
            store.add_events([ev("b"), Event(None, "i", "click", 1.0, 1.0)])  # NOT NULL fails on the 2nd row
        assert store.counts()["events"] == 1


def test_items_upsert_keeps_the_order_of_first_addition(tmp_path):
    with FeedbackStore(tmp_path / "fb.sqlite") as store:
        store.upsert_items([StoredItem("x", "X text", "X"), StoredItem("y", "Y text", "Y")])
        store.upsert_items([StoredItem("x", "X new text", "X2"), StoredItem("z", "Z", "Z")])
        assert store.items() == [StoredItem("x", "X new text", "X2"), StoredItem("y", "Y text", "Y"), StoredItem("z", "Z", "Z")]


def test_pseudonymised_database_needs_the_same_secret(tmp_path):
    path = tmp_path / "fb.sqlite"
    s = ServiceSettings(secret=SECRET)
    with FeedbackStore(path, s.key_check()) as store:
        store.add_events([ev(s.user_key("alice"))])
        assert store.pseudonymised
    with pytest.raises(DataError, match="pseudonymised user ids"):
        FeedbackStore(path)
    with pytest.raises(DataError, match="secret differs"):
        FeedbackStore(path, ServiceSettings(secret="another secret, long enough").key_check())
    raw = tmp_path / "raw.sqlite"
    with FeedbackStore(raw) as store:
        store.add_events([ev("alice")])
    with pytest.raises(DataError, match="raw user ids"):
        FeedbackStore(raw, s.key_check())


def test_keyed_hash_hides_the_id_and_depends_on_the_secret():
    a, b = ServiceSettings(secret=SECRET), ServiceSettings(secret=SECRET + "!")
    assert a.user_key("alice") == a.user_key("alice") != b.user_key("alice")
    assert "alice" not in a.user_key("alice") and len(a.user_key("alice")) == 32
    assert ServiceSettings().user_key("alice") == "alice"


def test_settings_from_the_environment(tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    s = ServiceSettings.from_env({"TAILWISE_SECRET_FILE": str(secret_file), "TAILWISE_MAX_K": "50", "TAILWISE_WARM_TEXT": "0"})
    assert (s.secret, s.max_k, s.warm_text) == (SECRET, 50, False)
    assert ServiceSettings.from_env({"TAILWISE_MAX_K": "50"}, max_k=7).max_k == 7
    with pytest.raises(DataError, match="at least 16 characters"):
        ServiceSettings(secret="short")
    with pytest.raises(DataError, match="TAILWISE_MAX_K must be a number"):
        ServiceSettings.from_env({"TAILWISE_MAX_K": "many"})


# ---------------------------------------------------------------------------------- erasure
def test_erasing_a_user_deletes_the_events_and_records_the_key(tmp_path):
    path = tmp_path / "fb.sqlite"
    with FeedbackStore(path) as store:
        store.add_events([ev("a", "i1"), ev("b", "i1"), ev("a", "i2"), ev("c", "i3")])
        erasure = store.erase_user("a")
        assert (erasure.id, erasure.user_key, erasure.events) == (1, "a", 2)
        assert [(key, item) for _, key, item in store.events_after(0)] == [("b", "i1"), ("c", "i3")]
        assert store.erased_keys() == {"a"} and store.user_items("a") == []
        assert store.item_event_counts() == {"i1": 1, "i3": 1}
        again = store.erase_user("a")  # idempotent: nothing left to delete, a newer record
        assert (again.id, again.events) == (2, 0)
        assert [(e.id, e.user_key) for e in store.erasures()] == [(2, "a")]
        store.erase_user("nobody")  # a user the store never saw is recorded as well
        assert store.erased_keys() == {"a", "nobody"} and [e.id for e in store.erasures(2)] == [3]
    con = sqlite3.connect(path)  # durable: another connection sees it
    assert con.execute("SELECT COUNT(*) FROM events WHERE user_key = 'a'").fetchone()[0] == 0
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_erased_rows_leave_no_trace_in_the_file_or_the_wal(tmp_path):
    """Deleted rows are overwritten (secure_delete) and the WAL is truncated: the items the user
    interacted with appear nowhere in the files any more."""
    path = tmp_path / "fb.sqlite"
    with FeedbackStore(path) as store:
        store.add_events([ev("erin", f"needle-{n}") for n in range(200)] + [ev("other", "i1")])
        assert b"needle-" in path.read_bytes() + path.with_name("fb.sqlite-wal").read_bytes()
        store.erase_user("erin")
        wal = path.with_name("fb.sqlite-wal")
        assert not wal.exists() or wal.stat().st_size == 0  # checkpointed and truncated
        assert b"needle-" not in path.read_bytes()
        assert store.counts()["events"] == 1


def test_contents_reads_events_items_and_erasures_together(tmp_path):
    with FeedbackStore(tmp_path / "fb.sqlite") as store:
        store.add_events([ev("a"), ev("b")])
        store.upsert_items([StoredItem("x", "X text", "X")])
        store.erase_user("a")
        got = store.contents()
    assert [(i, e.user_key) for i, e in got.events] == [(2, "b")]
    assert got.items == [StoredItem("x", "X text", "X")] and [e.user_key for e in got.erasures] == ["a"]


def test_a_database_of_the_first_schema_gains_the_erased_table(tmp_path):
    path = tmp_path / "old.sqlite"
    con = sqlite3.connect(path)
    con.executescript("""
        CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, user_key TEXT NOT NULL, item_id TEXT NOT NULL,
                             type TEXT NOT NULL, value REAL NOT NULL, ts REAL NOT NULL, received REAL NOT NULL);
        INSERT INTO events (user_key, item_id, type, value, ts, received) VALUES ('a', 'i1', 'view', 1, 0, 0);
    """)
    con.close()
    with FeedbackStore(path) as store:
        assert store.erase_user("a").events == 1 and store.counts()["events"] == 0
