"""ANNIndex: recall against exact search, and the exclusion and whitelist rules held exactly."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import scipy.sparse as sp

from tailwise.errors import DataError, MissingExtraError
from tailwise.index import ANNIndex, ExactIndex, choose_kind, load_index, make_index

K = 20


def rows_of(lists: np.ndarray, n_items: int) -> sp.csr_matrix:
    """One CSR row per list of item indices."""
    r = np.repeat(np.arange(len(lists)), lists.shape[1])
    return sp.csr_matrix((np.ones(lists.size, np.float32), (r, lists.ravel())), shape=(len(lists), n_items))


def test_recall_against_exact_search(ann, exact, queries, recall):
    found, _ = ann.search(queries, K)
    truth, _ = exact.search(queries, K)
    assert recall(found, truth) >= 0.95


def test_scores_are_exact_inner_products_best_first(ann, vectors, queries):
    items, scores = ann.search(queries, K)
    assert (items >= 0).all()
    want = np.einsum("nkd,nd->nk", vectors[items], queries)
    np.testing.assert_allclose(scores, want, rtol=1e-5, atol=1e-5)
    assert (np.diff(scores, axis=1) <= 0).all()


def test_excluded_items_never_come_back(ann, exact, vectors, queries, recall):
    top, _ = exact.search(queries, 50)
    noise = np.random.default_rng(3).integers(0, len(vectors), (len(queries), 100))
    exclude = rows_of(np.hstack([top, noise]), len(vectors))
    items, _ = ann.search(queries, K, exclude=exclude)
    assert (items >= 0).all()
    assert not any(set(items[r]) & set(exclude[r].indices) for r in range(len(queries)))
    truth, _ = exact.search(queries, K, exclude=exclude)
    assert recall(items, truth) >= 0.9


def test_exclusion_of_most_of_the_catalogue_falls_back_to_an_exact_scan(ann, exact, vectors, queries):
    top, _ = exact.search(queries[:3], 8_000)
    exclude = rows_of(top, len(vectors))
    got = ann.search(queries[:3], K, exclude=exclude)
    want = exact.search(queries[:3], K, exclude=exclude)
    np.testing.assert_array_equal(got[0], want[0])


def test_small_whitelist_is_scored_exactly(ann, exact, vectors, queries):
    allowed = np.zeros(len(vectors), bool)
    allowed[np.random.default_rng(4).choice(len(vectors), 300, replace=False)] = True
    exclude = rows_of(np.random.default_rng(5).integers(0, len(vectors), (len(queries), 30)), len(vectors))
    got = ann.search(queries, K, exclude=exclude, allowed=allowed)
    want = exact.search(queries, K, exclude=exclude, allowed=allowed)
    np.testing.assert_array_equal(got[0], want[0])


def test_large_whitelist_holds_and_widens_when_the_neighbours_are_not_allowed(
    ann, exact, vectors, queries, monkeypatch, recall
):
    monkeypatch.setattr(ann, "exact_below", 100)  # force the graph path
    allowed = np.random.default_rng(6).random(len(vectors)) < 0.6
    items, _ = ann.search(queries, K, allowed=allowed)
    assert allowed[items].all()
    assert recall(items, exact.search(queries, K, allowed=allowed)[0]) >= 0.9
    # the 2,000 nearest items of query 0 are not allowed: the first candidates all fail
    nearest, _ = exact.search(queries[:1], 2_000)
    allowed = np.ones(len(vectors), bool)
    allowed[nearest[0]] = False
    items, _ = ann.search(queries[:1], K, allowed=allowed)
    assert (items >= 0).all() and allowed[items].all()
    assert recall(items, exact.search(queries[:1], K, allowed=allowed)[0]) >= 0.9


def test_save_load_identity(tmp_path, ann, queries):
    exclude = rows_of(np.arange(len(queries) * 5).reshape(len(queries), 5), ann.n_items)
    path = ann.save(tmp_path / "ann")
    for again in (ANNIndex.load(path), load_index(path)):
        assert isinstance(again, ANNIndex) and again.n_items == ann.n_items
        assert again.ef_search == ann.ef_search and again.connectivity == ann.connectivity
        for a, b in zip(again.search(queries, K, exclude), ann.search(queries, K, exclude)):
            np.testing.assert_array_equal(a, b)
    with pytest.raises(DataError, match="not a saved exact index"):
        ExactIndex.load(path)


def test_changed_and_new_item_vectors_are_followed_and_saved(tmp_path, vectors, queries):
    model_vectors = vectors[:3_000].copy()
    index = ANNIndex(progress=False).build(model_vectors)
    index.sync(model_vectors)
    q = queries[:1]
    changed = model_vectors.copy()
    changed[17] = 10 * q[0]  # item 17 now matches the query best
    grown = np.vstack([changed, -10 * q]).astype(np.float32)  # a new item, the worst match
    index.sync(grown)
    assert index.n_items == 3_001
    assert index.search(q, 1)[0].tolist() == [[17]]
    assert index.search(-q, 1)[0].tolist() == [[3_000]]
    np.testing.assert_array_equal(index.take(np.array([17])), grown[[17]])
    again = load_index(index.save(tmp_path / "ann"))
    assert again.search(q, 1)[0].tolist() == [[17]]
    excluded = again.search(q, 3, exclude=sp.csr_matrix(([1.0], ([0], [17])), shape=(1, 3_001)))[0]
    assert 17 not in excluded


def test_auto_choice_by_catalogue_size(vectors):
    assert isinstance(make_index(vectors[:100], threshold=100, progress=False), ANNIndex)
    assert isinstance(make_index(vectors[:99], threshold=100), ExactIndex)
    assert isinstance(make_index(vectors[:10], kind="ann", progress=False), ANNIndex)
    assert choose_kind(200_000) == "ann" and choose_kind(199_999) == "exact"
    with pytest.raises(ValueError, match="unknown index kind"):
        choose_kind(10, "hnsw")


def test_missing_faiss_names_the_extra(monkeypatch, vectors, caplog):
    monkeypatch.setitem(sys.modules, "faiss", None)  # import faiss now raises ImportError
    with pytest.raises(MissingExtraError, match=r"tailwise\[ann\]"):
        ANNIndex().build(vectors[:10])
    with pytest.raises(MissingExtraError):
        make_index(vectors[:10], kind="ann")
    with caplog.at_level("WARNING"):
        assert isinstance(make_index(vectors[:10], threshold=5), ExactIndex)
    assert "faiss is missing" in caplog.text
