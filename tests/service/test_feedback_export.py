"""``tailwise export-feedback``: the feedback store as Parquet, erased users left out."""

from __future__ import annotations

import contextlib
import sqlite3

import pandas as pd

from tailwise.cli.main import main
from tailwise.service.store import Event, FeedbackStore


def _store(path):
    with FeedbackStore(path) as store:
        store.add_events([Event("alice", "1", "click", 1.0, 100.0), Event("bob", "2", "buy", 2.0, 101.0), Event("alice", "3", "click", 1.0, 102.0)])
        store.erase_user("bob")
        store.add_events([Event("bob", "4", "click", 1.0, 103.0), Event("carol", "1", "view", 0.5, 104.0)])  # bob again, after erasure
    with contextlib.closing(sqlite3.connect(path)) as db:  # an event of bob's received before the erasure (a concurrent write)
        at = db.execute("SELECT erased FROM erased WHERE user_key = 'bob'").fetchone()[0]
        db.execute("INSERT INTO events (user_key, item_id, type, value, ts, received) VALUES ('bob', '5', 'click', 1, 99, ?)", (at - 1,))
        db.commit()


def test_export_leaves_erased_users_out(tmp_path, capsys):
    db = tmp_path / "feedback.sqlite"
    _store(db)
    before = db.read_bytes()
    assert main(["export-feedback", "--db", str(db), "--out", str(tmp_path / "events.parquet")]) == 0
    out = pd.read_parquet(tmp_path / "events.parquet")
    assert list(out.columns) == ["user_id", "item_id", "type", "value", "timestamp", "event_id"]
    assert out.user_id.tolist() == ["alice", "alice", "bob", "carol"]  # bob's events before his erasure are not there
    assert out.item_id.tolist() == ["1", "3", "4", "1"] and out.timestamp.tolist() == [100.0, 102.0, 103.0, 104.0]
    assert "1 events of erased users left out" in " ".join(capsys.readouterr().err.split())
    assert db.read_bytes() == before  # read only


def test_export_refuses_to_replace_a_file_and_a_missing_db(tmp_path, capsys):
    db = tmp_path / "feedback.sqlite"
    _store(db)
    target = tmp_path / "events.parquet"
    target.write_text("mine")
    assert main(["export-feedback", "--db", str(db), "--out", str(target)]) == 2
    assert "exists" in capsys.readouterr().err and target.read_text() == "mine"
    assert main(["export-feedback", "--db", str(tmp_path / "none.sqlite"), "--out", str(tmp_path / "x.parquet")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
    assert not (tmp_path / "none.sqlite").exists()
