"""The right to erasure: ``DELETE /users/{id}`` and ``tailwise forget`` reach every store that
holds a user (the feedback database, the live profiles and training row, the next retrain's
model directory, old copies of the directory), durably and idempotently."""

from __future__ import annotations

import sqlite3

import pytest

from tailwise.artifacts import read_manifest
from tailwise.cli.main import main
from tailwise.pipeline import Pipeline
from tailwise.service.retrain import merged_dataset
from tailwise.service.settings import ServiceSettings
from tailwise.service.store import FeedbackStore

SECRET = "correct horse battery staple"


def events(user: str, *items: str) -> dict:
    return {"events": [{"user_id": user, "item_id": i, "type": "click"} for i in items]}


def rows(db, user_key: str) -> int:
    con = sqlite3.connect(db)
    try:
        return con.execute("SELECT COUNT(*) FROM events WHERE user_key = ?", (user_key,)).fetchone()[0]
    finally:
        con.close()


def hidden(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def test_delete_erases_the_events_the_profile_and_the_training_row(make_client, model_copy, ease_dir, tmp_path):
    model, db = model_copy(ease_dir), tmp_path / "fb.sqlite"
    c = make_client(model, db)
    state = c.app.state.service
    assert c.get("/recommend", params={"user_id": "1", "k": 10}).json()["known"] is True
    before = c.get("/items/2").json()["interactions"]
    assert c.post("/feedback", json=events("1", "2", "2", "3")).status_code == 200
    assert c.post("/feedback", json=events("7", "2")).status_code == 200
    assert c.get("/items/2").json()["interactions"] == before + 3

    r = c.delete("/users/1")
    assert r.status_code == 200
    body = r.json()
    assert (body["user_id"], body["events_deleted"], body["in_model"]) == ("1", 3, True)
    assert rows(db, "1") == 0 and rows(db, "7") == 1  # the database: only the user's rows are gone
    # the live model: neither the folded feedback nor the training row is used any more
    nobody = c.get("/recommend", params={"user_id": "nobody-at-all", "k": 10}).json()
    one = c.get("/recommend", params={"user_id": "1", "k": 10}).json()
    assert one["known"] is False and one["items"] == nobody["items"]
    assert "1" not in state.live.profiles.folded and "7" in state.live.profiles.folded
    assert c.get("/items/2").json()["interactions"] == before + 1
    counts = c.get("/info").json()["counts"]
    assert counts["feedback_events"] == 1 and counts["feedback_users"] == 1
    assert "1" not in [u["user_id"] for u in c.get("/users", params={"prefix": "1", "limit": 100}).json()["users"]]

    again = c.delete("/users/1").json()  # idempotent
    assert again["events_deleted"] == 0 and again["in_model"] is True
    assert c.get("/recommend", params={"user_id": "1", "k": 10}).json()["items"] == nobody["items"]

    # what the user sends after the erasure is new data: a profile of that alone
    assert c.post("/feedback", json=events("1", "6")).status_code == 200
    assert c.get("/recommend", params={"user_id": "1", "k": 10}).json()["known"] is True
    assert state.live.profiles.folded["1"].tolist() == [state.live.item_index("6")]


def test_the_erasure_is_durable_across_a_restart(make_client, model_copy, ease_dir, tmp_path):
    model, db = model_copy(ease_dir), tmp_path / "fb.sqlite"
    c = make_client(model, db)
    assert c.post("/feedback", json=events("2", "1")).status_code == 200
    assert c.delete("/users/2").status_code == 200
    c2 = make_client(model, db)  # a new process on the same files (the model is not retrained)
    assert c2.get("/recommend", params={"user_id": "2", "k": 5}).json()["known"] is False
    assert c2.get("/info").json()["counts"]["feedback_events"] == 0


def test_bad_user_ids_are_refused(make_client, ease_dir):
    c = make_client(ease_dir)
    assert c.delete("/users/" + "x" * 300).status_code == 422
    assert c.delete("/users/").status_code == 422  # an empty id
    assert c.get("/users/1").status_code == 405  # only DELETE is defined on one user


def test_the_next_retrain_forgets_erased_users_and_leaves_no_old_copy(make_client, model_copy, ease_dir, tmp_path):
    model, db = model_copy(ease_dir), tmp_path / "fb.sqlite"
    c = make_client(model, db)
    state = c.app.state.service
    trained = Pipeline.load(model)
    assert c.post("/feedback", json=events("1", "2")).status_code == 200
    assert c.post("/feedback", json=events("dora", "1", "3")).status_code == 200  # known from feedback only
    assert c.post("/feedback", json=events("2", "1")).status_code == 200
    assert c.delete("/users/1").json()["in_model"] is True
    assert c.delete("/users/dora").json()["in_model"] is False
    assert main(["retrain", "--model-dir", str(model), "--db", str(db)]) == 0

    new = Pipeline.load(model)
    assert "1" not in new.users and "dora" not in new.users and "2" in new.users  # no id of theirs
    assert new.history.nnz == trained.history.nnz - trained.history[trained.users.index("1")].nnz + 1
    manifest = read_manifest(model)
    assert manifest["erased_through"] == 2 and manifest["retrained"]["erased_users"] == 1
    assert hidden(tmp_path) == []  # no copy of the old directory (nor a temporary one) survives
    assert state.check_reload() is True
    assert c.get("/recommend", params={"user_id": "1", "k": 5}).json()["known"] is False

    # after the erasure the user comes back: only the new data joins the next model
    assert c.post("/feedback", json=events("1", "6")).status_code == 200
    assert main(["retrain", "--model-dir", str(model), "--db", str(db)]) == 0
    again = Pipeline.load(model)
    assert again.items.ids[again.history[again.users.index("1")].indices].tolist() == ["6"]


def test_pseudonymised_erasure_records_the_key_and_the_retrain_matches_it(make_client, model_copy, ease_dir, tmp_path):
    model, db = model_copy(ease_dir), tmp_path / "fb.sqlite"
    s = ServiceSettings(secret=SECRET)
    c = make_client(model, db, secret=SECRET)
    assert c.post("/feedback", json=events("3", "1")).status_code == 200
    assert c.delete("/users/3").json()["events_deleted"] == 1
    assert c.get("/recommend", params={"user_id": "3", "k": 5}).json()["known"] is False
    con = sqlite3.connect(db)
    assert con.execute("SELECT user_key FROM erased").fetchall() == [(s.user_key("3"),)]  # never the id
    con.close()
    with FeedbackStore(db, s.key_check()) as store:
        ds, summary = merged_dataset(Pipeline.load(model), store, s)
    assert summary["erased_users"] == 1 and "3" not in ds.users and s.user_key("3") not in ds.users


def test_forget_command_reaches_a_running_service_and_the_model(make_client, model_copy, ease_dir, tmp_path, capsys):
    model, db = model_copy(ease_dir), tmp_path / "fb.sqlite"
    c = make_client(model, db)
    state = c.app.state.service
    assert c.post("/feedback", json=events("3", "1", "2")).status_code == 200
    assert main(["forget", "--model-dir", str(model), "--db", str(db), "--user", "3"]) == 0
    out = " ".join(capsys.readouterr().err.split())  # the console wraps long lines
    assert "2 feedback events deleted" in out and "tailwise retrain" in out
    assert rows(db, "3") == 0
    assert state.check_erasures() == 1 and state.check_erasures() == 0  # the watcher's check
    assert c.get("/recommend", params={"user_id": "3", "k": 5}).json()["known"] is False
    assert c.get("/info").json()["counts"]["feedback_events"] == 0

    assert main(["forget", "--model-dir", str(model), "--db", str(db), "--user", "3", "--retrain"]) == 0
    assert "no longer holds the user" in " ".join(capsys.readouterr().err.split())
    assert "3" not in Pipeline.load(model).users and hidden(tmp_path) == []


def test_forget_reports_bad_input_without_a_traceback(model_copy, ease_dir, tmp_path, capsys):
    model, db = model_copy(ease_dir), tmp_path / "fb.sqlite"
    assert main(["forget", "--model-dir", str(tmp_path / "nowhere"), "--db", str(db), "--user", "1"]) == 2
    assert "not a tailwise model directory" in capsys.readouterr().err
    assert main(["forget", "--model-dir", str(model), "--db", str(db), "--user", ""]) == 2
    assert "must not be empty" in capsys.readouterr().err
    secret = tmp_path / "secret"
    secret.write_text(SECRET)
    assert main(["forget", "--model-dir", str(model), "--db", str(db), "--user", "1", "--secret-file", str(secret)]) == 0
    capsys.readouterr()
    assert main(["forget", "--model-dir", str(model), "--db", str(db), "--user", "1"]) == 2  # no secret now
    err = capsys.readouterr().err
    assert "pseudonymised" in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exit_info:
        main(["forget", "--model-dir", str(model)])  # --user missing: argparse's usage error
    assert exit_info.value.code == 2
