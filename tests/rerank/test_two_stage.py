"""Two-stage lists: the pipeline's candidates, then a re-ranker (external ids, unknown users,
fold-in, save/load), and the stages one at a time."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tailwise.models import EASE, ItemKNN
from tailwise.pipeline import Pipeline
from tailwise.rerank import RERANKERS, Exposure, RerankContext, make_reranker
from tailwise.testing.contract import random_dataset


@pytest.fixture(scope="module")
def fitted():
    ds = random_dataset(n_users=50, n_items=60, density=0.15, seed=3)
    return Pipeline.fit(EASE(l2=5.0), ds), ds


@pytest.mark.parametrize("name", [n for n in RERANKERS if n != "tailslots"])
def test_two_stage_equals_candidates_then_rerank(fitted, name):
    pipe, ds = fitted
    users, rows = np.arange(ds.n_users), ds.matrix()
    exposure = Exposure(name, 0.6, n_candidates=25, seed=4)
    got = pipe.run(users, rows, k=5, exposure=exposure)
    cands = pipe.model.recommend(users, rows, k=25)
    want_i, want_s = make_reranker(name, 0.6, seed=4).rerank(cands.items, cands.scores, rows, 5, pipe.rerank_context())
    assert np.array_equal(got.items, want_i) and np.array_equal(got.scores, want_s)
    stepwise = pipe.rerank(pipe.candidates(users, rows, 5, exposure=exposure), rows, 5, exposure)
    assert np.array_equal(stepwise.items, got.items)
    seen = rows.toarray() > 0
    assert not seen[np.arange(ds.n_users)[:, None], np.maximum(got.items, 0)][got.items >= 0].any()


def test_two_stage_keeps_the_whitelist_and_batches(fitted, monkeypatch):
    from tailwise.pipeline import stages

    pipe, ds = fitted
    users, rows = np.arange(ds.n_users), ds.matrix()
    allowed = np.arange(0, ds.n_items, 2)
    exposure = Exposure("xquad", 0.8, n_candidates=20)
    whole = pipe.run(users, rows, k=6, candidates=allowed, exposure=exposure)
    assert np.isin(whole.items[whole.items >= 0], allowed).all()
    monkeypatch.setattr(stages, "BATCH", 7)
    batched = pipe.run(users, rows, k=6, candidates=allowed, exposure=exposure)
    assert np.array_equal(whole.items, batched.items)


def test_xquad_puts_more_tail_in_the_lists(skewed):
    ds = skewed
    pipe = Pipeline.fit(EASE(l2=50.0), ds)
    users, rows = np.arange(ds.n_users), ds.matrix()
    tail = pipe.rerank_context().tail
    share = []
    for w in (0.0, 0.5, 0.9):
        recs = pipe.run(users, rows, k=10, exposure=Exposure("xquad", w, n_candidates=50))
        share.append(tail[recs.items[recs.items >= 0]].mean())
    assert share[0] < 0.1 and share[0] < share[1] < share[2]  # EASE alone: nearly all head


def test_at_least_k_candidates(fitted):
    pipe, ds = fitted
    few = pipe.run(np.arange(3), ds.matrix()[:3], k=8, exposure=Exposure("xquad", 0.5, n_candidates=2))
    assert (few.items >= 0).sum(axis=1).tolist() == [8, 8, 8]  # n_candidates < k: k candidates


def test_pipeline_rerank_by_settings(fitted):
    pipe, ds = fitted
    ids = [str(u) for u in ds.users.ids[:10]] + ["stranger"]
    plain = pipe.recommend(ids, k=5)
    assert np.array_equal(pipe.recommend(ids, k=5, exposure=Exposure("xquad", 0.0)).items, plain.items)
    assert np.array_equal(pipe.recommend(ids, k=5, exposure=Exposure("none", 0.7)).items, plain.items)
    boosted = pipe.recommend(ids, k=5, exposure=Exposure("xquad", 0.9, n_candidates=30))
    idx = pipe.users.indices(ids[:10])
    cands = pipe.model.recommend(idx, pipe.history[idx], k=30)
    want, _ = make_reranker("xquad", 0.9).rerank(cands.items, cands.scores, pipe.history[idx], 5, pipe.rerank_context())
    assert np.array_equal(boosted.items[:10], want)
    assert np.array_equal(boosted.items[10], plain.items[10])  # the unknown user's fallback
    assert np.array_equal(boosted.items[10], pipe.fallback(5)[0])
    assert pipe.rerank_context() is pipe.rerank_context()  # built once
    with pytest.raises(ValueError, match="choose from"):
        Exposure("bogus", 0.5)


def test_exposure_parse_and_default():
    assert Exposure.parse("xquad") == Exposure("xquad", 0.5)
    assert Exposure.parse(None) == Exposure() and not Exposure().active
    with pytest.raises(ValueError, match="needs a re-ranker"):
        Exposure.parse(None, 0.3)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        Exposure("mmr", 1.5)
    with pytest.raises(ValueError, match="n_candidates"):
        Exposure("mmr", 0.5, n_candidates=0)
    assert Exposure("stochastic", 0.5).replace(seed=9).seed == 9


def test_pipeline_history_stochastic_and_mmr(fitted, tmp_path):
    _, ds = fitted
    pipe = Pipeline.load(Pipeline.fit(ItemKNN(), ds).save(tmp_path / "model"))
    history = [str(i) for i in ds.items.ids[:4]]
    a = pipe.recommend_history(history, k=5, exposure=Exposure("stochastic", 0.8, seed=1))
    b = pipe.recommend_history(history, k=5, exposure=Exposure("stochastic", 0.8, seed=1))
    assert np.array_equal(a.items, b.items)
    draws = {tuple(pipe.recommend_history(history, k=5, exposure=Exposure("stochastic", 0.8, seed=s)).items[0]) for s in range(8)}
    assert len(draws) > 1
    mmr = pipe.recommend_history(history, k=5, exposure=Exposure("mmr", 0.5))
    assert len(set(mmr.items[0].tolist())) == 5 and not set(mmr.items[0].tolist()) & set(pipe.items.indices(history).tolist())


def test_item_vectors_come_from_the_text_side_when_the_model_has_one(fitted, monkeypatch):
    from tailwise.models import Content
    from tailwise.text.side import TextSide

    _, ds = fitted
    calls = []

    def fake_embed(self, texts):
        calls.append((self.encoder, len(texts)))
        return np.eye(len(texts), 8, dtype=np.float32)

    monkeypatch.setattr(TextSide, "embed", fake_embed)
    text_pipe = Pipeline.fit(Content(encoder="tfidf"), ds)
    calls.clear()
    vectors = text_pipe.rerank_context().vectors()
    assert calls == [("tfidf", ds.n_items)] and vectors.shape == (ds.n_items, 8)
    cf = Pipeline.fit(EASE(), ds).rerank_context().vectors()  # no text side: SVD of the matrix
    assert calls == [("tfidf", ds.n_items)] and cf.shape[0] == ds.n_items


def test_rerank_context_validates_its_inputs():
    with pytest.raises(ValueError, match="tail has shape"):
        RerankContext(np.ones(3), np.ones(2, bool))
    h = sp.csr_matrix(np.array([[1, 0, 1], [1, 1, 0]], dtype=np.float32))
    assert RerankContext.from_history(h).item_pop.tolist() == [2, 1, 1]
