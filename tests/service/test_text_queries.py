"""Text queries steer lists: relevant items first, the no-match flag, new items found at once, and
known users' taste ordering the relevant items; in the pipeline and over HTTP."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tailwise.pipeline import NO_QUERY_MATCH, Pipeline
from tailwise.rerank import Exposure

KNITTING = "Quantum Knitting (2031). A documentary about knitting sweaters for quantum physicists in Antarctica. Genres: Documentary."
PARAPHRASE = "documentary about knitting sweaters for physicists in Antarctica"
QUERIES = ["comedy about a heist", "space adventure for kids", "romantic drama in Paris", "animated film with toys"]


@pytest.fixture(scope="module")
def pipe(hybrid_dir) -> Pipeline:
    return Pipeline.load(hybrid_dir)


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("k", [5, 40])
def test_no_irrelevant_item_comes_before_a_relevant_one(pipe, query, k):
    res = pipe.query(query, k=k)
    relevant = set(res.match.relevant.tolist())
    items = res.recs.items[0][res.recs.items[0] >= 0]
    assert res.n_relevant == min(k, len(relevant)) > 0
    assert set(items[: res.n_relevant].tolist()) <= relevant
    assert not set(items[res.n_relevant :].tolist()) & relevant  # every relevant item already came
    scores = res.recs.scores[0][: len(items)]
    assert (np.diff(scores) <= 0).all()


def test_a_query_without_relevant_items_is_flagged(pipe, make_client, hybrid_dir):
    lists = pipe.recommend_query("xqzvt blorp wmmf", k=5)
    assert lists.relevant.tolist() == [0] and lists.fallback == (NO_QUERY_MATCH,)
    assert (lists.items[0] >= 0).all()  # still a list: the most popular items
    body = make_client(hybrid_dir).post("/recommend", json={"query": "xqzvt blorp wmmf", "k": 5}).json()
    assert body["query"] == {"relevant": 0, "note": NO_QUERY_MATCH} and len(body["items"]) == 5


def test_an_item_added_after_the_fit_is_found_by_a_paraphrase_at_once(pipe):
    grown = copy.copy(pipe)
    grown.text_index()  # built before the item comes, so it must grow
    grown.add_items(["knit"], [KNITTING])
    lists = grown.recommend_query(PARAPHRASE, k=10)
    assert grown.items.index("knit") in lists.items[0].tolist()


def test_an_item_added_over_http_is_found_and_explained_by_its_words(make_client, hybrid_dir):
    c = make_client(hybrid_dir, warm_text=True)
    assert c.post("/items", json={"items": [{"item_id": "knit", "text": KNITTING}]}).status_code == 200
    body = c.post("/recommend", json={"query": PARAPHRASE, "k": 10}).json()
    found = {it["item_id"]: it for it in body["items"]}
    assert "knit" in found and body["query"]["relevant"] > 0
    assert found["knit"]["because"].startswith("matches your text: ") and "knitting" in found["knit"]["because"]
    assert "knit" in {it["item_id"] for it in c.get("/items", params={"q": "sweaters for physicists"}).json()["items"]}


def test_known_users_get_the_relevant_items_in_their_own_order(pipe, make_client, hybrid_dir):
    query = "comedy"
    relevant = set(pipe.text_match(query).relevant.tolist())
    lists = pipe.recommend(["1", "4"], k=10, query=query)
    assert lists.known.all() and (lists.relevant == 10).all()
    for row in lists.items:
        assert set(row.tolist()) <= relevant
    assert lists.items[0].tolist() != lists.items[1].tolist()
    for u, row in zip(("1", "4"), lists.items):  # never an item of the user's training history
        assert not set(row.tolist()) & set(pipe.history[pipe.users.index(u)].indices.tolist())
    c = make_client(hybrid_dir)
    over_http = [[it["item_id"] for it in c.post("/recommend", json={"query": query, "user_id": u, "k": 10}).json()["items"]] for u in ("1", "4")]
    assert over_http == [[str(pipe.items.id(i)) for i in row] for row in lists.items]
    with_more = c.post("/recommend", json={"user_id": "1", "history": [str(pipe.items.id(lists.items[0][0]))], "query": query}).json()
    assert with_more["known"] and str(pipe.items.id(lists.items[0][0])) not in {it["item_id"] for it in with_more["items"]}


def test_the_bm25_index_is_saved_and_read_back_not_rebuilt(pipe, hybrid_dir, model_copy, monkeypatch, caplog):
    from tailwise.text import lexical

    d = model_copy(hybrid_dir)
    assert (d / "lexical.npz").is_file()
    want = pipe.text_match("comedy about a heist")

    def no_rebuild(*a, **k):
        raise AssertionError("the BM25 index was rebuilt")

    with monkeypatch.context() as m:
        m.setattr(lexical.BM25, "__init__", no_rebuild)
        got = Pipeline.load(d).text_match("comedy about a heist")
    assert got.items.tolist() == want.items.tolist() and got.n_relevant == want.n_relevant
    (d / "lexical.npz").write_bytes(b"not an archive")  # damaged: built from the texts instead, logged
    assert Pipeline.load(d).text_match("comedy about a heist").items.tolist() == want.items.tolist()
    assert "lexical.npz: not used" in caplog.text


def test_a_saved_bm25_index_of_other_texts_is_not_used(pipe, tmp_path):
    grown = copy.copy(pipe)
    grown.add_items(["knit"], [KNITTING])
    grown.save(tmp_path / "a")
    (tmp_path / "b").mkdir()
    pipe.save(tmp_path / "b")
    (tmp_path / "b" / "lexical.npz").write_bytes((tmp_path / "a" / "lexical.npz").read_bytes())  # one item too many
    again = Pipeline.load(tmp_path / "b")
    assert again.text_index().lexical.n_items == len(pipe.items)
    assert again.text_match("knitting sweaters").items.tolist() == pipe.text_match("knitting sweaters").items.tolist()
    loaded = Pipeline.load(tmp_path / "a")  # the grown catalogue's own index, the added item included
    assert loaded.items.index("knit") in loaded.text_match("knitting sweaters").relevant


def test_items_added_before_the_first_query_grow_the_saved_bm25_index(pipe, hybrid_dir, monkeypatch):
    from tailwise.text import lexical

    loaded = Pipeline.load(hybrid_dir)
    loaded.add_items(["knit"], [KNITTING])  # before any query: the text index is made afterwards

    def no_rebuild(*a, **k):
        raise AssertionError("the BM25 index was rebuilt")

    monkeypatch.setattr(lexical.BM25, "__init__", no_rebuild)
    assert loaded.text_index().lexical.n_items == len(pipe.items) + 1
    assert loaded.items.index("knit") in loaded.text_match("knitting sweaters").relevant


def test_a_loaded_pipeline_saved_again_keeps_its_bm25_index_without_tokenising(hybrid_dir, tmp_path, monkeypatch):
    from tailwise.text import lexical

    loaded = Pipeline.load(hybrid_dir)

    def no_rebuild(*a, **k):
        raise AssertionError("the BM25 index was rebuilt")

    monkeypatch.setattr(lexical.BM25, "__init__", no_rebuild)
    loaded.save(tmp_path / "again")
    assert (tmp_path / "again" / "lexical.npz").read_bytes() != b""
    got = Pipeline.load(tmp_path / "again").text_index().lexical
    assert got.n_items == len(loaded.items) and got.vocab == Pipeline.load(hybrid_dir).text_index().lexical.vocab


def test_the_query_map_is_fitted_with_the_model_saved_and_read_back_not_refitted(pipe, hybrid_dir, model_copy, monkeypatch, caplog):
    from tailwise.pipeline import query as pq
    from tailwise.text.querymap import map_queries

    d = model_copy(hybrid_dir)
    assert (d / "querymap.npz").is_file()  # written by the fit's save, before any query
    index = pipe.text_index()
    assert index.query_map is not None and index.query_map.shape == (index.emb.shape[1],)
    raw = index.side.encode_queries([PARAPHRASE])
    np.testing.assert_allclose(index.encode_query(PARAPHRASE), map_queries(index.query_map, raw)[0], rtol=1e-6)
    assert not np.allclose(index.encode_query(PARAPHRASE), raw[0], atol=1e-3)  # the map moves the query

    def no_refit(*a, **k):
        raise AssertionError("the query map was fitted again")

    with monkeypatch.context() as m:
        m.setattr(pq, "fit_query_map", no_refit)
        loaded = Pipeline.load(d).text_index()
        np.testing.assert_array_equal(loaded.query_map, index.query_map)
        grown = copy.copy(Pipeline.load(d))
        grown.add_items(["knit"], [KNITTING])  # the map is on the query side: added items need nothing
        np.testing.assert_array_equal(grown.text_index().query_map, index.query_map)
    (d / "querymap.npz").write_bytes(b"not an archive")  # damaged: fitted again, logged
    np.testing.assert_allclose(Pipeline.load(d).text_index().query_map, index.query_map, rtol=1e-5)
    assert "querymap.npz: not used" in caplog.text


@pytest.mark.parametrize("exposure", [None, Exposure(rerank="xquad", tail_weight=0.5), Exposure(rerank="stochastic", tail_weight=0.5, seed=3)])
def test_a_known_users_tiers_come_from_one_model_pass_equal_to_a_pass_per_tier(pipe, monkeypatch, exposure):
    from tailwise.pipeline import query as pq

    calls = []
    real = type(pipe.model).score_batches

    def counted(self, *a, **k):
        calls.append(1)
        return real(self, *a, **k)

    monkeypatch.setattr(type(pipe.model), "score_batches", counted)
    checked = 0
    for query in ["star wars", "batman", "toy story", "christmas", "pirates", "zombies"]:  # strong and other matches
        match = pipe.text_match(query)
        for u in (0, 7):
            row = pipe.history[[u]]
            rel = match.relevant[~np.isin(match.relevant, row.indices)]
            tiers = [rel[np.isin(rel, match.strong)], rel[~np.isin(rel, match.strong)]]
            if not (len(tiers[0]) and len(tiers[1])):
                continue
            k = len(tiers[0]) + 3  # the second tier is needed
            calls.clear()
            got = pq._in_tiers(pipe, np.array([u]), row, k, tiers, exposure)
            assert len(calls) == 1
            want = np.concatenate([pipe.run(np.array([u]), row, min(k, len(t)), t, exposure).items[0] for t in tiers])[:k]
            assert got.tolist() == want.tolist()
            checked += 1
    assert checked >= 3


def test_a_model_whose_encoder_is_fitted_on_the_catalogue_is_saved_without_a_query_map(tmp_path, monkeypatch):
    from tailwise.models import Content
    from tailwise.testing.contract import random_dataset
    from tailwise.text import querymap

    monkeypatch.setattr(querymap, "MIN_PAIRS", 1)  # a map would be fitted for this small catalogue
    pipe = Pipeline.fit(Content(encoder="tfidf"), random_dataset(n_users=30, n_items=40, density=0.1))
    pipe.save(tmp_path / "m")  # TF-IDF encodes nothing before it is fitted: no map, no error
    from tailwise.pipeline.directory import read_query_map

    assert read_query_map(tmp_path / "m", "tfidf", 8) == (True, None)
