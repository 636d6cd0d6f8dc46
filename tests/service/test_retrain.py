"""Retraining: stored feedback and items merged into the model's interactions, the CLI command,
and the running service picking the new model up."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tailwise.cli.main import main
from tailwise.errors import DataError
from tailwise.pipeline import Pipeline
from tailwise.service.retrain import merged_dataset
from tailwise.service.settings import ServiceSettings
from tailwise.service.store import Event, FeedbackStore, StoredItem

SECRET = "correct horse battery staple"


def test_merge_adds_events_users_and_items(ease_dir, tmp_path):
    pipe = Pipeline.load(ease_dir)
    with FeedbackStore(tmp_path / "fb.sqlite") as store:
        store.add_events([Event("1", "2", "click", 1.0, 0.0), Event("dora", "1", "view", 1.0, 0.0), Event("dora", "new-item", "view", 1.0, 0.0)])
        store.upsert_items([StoredItem("new-item", "New Item (2025). Drama", "New Item"), StoredItem("1", "Toy Story (1995). Kids", "Toy Story")])
        ds, summary = merged_dataset(pipe, store, ServiceSettings())
    assert summary == {"events": 3, "new_users": 1, "new_items": 1, "updated_items": 1, "erased_users": 0, "feedback_through": 3, "erased_through": 0}
    m = ds.matrix()
    assert ds.n_interactions == pipe.history.nnz + 3 and ds.n_users == 41 and ds.n_items == len(pipe.items) + 1
    before = set(pipe.items.ids[pipe.history[pipe.users.index("1")].indices].tolist())
    assert set(ds.items.ids[m[ds.users.index("1")].indices].tolist()) == before | {"2"}
    assert set(ds.items.ids[m[ds.users.index("dora")].indices].tolist()) == {"1", "new-item"}
    texts = dict(zip(ds.items.ids.tolist(), ds.texts()))
    assert texts["new-item"] == "New Item (2025). Drama" and texts["1"] == "Toy Story (1995). Kids"


def test_merge_matches_pseudonymised_users_with_the_secret(ease_dir, tmp_path):
    pipe = Pipeline.load(ease_dir)
    s = ServiceSettings(secret=SECRET)
    with FeedbackStore(tmp_path / "fb.sqlite", s.key_check()) as store:
        store.add_events([Event(s.user_key("1"), "2", "click", 1.0, 0.0), Event(s.user_key("erin"), "1", "view", 1.0, 0.0)])
        ds, summary = merged_dataset(pipe, store, s)
        with pytest.raises(DataError, match="pseudonymised"):
            merged_dataset(pipe, store, ServiceSettings())
    assert summary["new_users"] == 1 and ds.n_users == 41
    assert "erin" not in ds.users and s.user_key("erin") in ds.users  # new users join by their key
    assert ds.items.index("2") in ds.matrix()[ds.users.index("1")].indices


def test_retrain_command_and_the_service_swap(make_client, model_copy, hybrid_dir, tmp_path):
    model, db = model_copy(hybrid_dir), tmp_path / "fb.sqlite"
    c = make_client(model, db)
    state = c.app.state.service
    assert c.post("/items", json={"items": [{"item_id": "moon", "text": "Moon Kids (2025). Animation, Children"}]}).status_code == 200
    assert c.post("/feedback", json={"events": [{"user_id": "fay", "item_id": "moon", "type": "click"}]}).status_code == 200
    assert main(["retrain", "--model-dir", str(model), "--db", str(db)]) == 0
    manifest = json.loads((model / "manifest.json").read_text())
    assert manifest["feedback_through"] == 1 and manifest["retrained"]["new_items"] == 1
    new = Pipeline.load(model)
    assert "moon" in new.items and "fay" in new.users
    assert new.history[new.users.index("fay")].indices.tolist() == [new.items.index("moon")]
    # an event after the retrain's snapshot, before the swap: folded into the new model too
    assert c.post("/feedback", json={"events": [{"user_id": "fay", "item_id": "1", "type": "view"}]}).status_code == 200
    assert state.check_reload() is True and state.check_reload() is False
    info = c.get("/info").json()
    assert info["counts"]["users"] == 41 and info["counts"]["new_items"] == 0 and info["counts"]["feedback_users"] == 1
    fay = c.get("/recommend", params={"user_id": "fay", "k": 10}).json()
    assert fay["known"] is True and not {"moon", "1"} & {it["item_id"] for it in fay["items"]}
    assert c.get("/items/moon").json()["new"] is False  # part of the fitted catalogue now
    np.testing.assert_array_equal(state.live.pipe.items.ids, new.items.ids)


def test_serve_and_retrain_report_bad_directories(tmp_path, capsys):
    assert main(["serve", "--model-dir", str(tmp_path / "nowhere")]) == 2
    assert "not a tailwise model directory" in capsys.readouterr().err
    assert main(["retrain", "--model-dir", str(tmp_path / "nowhere"), "--db", str(tmp_path / "none.sqlite")]) == 2
    assert "no feedback database" in capsys.readouterr().err


def test_retrain_above_the_memory_budget_changes_nothing(model_copy, ease_dir, tmp_path, capsys):
    model, db = model_copy(ease_dir), tmp_path / "fb.sqlite"
    with FeedbackStore(db) as store:
        store.add_events([Event("dora", "1", "view", 1.0, 0.0)])
    before = {p: p.read_bytes() for p in sorted(model.rglob("*")) if p.is_file()}
    assert main(["retrain", "--model-dir", str(model), "--db", str(db), "--memory-budget", "1K"]) == 2
    err = capsys.readouterr().err
    assert "ease needs about" in err and "--memory-budget" in err and "Traceback" not in err
    assert {p: p.read_bytes() for p in sorted(model.rglob("*")) if p.is_file()} == before
    assert main(["retrain", "--model-dir", str(model), "--db", str(db), "--memory-budget", "1G"]) == 0
    assert json.loads((model / "manifest.json").read_text())["memory_budget"] == 10**9
    # without --memory-budget a retrain keeps the budget the model was fitted under
    assert main(["retrain", "--model-dir", str(model), "--db", str(db)]) == 0
    assert json.loads((model / "manifest.json").read_text())["memory_budget"] == 10**9
