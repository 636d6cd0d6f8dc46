"""ExactIndex: the same lists as the models' own recommend, and the interface's rules."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tailwise.index import ExactIndex
from tailwise.index import base as index_base


def by_index(model, index, users, rows, k, candidates=None, exclude_seen=True):
    """The pipeline's candidate stage through `index` (no re-ranker): the model's top-k."""
    from tailwise.pipeline import stages

    return stages.run(model, index, users, rows, k, None, None, k, candidates, exclude_seen)


def test_exact_index_equals_als_recommend(als, demo):
    users = np.arange(0, demo.n_users, 7)
    rows = demo.matrix()[users]
    index = ExactIndex().build(als.item_factors())
    want = als.recommend(users, rows, k=20)
    items, scores = index.search(als.user_factors(users, rows), 20, exclude=rows)
    np.testing.assert_array_equal(items, want.items)
    np.testing.assert_allclose(scores, want.scores, rtol=1e-6)
    assert not any(set(items[r]) & set(rows[r].indices) for r in range(len(users)))


def test_recommend_by_index_equals_recommend_with_whitelist_and_fold_in(als, demo):
    rng = np.random.default_rng(0)
    users = np.array([3, -1, 10, -1])  # -1: users folded in from their rows
    rows = demo.matrix()[[3, 5, 10, 200]]
    candidates = rng.choice(demo.n_items, 500, replace=False)
    index = ExactIndex().build(als.item_factors())
    for kw in ({"candidates": candidates}, {"exclude_seen": False}, {}):
        want = als.recommend(users, rows, k=15, **kw)
        got = by_index(als, index, users, rows, k=15, **kw)
        np.testing.assert_array_equal(got.items, want.items)
        np.testing.assert_allclose(got.scores, want.scores, rtol=1e-5, atol=1e-6)
    got = by_index(als, index, users, rows, k=15, candidates=candidates)
    assert np.isin(got.items, candidates).all()


def test_bpr_factors_score_like_the_model():
    pytest.importorskip("implicit")
    from tailwise.models import BPR
    from tailwise.testing.contract import random_dataset

    ds = random_dataset(n_users=60, n_items=40)
    model = BPR(factors=8, iterations=20).fit(ds)
    users = np.arange(ds.n_users)
    want = model.recommend(users, ds.matrix(), k=5)
    got = by_index(model, ExactIndex().build(model.item_factors()), users, ds.matrix(), k=5)
    np.testing.assert_array_equal(got.items, want.items)


def test_blocked_scan_equals_one_block(monkeypatch, vectors, queries):
    index = ExactIndex().build(vectors)
    exclude = sp.random(len(queries), len(vectors), density=0.001, format="csr", random_state=1)
    allowed = np.random.default_rng(2).random(len(vectors)) < 0.7
    one = index.search(queries, 25, exclude, allowed)
    monkeypatch.setattr(index_base, "SCAN_BUDGET", 3_000)  # 30 queries x 100 items a block
    blocked = index.search(queries, 25, exclude, allowed)
    np.testing.assert_array_equal(blocked[0], one[0])
    np.testing.assert_allclose(blocked[1], one[1], rtol=1e-6)


def test_padding_when_too_few_items_may_be_returned():
    index = ExactIndex().build(np.eye(4, dtype=np.float32))
    allowed = np.array([True, True, False, True])
    exclude = sp.csr_matrix(np.array([[0, 1, 0, 0]]))
    items, scores = index.search(np.ones((1, 4), np.float32), 5, exclude, allowed)
    assert items.tolist() == [[0, 3, -1, -1, -1]]
    assert np.isneginf(scores[0, 2:]).all()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"queries": np.ones((2, 3))}, "dimension 3"),
        ({"k": 0}, "k must be at least 1"),
        ({"allowed": np.ones(5, dtype=int)}, "bool mask"),
        ({"exclude": sp.csr_matrix((3, 4))}, "exclude must have 2 rows"),
    ],
)
def test_bad_arguments_are_named(args, message):
    index = ExactIndex().build(np.eye(4, dtype=np.float32))
    kw = {"queries": np.ones((2, 4)), "k": 2, **args}
    with pytest.raises(ValueError, match=message):
        index.search(**kw)


def test_nan_vectors_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        ExactIndex().build(np.array([[1.0, np.nan]]))


def test_sync_follows_new_and_changed_model_vectors():
    vecs = np.eye(4, dtype=np.float32)
    index = ExactIndex().build(vecs)
    grown = np.vstack([vecs, [[0, 0, 0, 5]]]).astype(np.float32)
    index.sync(grown)
    assert index.n_items == 5
    assert index.search(np.array([[0, 0, 0, 1.0]]), 1)[0].tolist() == [[4]]
    assert vecs[3, 3] == 1.0  # the model's array is never written into


def test_save_load_identity(tmp_path, vectors, queries):
    index = ExactIndex().build(vectors[:500])
    path = index.save(tmp_path / "exact")
    again = ExactIndex.load(path)
    np.testing.assert_array_equal(again.vectors(), index.vectors())
    for a, b in zip(again.search(queries, 10), index.search(queries, 10)):
        np.testing.assert_array_equal(a, b)
