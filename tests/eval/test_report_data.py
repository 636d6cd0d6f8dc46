"""The numbers behind the report's figures: exposure, Lorenz/Gini, buckets, cumulative shares."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from tailwise import metrics as M
from tailwise.data.popularity import tail_mask
from tailwise.eval.report import data as D


@st.composite
def lists(draw, max_items: int = 30):
    """Top-k lists [n_users, k] over `n_items` items, -1 padded, plus a random truth matrix."""
    n_items = draw(st.integers(1, max_items))
    n_users = draw(st.integers(1, 12))
    k = draw(st.integers(1, 8))
    recs = draw(arrays(np.int64, (n_users, k), elements=st.integers(-1, n_items - 1)))
    truth = draw(arrays(np.int8, (n_users, n_items), elements=st.integers(0, 1)))
    return recs, sp.csr_matrix(truth), n_items


# ---------------------------------------------------------------------------------- exposure
def test_exposure_counts_lists_and_ignores_padding():
    recs = np.array([[0, 2, -1], [2, 1, -1], [2, -1, -1]])
    assert D.exposure(recs, 4).tolist() == [1, 1, 3, 0]


@settings(max_examples=60, deadline=None)
@given(lists())
def test_lorenz_gini_equals_metrics_gini(case):
    recs, _, n_items = case
    x, y = D.lorenz(D.exposure(recs, n_items))
    assert D.lorenz_gini(x, y) == pytest.approx(M.gini(recs, n_items), abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(arrays(np.int64, st.integers(1, 50), elements=st.integers(0, 1000)))
def test_lorenz_curve_shape(values):
    x, y = D.lorenz(values)
    assert len(x) == len(values) + 1
    assert (x[0], y[0], x[-1], y[-1]) == (0.0, 0.0, 1.0, 1.0)
    assert np.all(np.diff(x) > 0) and np.all(np.diff(y) >= -1e-12)
    assert np.all(y <= x + 1e-12), "a Lorenz curve never rises above the diagonal"
    assert np.all(np.diff(np.diff(y)) >= -1e-12), "sorted ascending: the curve is convex"


def test_lorenz_of_equal_and_concentrated_exposure():
    assert D.lorenz_gini(*D.lorenz(np.full(8, 5))) == pytest.approx(0.0)
    one = np.zeros(8)
    one[3] = 10
    assert D.lorenz_gini(*D.lorenz(one)) == pytest.approx(7 / 8)  # (n - 1) / n
    assert D.lorenz_gini(*D.lorenz(np.zeros(5))) == pytest.approx(0.0)  # nothing exposed
    with pytest.raises(ValueError, match="non-negative"):
        D.lorenz(np.array([1, -1]))


# ---------------------------------------------------------------------------------- buckets
@settings(max_examples=60, deadline=None)
@given(arrays(np.int64, st.integers(1, 60), elements=st.integers(0, 500)), st.integers(1, 6))
def test_buckets_partition_items_by_popularity(pop, n_buckets):
    b = D.popularity_buckets(pop, n_buckets)
    assert b.n_items.sum() == len(pop) and np.all(b.n_items > 0)
    assert len(b) == len(b.n_items) == b.of_item.max() + 1
    cold = pop == 0
    if cold.any():  # items without interactions: a bucket of their own, last, labelled "0"
        assert b.labels[-1] == "0" and set(b.of_item[cold]) == {len(b) - 1}
        assert not np.any(b.of_item[~cold] == len(b) - 1)
    assert len(b) <= n_buckets + int(cold.any())
    for lo, hi in zip(range(len(b) - 1), range(1, len(b))):  # most popular bucket first
        assert pop[b.of_item == lo].min() >= pop[b.of_item == hi].max()
    for value in np.unique(pop):  # equal counts never straddle two buckets
        assert len(set(b.of_item[pop == value])) == 1


def test_buckets_hold_about_equal_interaction_mass():
    pop = np.random.default_rng(0).permutation(np.round(3000 / np.arange(1, 5001) ** 0.8))
    b = D.popularity_buckets(pop, 5)
    mass = np.bincount(b.of_item, weights=pop) / pop.sum()
    assert len(b) == 5 and np.all(np.abs(mass - 0.2) < 0.08), mass
    assert b.n_items[0] < b.n_items[-1] / 10, "few popular items, many rare ones"


def test_buckets_labels_name_the_count_ranges():
    b = D.popularity_buckets(np.array([1200, 300, 300, 5, 1, 0, 0]), 3)
    assert b.labels == ["1,200", "300", "1–5", "0"]
    assert b.n_items.tolist() == [1, 2, 2, 2]


@settings(max_examples=60, deadline=None)
@given(lists(), st.integers(1, 4))
def test_bucket_recall_sums_to_pooled_recall(case, n_buckets):
    recs, truth, n_items = case
    of_item = np.arange(n_items) % n_buckets
    hits, relevant = D.bucket_recall(recs, truth, of_item, n_buckets)
    assert hits.sum() == M.hits(recs, truth).sum()
    assert relevant.sum() == truth.nnz
    assert np.all(hits <= relevant)
    brute_hits = np.zeros(n_buckets, dtype=int)
    for u, row in enumerate(recs):
        listed = {int(i) for i in row if i >= 0}
        for i in truth[u].indices:
            brute_hits[of_item[i]] += int(i) in listed
    assert hits.tolist() == brute_hits.tolist()


def test_bucket_recall_of_one_bucket_is_pooled_recall():
    truth = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 1], [1, 0, 0, 1]]))
    recs = np.array([[0, 3], [2, -1], [1, 2]])
    hits, relevant = D.bucket_recall(recs, truth, np.zeros(4, dtype=int), 1)
    assert (hits.tolist(), relevant.tolist()) == ([2], [6])


def test_bucket_exposure_counts_every_slot_once():
    recs = np.array([[0, 1, 2], [3, -1, -1]])
    got = D.bucket_exposure(recs, np.array([1, 1, 0, 2]), 3)
    assert got.tolist() == [1, 2, 1] and got.sum() == (recs >= 0).sum()


# ---------------------------------------------------------------------------------- curves
def test_cumulative_share_at_the_cut_is_the_head_share():
    rng = np.random.default_rng(1)
    pop = rng.integers(0, 50, size=300)
    exp = rng.integers(0, 5, size=300)
    tail = tail_mask(pop, 0.2)
    cum = D.cumulative_share(exp, D.popularity_order(pop))
    assert cum[-1] == pytest.approx(1.0) and np.all(np.diff(cum) >= 0)
    assert cum[int((~tail).sum()) - 1] == pytest.approx(exp[~tail].sum() / exp.sum())
    assert D.cumulative_share(np.zeros(4), np.arange(4)).tolist() == [0.0] * 4


def test_popularity_order_agrees_with_the_head_tail_cut():
    pop = np.random.default_rng(2).integers(0, 20, size=200)
    order = D.popularity_order(pop)
    tail = tail_mask(pop, 0.2)
    n_head = int((~tail).sum())
    assert not tail[order[:n_head]].any() and tail[order[n_head:]].all()


def test_line_end_labels_never_overlap_and_always_finish():
    """Many lines ending at one point (as the recommendation curves do at 1 / n_users) still get
    one label each, apart from each other, and the placement ends."""
    pytest.importorskip("matplotlib")
    from tailwise.eval.report import plots

    fig, (ax,) = plots._figure()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 1)
    ends = [(9.0, 0.99, f"model {n}", "#000000") for n in range(12)] + [(1.0, 0.0, "low", "#111111")]
    plots.label_ends(ax, ends)
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in ax.texts]
    assert len(boxes) == len(ends)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b), (a, b)
