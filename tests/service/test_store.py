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
