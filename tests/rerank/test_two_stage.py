"""Two-stage recommend: the model's top-N candidates, then a re-ranker, through
Recommender.recommend and the Pipeline (external ids, unknown users, fold-in, save/load)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tailwise.models import EASE, ItemKNN
from tailwise.pipeline import Pipeline
from tailwise.rerank import RERANKERS, RerankContext, XQuAD, item_vector_loader, make_reranker
from tailwise.testing.contract import random_dataset


@pytest.fixture(scope="module")
def fitted():
    ds = random_dataset(n_users=50, n_items=60, density=0.15, seed=3)
    return EASE(l2=5.0).fit(ds), ds


@pytest.mark.parametrize("name", list(RERANKERS))
def test_two_stage_equals_candidates_then_rerank(fitted, name):
    model, ds = fitted
    users, rows = np.arange(ds.n_users), ds.matrix()
    ctx = RerankContext.from_history(rows)
    got = model.recommend(users, rows, k=5, rerank=make_reranker(name, 0.6, seed=4), rerank_ctx=ctx, n_candidates=25)
    cands = model.recommend(users, rows, k=25)
    want_i, want_s = make_reranker(name, 0.6, seed=4).rerank(cands.items, cands.scores, rows, 5, ctx)
    assert np.array_equal(got.items, want_i) and np.array_equal(got.scores, want_s)
    seen = rows.toarray() > 0
    assert not seen[np.arange(ds.n_users)[:, None], np.maximum(got.items, 0)][got.items >= 0].any()


def test_two_stage_keeps_the_whitelist_and_batches(fitted):
    model, ds = fitted
    users, rows = np.arange(ds.n_users), ds.matrix()
    ctx = RerankContext.from_history(rows)
    allowed = np.arange(0, ds.n_items, 2)
    kw = {"k": 6, "candidates": allowed, "rerank": XQuAD(0.8), "rerank_ctx": ctx, "n_candidates": 20}
    whole = model.recommend(users, rows, **kw)
    assert np.isin(whole.items[whole.items >= 0], allowed).all()
    batched = model.recommend(users, rows, batch_size=7, **kw)
    assert np.array_equal(whole.items, batched.items)


def test_xquad_puts_more_tail_in_the_lists(skewed):
    ds = skewed
    model = EASE(l2=50.0).fit(ds)
    users, rows = np.arange(ds.n_users), ds.matrix()
    ctx = RerankContext.from_history(rows, head_share=0.2)
    share = []
    for w in (0.0, 0.5, 0.9):
        reranker = make_reranker("xquad", w)
        recs = model.recommend(users, rows, k=10, rerank=reranker, rerank_ctx=ctx, n_candidates=50)
        share.append(ctx.tail[recs.items[recs.items >= 0]].mean())
    assert share[0] < 0.1 and share[0] < share[1] < share[2]  # EASE alone: nearly all head


def test_rerank_needs_a_context_and_at_least_k_candidates(fitted):
    model, ds = fitted
    with pytest.raises(ValueError, match="rerank_ctx"):
        model.recommend(np.arange(3), ds.matrix()[:3], k=5, rerank=XQuAD(0.5))
    ctx = RerankContext.from_history(ds.matrix())
    few = model.recommend(np.arange(3), ds.matrix()[:3], k=8, rerank=XQuAD(0.5), rerank_ctx=ctx, n_candidates=2)
    assert (few.items >= 0).sum(axis=1).tolist() == [8, 8, 8]  # n_candidates < k: k candidates


def test_pipeline_rerank_by_name(fitted):
    _, ds = fitted
    pipe = Pipeline.fit(EASE(l2=5.0), ds)
    ids = [str(u) for u in ds.users.ids[:10]] + ["stranger"]
    plain = pipe.recommend(ids, k=5)
    assert np.array_equal(pipe.recommend(ids, k=5, rerank="xquad", tail_weight=0.0).items, plain.items)
    assert np.array_equal(pipe.recommend(ids, k=5, rerank="none", tail_weight=0.7).items, plain.items)
    boosted = pipe.recommend(ids, k=5, rerank="xquad", tail_weight=0.9, n_candidates=30)
    idx = pipe.users.indices(ids[:10])
    want = pipe.model.recommend(idx, pipe.history[idx], k=5, rerank=XQuAD(0.9), rerank_ctx=pipe.rerank_context(), n_candidates=30)
    assert np.array_equal(boosted.items[:10], want.items)
    assert np.array_equal(boosted.items[10], plain.items[10])  # the unknown user's fallback
    assert pipe.rerank_context() is pipe.rerank_context()  # built once
    with pytest.raises(ValueError, match="choose from"):
        pipe.recommend(ids, k=5, rerank="bogus", tail_weight=0.5)


def test_pipeline_history_stochastic_and_mmr(fitted, tmp_path):
    _, ds = fitted
    pipe = Pipeline.load(Pipeline.fit(ItemKNN(), ds).save(tmp_path / "model"))
    history = [str(i) for i in ds.items.ids[:4]]
    a = pipe.recommend_history(history, k=5, rerank="stochastic", tail_weight=0.8, seed=1)
    b = pipe.recommend_history(history, k=5, rerank="stochastic", tail_weight=0.8, seed=1)
    assert np.array_equal(a.items, b.items)
    draws = {tuple(pipe.recommend_history(history, k=5, rerank="stochastic", tail_weight=0.8, seed=s).items[0]) for s in range(8)}
    assert len(draws) > 1
    mmr = pipe.recommend_history(history, k=5, rerank="mmr", tail_weight=0.5)
    assert len(set(mmr.items[0].tolist())) == 5 and not set(mmr.items[0].tolist()) & set(pipe.items.indices(history).tolist())


def test_item_vectors_come_from_the_text_side_when_the_model_has_one(fitted, monkeypatch):
    from tailwise.models.textside import TextSide

    _, ds = fitted
    calls = []

    def fake_embed(self, texts):
        calls.append((self.encoder, len(texts)))
        return np.eye(len(texts), 8, dtype=np.float32)

    monkeypatch.setattr(TextSide, "embed", fake_embed)

    class TextModel:
        encoder = "tfidf"

    vectors = item_vector_loader(TextModel(), ds.texts(), ds.matrix())()
    assert calls == [("tfidf", ds.n_items)] and vectors.shape == (ds.n_items, 8)
    cf = item_vector_loader(EASE(), ds.texts(), ds.matrix())()  # no text side: SVD of the matrix
    assert calls == [("tfidf", ds.n_items)] and cf.shape[0] == ds.n_items
    assert np.allclose(cf @ cf.T, (ds.matrix().T @ ds.matrix()).toarray(), atol=0.5)


def test_rerank_context_validates_its_inputs():
    with pytest.raises(ValueError, match="tail has shape"):
        RerankContext(np.ones(3), np.ones(2, bool))
    h = sp.csr_matrix(np.array([[1, 0, 1], [1, 1, 0]], dtype=np.float32))
    assert RerankContext.from_history(h).item_pop.tolist() == [2, 1, 1]
