"""``GET /history``, dislikes (negative feedback) and the re-ranked popularity fallback."""

from __future__ import annotations

import numpy as np
import pytest

from tailwise.pipeline import Pipeline
from tailwise.service.keys import ApiKey, Keyring, token_digest

pytest.importorskip("fastapi")


def test_history_lists_feedback_first_then_training(make_client, ease_dir):
    pipe = Pipeline.load(ease_dir)
    u = pipe.users.index("1")
    train = {str(pipe.items.ids[i]) for i in pipe.history[u].indices}
    c = make_client(ease_dir)
    before = c.get("/history", params={"user_id": "1", "limit": 500}).json()
    assert before["known"] is True and before["total"] == len(train)
    assert {i["item_id"] for i in before["items"]} == train
    assert all(i["source"] == "training" and i["title"] for i in before["items"])
    new = next(str(i) for i in pipe.items.ids if str(i) not in train)
    assert c.post("/feedback", json={"events": [{"user_id": "1", "item_id": new, "type": "rating"}]}).status_code == 200
    after = c.get("/history", params={"user_id": "1", "limit": 3}).json()
    assert after["total"] == len(train) + 1 and len(after["items"]) == 3
    assert after["items"][0] == {"item_id": new, "title": after["items"][0]["title"], "tail": after["items"][0]["tail"], "source": "feedback"}
    nobody = c.get("/history", params={"user_id": "nobody"}).json()
    assert nobody == {"user_id": "nobody", "known": False, "total": 0, "items": []}


def test_a_dislike_is_stored_but_never_counts_as_interest(make_client, ease_dir, tmp_path):
    c = make_client(ease_dir)
    top = c.get("/recommend", params={"user_id": "1", "k": 3}).json()["items"][0]["item_id"]
    before = c.get(f"/items/{top}").json()["interactions"]
    r = c.post("/feedback", json={"events": [{"user_id": "1", "item_id": top, "type": "rating", "value": -1}]})
    assert r.json() == {"stored": 1}
    hist = c.get("/history", params={"user_id": "1", "limit": 1000}).json()
    assert top not in {i["item_id"] for i in hist["items"]}  # not folded in as history
    assert c.get(f"/items/{top}").json()["interactions"] == before
    # a restarted service catching up from the database leaves it out too
    again = make_client(ease_dir, db=tmp_path / "feedback.sqlite")
    assert top not in {i["item_id"] for i in again.get("/history", params={"user_id": "1", "limit": 1000}).json()["items"]}


def test_a_key_bound_to_a_user_reads_only_that_history(make_client, ease_dir):
    alice, reader = "tw_alice_token_0123456789abcdef", "tw_reader_token_0123456789abcdef"
    keys = Keyring((ApiKey(token_digest(alice), "write", "1"), ApiKey(token_digest(reader), "read")))
    c = make_client(ease_dir, keys=keys)
    assert c.get("/history", params={"user_id": "1"}).status_code == 401
    own = c.get("/history", params={"user_id": "1"}, headers={"Authorization": f"Bearer {alice}"})
    assert own.status_code == 200 and own.json()["total"] > 0
    other = c.get("/history", params={"user_id": "2"}, headers={"Authorization": f"Bearer {alice}"})
    assert other.status_code == 403 and "user '1' only" in other.json()["detail"]
    assert c.get("/history", params={"user_id": "2"}, headers={"X-API-Key": reader}).status_code == 200


def test_the_fallback_goes_through_the_requested_re_ranker(make_client, ease_dir):
    c = make_client(ease_dir)
    pipe = Pipeline.load(ease_dir)
    counts = np.diff(pipe.history.tocsc().indptr)
    plain = c.get("/recommend", params={"user_id": "nobody", "k": 10}).json()
    assert plain["known"] is False and sum(i["tail"] for i in plain["items"]) == 0
    assert [i["score"] for i in plain["items"]] == sorted(counts.tolist(), reverse=True)[:10]
    tilted = c.get("/recommend", params={"user_id": "nobody", "k": 10, "tail_weight": 0.6, "rerank": "xquad"}).json()
    assert tilted["known"] is False
    n_tail = sum(i["tail"] for i in tilted["items"])
    assert 0 < n_tail < 10
    assert [i["rank"] for i in tilted["items"]] == list(range(1, 11))
