"""The pipeline retrieves through an ANN index for factor models of large catalogues, keeps the
rules (history never recommended, whitelist), and saves and reloads the index with the model."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tailwise.index import ANNIndex, pipeline_index, retrieval
from tailwise.pipeline import Pipeline
from tailwise.rerank import Exposure

pytest.importorskip("faiss")


def by_index(model, index, users, rows, k, candidates=None, exclude_seen=True):
    """The pipeline's candidate stage through `index` (no re-ranker): the model's top-k."""
    from tailwise.pipeline import stages

    return stages.run(model, index, users, rows, k, None, None, k, candidates, exclude_seen)


@pytest.fixture(scope="module")
def pipes(als, demo):
    """The same fitted ALS served exactly (no index) and through a forced ANN index."""
    parts = (als, demo.users, demo.items, demo.matrix(), demo.texts(), {})
    exact = Pipeline(*parts)
    ann = Pipeline(*parts, index=pipeline_index(als, kind="ann"))
    return exact, ann


def test_small_catalogues_are_scored_exactly(als, demo):
    assert pipeline_index(als) is None  # 9,742 items, under the threshold
    assert pipeline_index(object(), kind="ann") is None  # no factors: the model scores itself


def test_ann_pipeline_keeps_the_rules_and_finds_the_exact_lists(pipes, demo, recall):
    exact, ann = pipes
    assert isinstance(ann.index, ANNIndex) and ann.index.n_items == demo.n_items
    users = [str(u) for u in demo.users.ids[:80]]
    candidates = np.random.default_rng(0).choice(demo.n_items, 6_000, replace=False)
    got = ann.recommend(users + ["nobody"], k=20, candidates=candidates)
    want = exact.recommend(users + ["nobody"], k=20, candidates=candidates)
    history = demo.matrix()
    for r in range(len(users)):
        assert not set(got.items[r]) & set(history[r].indices)
    assert np.isin(got.items, candidates).all()
    assert recall(got.items, want.items) >= 0.95
    np.testing.assert_array_equal(got.items[-1], want.items[-1])  # unknown user: popularity
    assert got.known.tolist() == want.known.tolist()


def test_history_and_rerank_go_through_the_index(pipes, demo):
    _, ann = pipes
    ids = [str(i) for i in demo.items.ids[:5]]
    lists = ann.recommend_history(ids, k=10)
    assert len(lists.items[0]) == 10 and not set(lists.items[0]) & set(range(5))
    reranked = ann.recommend([str(demo.users.ids[0])], k=10, exposure=Exposure("xquad", 0.5))
    assert (reranked.items >= 0).all() and len(set(reranked.items[0])) == 10
    slots = ann.recommend([str(demo.users.ids[0])], k=10, exposure=Exposure("tailslots", 1.0))
    tail = ann.rerank_context().tail
    assert tail[slots.items[0]].sum() >= 1  # the tail pool comes from a second index search


def test_save_and_load_keep_the_index(tmp_path, pipes, demo):
    _, ann = pipes
    path = ann.save(tmp_path / "model")
    assert (path / "index" / "manifest.json").exists()
    loaded = Pipeline.load(path)
    assert isinstance(loaded.index, ANNIndex)
    users = [str(u) for u in demo.users.ids[:30]]
    np.testing.assert_array_equal(loaded.recommend(users, k=10).items, ann.recommend(users, k=10).items)


def test_fit_builds_the_index_from_the_threshold(monkeypatch):
    pytest.importorskip("implicit")
    from tailwise.models import ALS
    from tailwise.testing.contract import random_dataset

    monkeypatch.setattr(retrieval, "DEFAULT_THRESHOLD", 30)
    assert isinstance(Pipeline.fit(ALS(factors=4, iterations=2), random_dataset(n_items=30)).index, ANNIndex)
    assert Pipeline.fit(ALS(factors=4, iterations=2), random_dataset(n_items=29)).index is None


class _Factors:
    """A stand-in factor model: only the two methods a pipeline index needs."""

    def __init__(self, vectors):
        self.vectors = vectors

    def user_factors(self, users, rows):
        return np.asarray(rows @ self.vectors)

    def item_factors(self):
        return self.vectors


def test_a_saved_index_of_other_vectors_is_not_used(tmp_path, vectors, caplog):
    ANNIndex(progress=False).build(vectors[:500]).save(tmp_path / "index")
    same = pipeline_index(_Factors(vectors[:500]), tmp_path)
    assert isinstance(same, ANNIndex)
    with caplog.at_level("WARNING"):
        assert pipeline_index(_Factors(vectors[500:1000]), tmp_path) is None  # exact instead
    assert "does not match" in caplog.text



def test_an_index_shared_with_a_grown_model_serves_both(vectors):
    old = _Factors(vectors[:3_000])
    new = _Factors(np.vstack([vectors[:3_000], 10 * vectors[5:6]]).astype(np.float32))
    index = ANNIndex(progress=False).build(old.item_factors())

    def row(n_items):  # a user whose vector is item 5's (item 5 itself is excluded)
        return sp.csr_matrix(([1.0], ([0], [5])), shape=(1, n_items))

    got_new = by_index(new, index, np.array([-1]), row(3_001), k=5)
    assert index.n_items == 3_001 and got_new.items[0, 0] == 3_000  # the new item, at once
    got_old = by_index(old, index, np.array([-1]), row(3_000), k=5)  # in-flight request
    assert (got_old.items >= 0).all() and (got_old.items < 3_000).all() and 5 not in got_old.items[0]


def test_every_dot_product_model_is_served_through_the_index(monkeypatch):
    """ALS, BPR, the adapter and twotower follow the VectorModel protocol: above the threshold
    the pipeline searches their item vectors; the lists match scoring every item."""
    pytest.importorskip("implicit")
    pytest.importorskip("torch")
    from tailwise.models import ALS, BPR, EASE, Adapter, Hybrid, TwoTower
    from tailwise.models.base import is_vector_model
    from tailwise.testing.contract import random_dataset

    ds = random_dataset(n_users=60, n_items=80, density=0.1)
    monkeypatch.setattr(retrieval, "DEFAULT_THRESHOLD", 50)
    users = [str(u) for u in ds.users.ids]
    for model in (ALS(factors=8, iterations=3), BPR(factors=8, iterations=10), Adapter(factors=8, encoder="tfidf"),
                  TwoTower(dim=8, hidden=16, epochs=1, encoder="tfidf", progress=False)):  # fmt: skip
        assert is_vector_model(model)
        pipe = Pipeline.fit(model, ds)
        assert isinstance(pipe.index, ANNIndex), type(model).__name__
        via_index = pipe.recommend(users, k=5).items
        exact = pipe.model.recommend(np.arange(ds.n_users), ds.matrix(), k=5).items
        assert (via_index == exact).mean() > 0.95, type(model).__name__
    for model in (EASE(l2=1.0), Hybrid(l2=1.0, factors=8, encoder="tfidf")):  # not dot products
        assert not is_vector_model(model) and Pipeline.fit(model, ds).index is None
