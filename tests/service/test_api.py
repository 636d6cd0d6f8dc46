"""The JSON API in process (the app factory behind FastAPI's test client), on real small models:
EASE for speed, the hybrid with the real USE encoder where text matters."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from tailwise.pipeline import Pipeline


def seen_by(model_dir, user: str) -> set[str]:
    pipe = Pipeline.load(model_dir)
    row = pipe.history[pipe.users.index(user)]
    return set(pipe.items.ids[row.indices].tolist())


def counts(answer: dict) -> dict:
    """The counts of a ``POST /items`` answer (``live_at`` is a time)."""
    assert answer.pop("live_at").endswith("+00:00")
    return answer


def test_recommend_for_a_known_user(make_client, ease_dir):
    c = make_client(ease_dir)
    body = c.get("/recommend", params={"user_id": "1", "k": 7}).json()
    assert body["user_id"] == "1" and body["known"] is True and body["model"] == "ease"
    items = body["items"]
    assert [it["rank"] for it in items] == list(range(1, 8))
    assert not {it["item_id"] for it in items} & seen_by(ease_dir, "1")
    scores = [it["score"] for it in items]
    assert scores == sorted(scores, reverse=True)
    assert all(it["because"].startswith("because you liked ") and it["title"] for it in items)
    assert all(isinstance(it["tail"], bool) for it in items)


def test_unknown_user_gets_the_most_popular_items(make_client, ease_dir):
    pipe = Pipeline.load(ease_dir)
    counts = np.diff(pipe.history.tocsc().indptr)
    body = make_client(ease_dir).get("/recommend", params={"user_id": "nobody", "k": 3}).json()
    assert body["known"] is False
    assert [it["score"] for it in body["items"]] == sorted(counts.tolist(), reverse=True)[:3]
    assert {it["because"] for it in body["items"]} == {"popular with everyone"}


def test_explanation_names_the_history_item_that_drives_it(make_client, ease_dir):
    c = make_client(ease_dir)
    body = c.post("/recommend", json={"history": ["1"], "k": 5}).json()  # Toy Story alone
    assert body["user_id"] is None and body["known"] is False
    assert {it["because"] for it in body["items"]} == {"because you liked Toy Story (1995)"}
    assert "1" not in {it["item_id"] for it in body["items"]}
    pipe = Pipeline.load(ease_dir)
    w = pipe.model.weights_[np.searchsorted(pipe.model.active_, pipe.items.index("1"))]
    best = pipe.items.ids[pipe.model.active_[np.argmax(w)]]
    assert body["items"][0]["item_id"] == best  # EASE's strongest neighbour of Toy Story


def test_feedback_is_reflected_in_the_next_recommendation(make_client, ease_dir, tmp_path):
    c = make_client(ease_dir, tmp_path / "fb.sqlite")
    before = c.get("/recommend", params={"user_id": "1", "k": 5}).json()["items"]
    top = before[0]["item_id"]
    r = c.post("/feedback", json={"events": [
        {"user_id": "1", "item_id": top, "type": "purchase", "timestamp": "2024-05-01T12:00:00Z"},
        {"user_id": "newbie", "item_id": "1", "type": "click", "value": 1},
    ]})  # fmt: skip
    assert r.status_code == 200 and r.json() == {"stored": 2}
    after = c.get("/recommend", params={"user_id": "1", "k": 5}).json()["items"]
    assert top not in {it["item_id"] for it in after}  # seen now
    newbie = c.get("/recommend", params={"user_id": "newbie", "k": 5}).json()
    assert newbie["known"] is True and newbie["items"][0]["because"] == "because you liked Toy Story (1995)"
    rows = sqlite3.connect(tmp_path / "fb.sqlite").execute("SELECT user_key, item_id, type, ts FROM events ORDER BY id").fetchall()
    assert rows == [("1", top, "purchase", 1714564800.0), ("newbie", "1", "click", rows[1][3])]
    counts = c.get("/info").json()["counts"]
    assert counts["feedback_events"] == 2 and counts["feedback_users"] == 2


def test_feedback_naming_an_unknown_item_stores_nothing(make_client, ease_dir, tmp_path):
    c = make_client(ease_dir, tmp_path / "fb.sqlite")
    r = c.post("/feedback", json={"events": [
        {"user_id": "u", "item_id": "1", "type": "view"}, {"user_id": "u", "item_id": "nope", "type": "view"},
    ]})  # fmt: skip
    assert r.status_code == 404 and r.json()["detail"] == "events[1].item_id: unknown item 'nope'"
    assert sqlite3.connect(tmp_path / "fb.sqlite").execute("SELECT COUNT(*) FROM events").fetchone()[0] == 0
    assert c.get("/recommend", params={"user_id": "u"}).json()["known"] is False


def test_ease_cannot_take_new_items_but_can_retitle_old_ones(make_client, ease_dir):
    c = make_client(ease_dir)
    r = c.post("/items", json={"items": [{"item_id": "brand-new", "text": "Brand New (2025). Drama"}]})
    assert r.status_code == 409 and "cannot score new items" in r.json()["detail"]
    assert c.get("/items/brand-new").status_code == 404
    r = c.post("/items", json={"items": [{"item_id": "1", "title": "Toy Story (1995)", "genres": ["Animation", "Kids"]}]})
    assert counts(r.json()) == {"added": 0, "updated": 1, "batches": 1}
    item = c.get("/items/1").json()
    assert item["text"] == "Toy Story (1995). Animation, Kids" and item["interactions"] > 0 and item["new"] is False


def test_new_item_is_recommendable_in_the_very_next_request(make_client, hybrid_dir, tmp_path):
    c = make_client(hybrid_dir, tmp_path / "fb.sqlite")
    kids = ["1", "2355", "3114", "588"]  # Toy Story, A Bug's Life, Toy Story 2, Aladdin
    text = "Toy Robots 3 (2025). Adventure, Animation, Children, Comedy, Fantasy"
    r = c.post("/items", json={"items": [{"item_id": "toy-robots", "text": text}]})
    assert r.status_code == 200 and counts(r.json()) == {"added": 1, "updated": 0, "batches": 1}
    item = c.get("/items/toy-robots").json()
    assert item == {"item_id": "toy-robots", "title": "Toy Robots 3 (2025)", "text": text, "interactions": 0, "tail": True, "new": True}
    similar = c.get("/similar/toy-robots", params={"k": 10}).json()["items"]
    assert {"1", "3114"} & {it["item_id"] for it in similar}  # placed among the Toy Stories
    def rank(history: list[str]) -> int | None:
        recs = [it["item_id"] for it in c.post("/recommend", json={"history": history, "k": 40}).json()["items"]]
        return recs.index("toy-robots") + 1 if "toy-robots" in recs else None

    # among the first 40 of 650 for a children's-film history, not for a horror-film one
    assert rank(kids) is not None and rank(["593", "1214", "1258", "47"]) is None
    found = c.get("/items", params={"q": "toy robots", "limit": 3}).json()["items"]
    assert found[0]["item_id"] == "toy-robots" and found[0]["new"] is True
    assert c.get("/info").json()["counts"]["new_items"] == 1


def test_updating_an_item_reembeds_it_and_keeps_its_interactions(make_client, hybrid_dir):
    c = make_client(hybrid_dir)
    before = c.get("/items/1").json()
    old_similar = [it["item_id"] for it in c.get("/similar/1", params={"k": 5}).json()["items"]]
    text = "Grim Winter (1995). Horror, Thriller, War"
    assert c.post("/items", json={"items": [{"item_id": "1", "text": text}]}).json()["updated"] == 1
    after = c.get("/items/1").json()
    assert after["text"] == text and after["interactions"] == before["interactions"] and after["new"] is False
    assert [it["item_id"] for it in c.get("/similar/1", params={"k": 5}).json()["items"]] != old_similar


def test_free_text_query_explains_by_the_text(make_client, hybrid_dir):
    c = make_client(hybrid_dir)
    body = c.post("/recommend", json={"query": "animated film for children with toys", "k": 10}).json()
    assert len(body["items"]) == 10 and any(it["because"].startswith("matches your text") for it in body["items"])
    both = c.post("/recommend", json={"query": "animated film for children", "history": ["1"], "k": 10}).json()
    assert "1" not in {it["item_id"] for it in both["items"]}


def test_rerank_parameters_reach_the_reranker(make_client, hybrid_dir):
    pytest.importorskip("tailwise.rerank")
    c = make_client(hybrid_dir)
    users = [str(u) for u in range(1, 11)]

    def lists(**params) -> list[list[str]]:
        return [[it["item_id"] for it in c.get("/recommend", params={"user_id": u, "k": 10, **params}).json()["items"]] for u in users]

    plain = lists()
    assert lists(tail_weight=0.0, rerank="mmr") == plain  # weight 0 = no re-ranking
    for name in ("xquad", "calibrated", "mmr"):
        reranked = lists(tail_weight=1.0, rerank=name)
        assert reranked != plain, name
        for u, items in zip(users, reranked):
            assert len(items) == len(set(items)) == 10 and not set(items) & seen_by(hybrid_dir, u)
    body = c.post("/recommend", json={"history": ["1"], "k": 5, "tail_weight": 0.7, "rerank": "xquad"}).json()
    assert len(body["items"]) == 5


def test_info_users_and_health(make_client, ease_dir):
    c = make_client(ease_dir)
    assert c.get("/healthz").json() == {"status": "ok"}
    info = c.get("/info").json()
    assert info["model"] == "ease" and info["params"] == {"l2": 50.0, "l2_item": 0.0} and info["pseudonymised"] is False
    assert info["counts"]["users"] == 40 and info["versions"]["tailwise"]
    users = c.get("/users", params={"prefix": "1", "limit": 3}).json()
    assert users["total"] == 11 and [u["user_id"] for u in users["users"]] == ["1", "10", "11"]
    assert c.get("/openapi.json").json()["paths"].keys() >= {"/recommend", "/similar/{item_id}", "/items", "/feedback", "/info"}


def test_web_page_is_served(make_client, ease_dir):
    c = make_client(ease_dir)
    page = c.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert c.get("/static/app.js").status_code == 200


def test_serving_without_the_extra_names_it(monkeypatch, ease_dir):
    import sys

    from tailwise.errors import MissingExtraError
    from tailwise.service.app import create_app

    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r'pip install "tailwise\[serve\]"'):
        create_app(ease_dir)
