"""Bulk ``POST /items``: items are placed in batches without the writers' lock, so feedback,
erasures and reads go on meanwhile, and each batch is recommendable once it is committed."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from tailwise.pipeline import Pipeline
from tailwise.rerank import Exposure
from tailwise.service.state import FeedbackIn, UnsupportedError
from tailwise.service.store import StoredItem


def new_items(n: int) -> list[StoredItem]:
    return [StoredItem(f"bulk-{i}", f"Bulk Movie {i} (2025). Animation, Children", f"Bulk Movie {i}") for i in range(n)]


def test_feedback_and_erasures_go_on_while_a_bulk_upload_places_items(make_client, hybrid_dir, monkeypatch):
    c = make_client(hybrid_dir)
    state = c.app.state.service
    placing, release, calls = threading.Event(), threading.Event(), []
    real = Pipeline.add_items

    def add_items(self, item_ids, texts):
        calls.append(list(item_ids))
        if len(calls) == 2:  # hold the second batch in the middle of placing it
            placing.set()
            assert release.wait(60)
        return real(self, item_ids, texts)

    monkeypatch.setattr(Pipeline, "add_items", add_items)
    done: list = []
    state.item_batch = 2
    upload = threading.Thread(target=lambda: done.append(state.add_items(new_items(5))))
    upload.start()
    try:
        assert placing.wait(60)
        # the first batch is committed and live; the others are not yet
        assert [it.item_id for it in state.store.items()] == ["bulk-0", "bulk-1"]
        assert state.live.item_index("bulk-1") >= 0 and state.live.item_index("bulk-2") < 0
        assert state.live.for_history(np.array([0]), None, 10, Exposure())["items"]  # reads go on
        writes = threading.Thread(target=lambda: (
            state.add_feedback([FeedbackIn("eve", "bulk-0", "click", 1.0, 0.0)]), state.erase_user("2"),
        ))  # fmt: skip
        writes.start()
        writes.join(timeout=30)
        assert not writes.is_alive(), "a feedback write waited for the item upload"
        assert state.live.profiles.folded["eve"].tolist() == [state.live.item_index("bulk-0")]
    finally:
        release.set()
        upload.join(timeout=120)
    (result,) = done
    assert (result.added, result.updated, result.batches) == (5, 0, 3)
    assert [len(ids) for ids in calls] == [2, 2, 1]
    assert all(state.live.item_index(f"bulk-{i}") >= 0 for i in range(5))
    assert state.live.profiles.folded["eve"].tolist() == [state.live.item_index("bulk-0")]  # kept by later batches
    assert "2" in state.live.profiles.erased


def test_bulk_answer_counts_batches_and_follows_the_last_text(make_client, hybrid_dir):
    c = make_client(hybrid_dir)
    c.app.state.service.item_batch = 3
    body = [{"item_id": f"b{i}", "text": f"B {i} (2025). Drama"} for i in range(7)]
    body += [{"item_id": "b0", "text": "B zero (2025). Comedy"}, {"item_id": "1", "text": "Toy Story (1995). Kids"}]
    r = c.post("/items", json={"items": body})
    assert r.status_code == 200
    answer = r.json()
    assert (answer["added"], answer["updated"], answer["batches"]) == (7, 1, 3)  # 8 distinct ids
    assert c.get("/items/b0").json()["text"] == "B zero (2025). Comedy"  # the last text of an id counts
    assert c.get("/items/1").json()["text"] == "Toy Story (1995). Kids"


def test_a_model_without_text_refuses_before_storing_anything(make_client, ease_dir):
    c = make_client(ease_dir)
    state = c.app.state.service
    before = c.get("/items/1").json()["text"]
    items = [StoredItem("1", "Toy Story (1995). Retitled", "Toy Story"), StoredItem("brand-new", "Brand New (2025)", "Brand New")]
    with pytest.raises(UnsupportedError, match="cannot score new items"):
        state.item_batch = 1
        state.add_items(items)  # new ids go first: refused on the first batch
    assert state.store.items() == [] and c.get("/items/1").json()["text"] == before


def test_a_large_upload_is_embedded_in_a_worker_process(make_client, hybrid_dir):
    c = make_client(hybrid_dir)
    state = c.app.state.service
    state.item_batch, state.offload.min_texts = 2, 1  # "large" for this test
    texts = [f"Worker Film {i} ({id(state)}). Documentary" for i in range(5)]
    r = c.post("/items", json={"items": [{"item_id": f"w{i}", "text": t} for i, t in enumerate(texts)]})
    assert r.status_code == 200 and r.json()["batches"] == 3
    assert state.offload.encoded == 5  # the worker encoded every text; the service found them cached
    similar = c.get("/similar/w0", params={"k": 3}).json()["items"]
    assert len(similar) == 3
    state.offload.close()  # and a later upload starts a new worker
    assert c.post("/items", json={"items": [{"item_id": "w9", "text": f"Worker Film 9 ({id(state)}). Drama"}]}).status_code == 200
    assert state.offload.encoded == 6


def test_without_a_worker_the_service_embeds_in_place(make_client, hybrid_dir, monkeypatch, caplog):
    from tailwise.service.offload import TextOffload

    def broken(self):
        raise OSError("no processes left")

    monkeypatch.setattr(TextOffload, "_start", broken)
    c = make_client(hybrid_dir)
    state = c.app.state.service
    state.item_batch, state.offload.min_texts = 2, 1
    r = c.post("/items", json={"items": [{"item_id": f"p{i}", "text": f"Placed Film {i} ({id(state)}). War"} for i in range(3)]})
    assert r.status_code == 200 and r.json()["added"] == 3 and state.offload.encoded == 0
    assert "embedding them in place" in caplog.text
