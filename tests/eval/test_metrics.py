"""Metrics against hand-computed values, reference loops and random (hypothesis) inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from tailwise import metrics as M

NAN = float("nan")


def csr(rows: list[list[int]], n_items: int) -> sp.csr_matrix:
    """Binary truth matrix from lists of relevant items."""
    dense = np.zeros((len(rows), n_items))
    for u, items in enumerate(rows):
        dense[u, items] = 1
    return sp.csr_matrix(dense)


def same(actual, expected) -> None:
    """Arrays equal up to float rounding, nan matching nan."""
    np.testing.assert_allclose(np.asarray(actual, float), np.asarray(expected, float), atol=1e-12)


# Shared example: 6 items, 4 users.
#   user 0: relevant {0, 2}, list [0, 1, 2, 3]  -> hits at ranks 1 and 3
#   user 1: relevant {5},    list [4, 5, -1, -1] -> hit at rank 2, list padded
#   user 2: relevant {},     list [0, 1, 2, 3]  -> every accuracy metric undefined (nan)
#   user 3: relevant {1, 3, 4}, list [5, 0, 2, -1] -> no hit
RECS = np.array([[0, 1, 2, 3], [4, 5, -1, -1], [0, 1, 2, 3], [5, 0, 2, -1]])
TRUTH = csr([[0, 2], [5], [], [1, 3, 4]], 6)


# ---------------------------------------------------------------------------------- hits
def test_hits_marks_relevant_positions_and_never_padding():
    expected = [[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 0, 0]]
    assert M.hits(RECS, TRUTH).astype(int).tolist() == expected
    assert M.hits(RECS, TRUTH).dtype == bool


def test_hits_padding_does_not_match_previous_users_last_item():
    # key trick: user 1's -1 would map onto user 0's item n_items-1 if padding were not masked
    truth = csr([[2], [0]], 3)
    assert M.hits(np.array([[0, 1], [-1, -1]]), truth).tolist() == [[False, False], [False, False]]


def test_hits_counts_a_repeated_item_once_and_ignores_explicit_zeros():
    data, rows, cols = np.array([1.0, 0.0]), np.array([0, 0]), np.array([1, 2])
    truth = sp.csr_matrix((data, (rows, cols)), shape=(1, 3))
    assert M.hits(np.array([[1, 2, 1]]), truth).tolist() == [[True, False, False]]
    same(M.recall(np.array([[1, 1, 1]]), truth), [1.0])  # not 3.0


def test_hits_accepts_sparse_arrays_and_unsorted_duplicate_entries():
    # duplicates (0, 1) stored twice and unsorted column order
    truth = sp.csr_array((np.ones(3), np.array([2, 1, 1]), np.array([0, 3])), shape=(1, 4))
    assert M.hits(np.array([[1, 2, 3]]), truth).tolist() == [[True, True, False]]


def test_hits_validates_inputs():
    with pytest.raises(ValueError, match="rows"):
        M.hits(RECS, TRUTH[:2])
    with pytest.raises(ValueError, match="item indices"):
        M.hits(np.array([[6]]), csr([[0]], 6))
    with pytest.raises(ValueError, match="2-D"):
        M.hits(np.array([0, 1]), TRUTH)
    with pytest.raises(TypeError):
        M.hits(np.array([[0.0, 1.0]]), csr([[0]], 2))


# ---------------------------------------------------------------------------------- accuracy
def test_recall():
    # u0: 2 hits / 2 relevant; u1: 1/1; u2: no relevant; u3: 0/3
    same(M.recall(RECS, TRUTH), [1.0, 1.0, NAN, 0.0])
    # k=2: u0 only rank 1 hits -> 1/2; u1 hit at rank 2 -> 1/1
    same(M.recall(RECS, TRUTH, k=2), [0.5, 1.0, NAN, 0.0])
    same(M.recall(RECS, TRUTH, k=1), [0.5, 0.0, NAN, 0.0])


def test_precision_divides_by_columns_used_including_padding():
    # u0: 2/4; u1: 1/4 (padding counts as a miss); u3: 0/4
    same(M.precision(RECS, TRUTH), [0.5, 0.25, NAN, 0.0])
    # k=2: u0 1/2, u1 1/2
    same(M.precision(RECS, TRUTH, k=2), [0.5, 0.5, NAN, 0.0])
    # k beyond the number of columns uses all 4 columns
    same(M.precision(RECS, TRUTH, k=10), [0.5, 0.25, NAN, 0.0])


def test_ndcg():
    # u0: 2 relevant, hits at ranks 1 and 3 -> (1 + 1/log2(4)) / (1 + 1/log2(3))
    u0 = (1 + 1 / math.log2(4)) / (1 + 1 / math.log2(3))
    # u1: 1 relevant, hit at rank 2 -> (1/log2(3)) / 1
    u1 = 1 / math.log2(3)
    same(M.ndcg(RECS, TRUTH), [u0, u1, NAN, 0.0])
    # k=2: u0 hit at rank 1 only; IDCG over min(2, 2) = 2 positions -> 1 / (1 + 1/log2(3))
    same(M.ndcg(RECS, TRUTH, k=2), [1 / (1 + 1 / math.log2(3)), u1, NAN, 0.0])
    # k=1: IDCG over min(2, 1) = 1 position -> u0 = 1
    same(M.ndcg(RECS, TRUTH, k=1), [1.0, 0.0, NAN, 0.0])


def test_ndcg_idcg_is_capped_by_k_not_by_padding():
    # 3 relevant, k=2, list [rel, rel]: DCG = IDCG = 1 + 1/log2(3) -> 1
    same(M.ndcg(np.array([[0, 1]]), csr([[0, 1, 2]], 4)), [1.0])
    # a padded list of length 2 in 3 columns: IDCG still over min(2 relevant, 3) = 2 positions
    # DCG = 1 (rank 1) -> 1 / (1 + 1/log2(3))
    same(M.ndcg(np.array([[0, -1, -1]]), csr([[0, 1]], 4)), [1 / (1 + 1 / math.log2(3))])


def test_hit_rate():
    same(M.hit_rate(RECS, TRUTH), [1.0, 1.0, NAN, 0.0])
    same(M.hit_rate(RECS, TRUTH, k=1), [1.0, 0.0, NAN, 0.0])


def test_mrr():
    # u0 first hit at rank 1; u1 at rank 2; u3 none
    same(M.mrr(RECS, TRUTH), [1.0, 0.5, NAN, 0.0])
    same(M.mrr(RECS, TRUTH, k=1), [1.0, 0.0, NAN, 0.0])
    # first hit at rank 3 -> 1/3
    same(M.mrr(np.array([[0, 3, 2]]), csr([[2]], 4)), [1 / 3])


def test_k_must_be_positive():
    for fn in (M.recall, M.precision, M.ndcg, M.hit_rate, M.mrr):
        with pytest.raises(ValueError, match="k must"):
            fn(RECS, TRUTH, k=0)


def test_empty_user_batch():
    recs = np.empty((0, 5), dtype=np.int64)
    truth = sp.csr_matrix((0, 7))
    for fn in (M.recall, M.precision, M.ndcg, M.hit_rate, M.mrr):
        assert fn(recs, truth).shape == (0,)
    assert M.catalog_coverage(recs, 7) == 0.0
    assert M.gini(recs, 7) == 0.0


# ---------------------------------------------------------------------------------- long tail
TAIL = np.array([False, False, True, True, True, True])  # items 0, 1 head; 2..5 tail


def test_recall_within_and_wrappers():
    # u0: relevant tail {2}, hit -> 1/1; relevant head {0}, hit -> 1/1
    # u1: relevant tail {5}, hit -> 1/1; no relevant head -> nan
    # u2: nothing relevant -> nan, nan
    # u3: relevant tail {3, 4} no hit -> 0/2; relevant head {1} not listed -> 0/1
    same(M.tail_recall(RECS, TRUTH, TAIL), [1.0, 1.0, NAN, 0.0])
    same(M.head_recall(RECS, TRUTH, TAIL), [1.0, NAN, NAN, 0.0])
    same(M.recall_within(RECS, TRUTH, TAIL), M.tail_recall(RECS, TRUTH, TAIL))
    # k=2: u0 list [0, 1] -> tail 0/1, head 1/1
    same(M.tail_recall(RECS, TRUTH, TAIL, k=2), [0.0, 1.0, NAN, 0.0])
    same(M.head_recall(RECS, TRUTH, TAIL, k=2), [1.0, NAN, NAN, 0.0])


def test_recall_within_half_of_masked_items():
    truth = csr([[0, 2, 3]], 5)
    mask = np.array([False, False, True, True, False])
    # masked relevant {2, 3}; list hits 0 (unmasked) and 3 -> 1/2
    same(M.recall_within(np.array([[0, 3, 4]]), truth, mask), [0.5])


def test_cold_recall():
    cold = np.array([False, False, False, False, True, True])
    # u0, u2 have no relevant cold item; u1 relevant cold {5} hit; u3 relevant cold {4} missed
    same(M.cold_recall(RECS, TRUTH, cold), [NAN, 1.0, NAN, 0.0])


def test_masks_must_be_boolean_and_sized():
    with pytest.raises(TypeError, match="bool"):
        M.tail_recall(RECS, TRUTH, np.array([2, 3, 4]))
    with pytest.raises(ValueError, match="item_mask"):
        M.recall_within(RECS, TRUTH, TAIL[:5])


def test_catalog_coverage():
    # distinct non-padded items: {0, 1, 2, 3, 4, 5} -> 6/6; k=1: {0, 4, 5} -> 3/6
    assert M.catalog_coverage(RECS, 6) == 1.0
    assert M.catalog_coverage(RECS, 6, k=1) == 0.5
    # the denominator may be a candidate-set size: {0, 4, 5} out of 12
    assert M.catalog_coverage(RECS, 12, k=1) == 0.25
    assert M.catalog_coverage(np.full((3, 2), -1), 5) == 0.0


def test_tail_coverage():
    # k=2: listed {0, 1, 4, 5}; tail {2, 3, 4, 5} -> {4, 5} = 2/4
    assert M.tail_coverage(RECS, TAIL, k=2) == 0.5
    assert M.tail_coverage(RECS, TAIL) == 1.0
    assert M.tail_coverage(RECS, np.zeros(6, bool)) == 0.0


def test_aplt():
    # u0 [0,1,2,3]: 2/4 tail; u1 [4,5]: 2/2; u2: 2/4; u3 [5,0,2]: 2/3
    same(M.aplt(RECS, TAIL), [0.5, 1.0, 0.5, 2 / 3])
    # k=1: [0] 0, [4] 1, [0] 0, [5] 1
    same(M.aplt(RECS, TAIL, k=1), [0.0, 1.0, 0.0, 1.0])
    same(M.aplt(np.array([[-1, -1]]), TAIL), [NAN])


def test_arp():
    pop = np.array([10, 6, 3, 1, 0, 2])
    # u0: (10+6+3+1)/4 = 5; u1: (0+2)/2 = 1; u3: (2+10+3)/3 = 5
    same(M.arp(RECS, pop), [5.0, 1.0, 5.0, 5.0])
    same(M.arp(RECS, pop, k=2), [8.0, 1.0, 8.0, 6.0])
    same(M.arp(np.array([[-1]]), pop), [NAN])


def test_novelty():
    pop = np.array([8, 4, 2, 1, 0, 16])
    n_users = 16
    # -log2(pop/16): item0 1, item1 2, item2 3, item3 4, item4 floored 1/16 -> 4, item5 0
    # u0 (1+2+3+4)/4 = 2.5; u1 (4+0)/2 = 2; u3 (0+1+3)/3 = 4/3
    same(M.novelty(RECS, pop, n_users), [2.5, 2.0, 2.5, 4 / 3])
    same(M.novelty(RECS, pop, n_users, k=1), [1.0, 4.0, 1.0, 0.0])
    same(M.novelty(np.array([[-1, -1]]), pop, n_users), [NAN])


def test_gini():
    # exposures over 5 items: item0 x3, item1 x1, rest 0 -> sorted [0, 0, 0, 1, 3], n=5, sum=4
    # coefficients 2i-n-1 = [-4, -2, 0, 2, 4] -> (2*1 + 4*3) / (5*4) = 14/20
    recs = np.array([[0, 1], [0, -1], [0, -1]])
    assert M.gini(recs, 5) == pytest.approx(0.7)
    # perfectly equal exposure -> 0
    assert M.gini(np.array([[0, 1], [2, 3]]), 4) == 0.0
    # all exposure on one item of n -> (n-1)/n
    assert M.gini(np.array([[2], [2], [2]]), 4) == pytest.approx(0.75)
    assert M.gini(np.full((2, 2), -1), 4) == 0.0
    # k=1: exposures [3, 0, 0, 0, 0] -> 4/5
    assert M.gini(recs, 5, k=1) == pytest.approx(0.8)


# ---------------------------------------------------------------------------------- diversity
VECS = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 0.0], [3.0, 0.0]])


def test_intra_list_diversity_by_hand():
    r = 1 - 1 / math.sqrt(2)  # distance between an axis and the diagonal
    recs = np.array([[0, 1, 2], [0, 3, -1], [0, 4, -1], [1, -1, -1], [-1, -1, -1], [0, 1, 4]])
    expected = [
        (1 + r + r) / 3,  # pairs (0,1) orthogonal, (0,2) and (1,2) at 45 degrees
        1.0,  # a zero vector has cosine 0 with anything
        0.0,  # parallel vectors of different length
        NAN,  # fewer than two items
        NAN,
        (1 + 0 + 1) / 3,  # (0,1) 1, (0,4) 0, (1,4) 1
    ]
    same(M.intra_list_diversity(recs, VECS), expected)
    same(M.intra_list_diversity(recs, sp.csr_matrix(VECS)), expected)
    same(M.intra_list_diversity(recs, sp.csr_array(VECS)), expected)
    same(M.intra_list_diversity(recs, VECS, k=2), [1.0, 1.0, 0.0, NAN, NAN, 1.0])


def test_intra_list_diversity_small_batches_match(monkeypatch):
    rng = np.random.default_rng(3)
    vecs = sp.random(40, 7, density=0.3, format="csr", random_state=4)
    recs = random_recs(rng, 30, 40, 6)
    full_dense = M.intra_list_diversity(recs, vecs.toarray())
    full_sparse = M.intra_list_diversity(recs, vecs)
    monkeypatch.setattr(M, "_BLOCK", 1)  # one user per batch
    same(M.intra_list_diversity(recs, vecs), full_sparse)
    same(M.intra_list_diversity(recs, vecs.toarray()), full_dense)
    same(full_sparse, full_dense)
    same(full_dense, reference_ild(recs, vecs.toarray()))


# ---------------------------------------------------------------------------------- references
def random_recs(rng: np.random.Generator, n_users: int, n_items: int, k: int) -> np.ndarray:
    """Distinct items per row, best first, each row padded with -1 after a random length."""
    recs = np.argsort(rng.random((n_users, n_items)), axis=1)[:, :k]
    lengths = rng.integers(0, k + 1, n_users)
    recs[np.arange(k)[None, :] >= lengths[:, None]] = -1
    return recs.astype(np.int64)


def reference_ndcg(recs: np.ndarray, truth: sp.csr_matrix, k: int) -> list[float]:
    out = []
    for u in range(len(recs)):
        relevant = set(truth[u].indices[truth[u].data != 0].tolist())
        if not relevant:
            out.append(NAN)
            continue
        dcg = sum(1 / math.log2(j + 2) for j, i in enumerate(recs[u, :k]) if i in relevant)
        idcg = sum(1 / math.log2(j + 2) for j in range(min(len(relevant), recs[:, :k].shape[1])))
        out.append(dcg / idcg)
    return out


def reference_accuracy(recs: np.ndarray, truth: sp.csr_matrix, k: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"recall": [], "precision": [], "hit_rate": [], "mrr": []}
    for u in range(len(recs)):
        relevant = set(truth[u].indices.tolist())
        listed = recs[u, :k].tolist()
        ranks = [j + 1 for j, i in enumerate(listed) if i in relevant]
        if not relevant:
            for v in out.values():
                v.append(NAN)
            continue
        out["recall"].append(len(ranks) / len(relevant))
        out["precision"].append(len(ranks) / len(listed))
        out["hit_rate"].append(float(bool(ranks)))
        out["mrr"].append(1 / ranks[0] if ranks else 0.0)
    return out


def reference_ild(recs: np.ndarray, vecs: np.ndarray) -> list[float]:
    out = []
    for row in recs:
        items = [i for i in row if i >= 0]
        dists = []
        for a in range(len(items)):
            for b in range(a + 1, len(items)):
                x, y = vecs[items[a]], vecs[items[b]]
                nx, ny = np.linalg.norm(x), np.linalg.norm(y)
                cos = 0.0 if nx == 0 or ny == 0 else float(x @ y) / (nx * ny)
                dists.append(1 - cos)
        out.append(float(np.mean(dists)) if dists else NAN)
    return out


@pytest.mark.parametrize("k", [1, 5, 10, None])
def test_accuracy_matches_reference_loops(k):
    rng = np.random.default_rng(0 if k is None else k)
    recs = random_recs(rng, 200, 50, 10)
    truth = sp.random(200, 50, density=0.08, format="csr", random_state=1)
    kk = 10 if k is None else k
    same(M.ndcg(recs, truth, k), reference_ndcg(recs, truth, kk))
    for name, expected in reference_accuracy(recs, truth, kk).items():
        same(getattr(M, name)(recs, truth, k), expected)


def test_intra_list_diversity_matches_reference_on_signed_vectors():
    rng = np.random.default_rng(5)
    vecs = rng.standard_normal((30, 4))
    vecs[7] = 0
    recs = random_recs(rng, 50, 30, 6)
    recs[0, :3] = [7, 7, 1]  # a zero vector and a repeat
    same(M.intra_list_diversity(recs, vecs), reference_ild(recs, vecs))


# ---------------------------------------------------------------------------------- properties
@st.composite
def lists_and_truth(draw):
    """Random recs (distinct items per row, -1 padded), truth and tail mask."""
    n_items = draw(st.integers(1, 12))
    n_users = draw(st.integers(1, 8))
    k = draw(st.integers(1, 6))
    item = st.integers(0, n_items - 1)
    recs = np.full((n_users, k), -1, dtype=np.int64)
    truth = np.zeros((n_users, n_items))
    for u in range(n_users):
        listed = draw(st.lists(item, unique=True, max_size=min(k, n_items)))
        recs[u, : len(listed)] = listed
        truth[u, list(draw(st.sets(item)))] = 1
    tail = np.array(draw(st.lists(st.booleans(), min_size=n_items, max_size=n_items)), dtype=bool)
    cut = draw(st.one_of(st.none(), st.integers(1, k + 2)))
    return recs, sp.csr_matrix(truth), tail, cut


def in_unit_interval(values) -> bool:
    values = np.atleast_1d(np.asarray(values, float))
    finite = values[~np.isnan(values)]
    return bool(np.all((finite >= 0) & (finite <= 1 + 1e-12)))


@settings(max_examples=150, deadline=None)
@given(lists_and_truth())
def test_per_user_metrics_lie_in_unit_interval(data):
    recs, truth, tail, k = data
    for fn in (M.recall, M.precision, M.ndcg, M.hit_rate, M.mrr):
        values = fn(recs, truth, k)
        assert values.shape == (len(recs),) and values.dtype == np.float64
        assert in_unit_interval(values), fn.__name__
        # undefined exactly for users with no relevant item
        assert np.array_equal(np.isnan(values), np.diff(truth.indptr) == 0)
    assert in_unit_interval(M.aplt(recs, tail, k))
    assert in_unit_interval(M.tail_recall(recs, truth, tail, k))
    assert in_unit_interval(M.catalog_coverage(recs, truth.shape[1], k))
    assert in_unit_interval(M.tail_coverage(recs, tail, k))


@settings(max_examples=150, deadline=None)
@given(lists_and_truth())
def test_gini_in_unit_interval(data):
    recs, truth, _, k = data
    g = M.gini(recs, truth.shape[1], k)
    assert isinstance(g, float) and 0.0 <= g <= 1.0


@settings(max_examples=150, deadline=None)
@given(lists_and_truth())
def test_recall_within_all_true_mask_is_recall(data):
    recs, truth, tail, k = data
    all_items = np.ones(truth.shape[1], dtype=bool)
    same(M.recall_within(recs, truth, all_items, k), M.recall(recs, truth, k))
    # head and tail recall recombine into recall, weighted by relevant items in each group
    n_tail = np.asarray(truth[:, tail].sum(axis=1)).ravel()
    n_head = np.asarray(truth[:, ~tail].sum(axis=1)).ravel()
    tail_hits = np.nan_to_num(M.tail_recall(recs, truth, tail, k)) * n_tail
    head_hits = np.nan_to_num(M.head_recall(recs, truth, tail, k)) * n_head
    with np.errstate(invalid="ignore", divide="ignore"):
        combined = np.where(n_tail + n_head > 0, (tail_hits + head_hits) / (n_tail + n_head), NAN)
    same(combined, M.recall(recs, truth, k))


@settings(max_examples=100, deadline=None)
@given(lists_and_truth())
def test_ndcg_matches_reference_on_hypothesis_inputs(data):
    recs, truth, _, k = data
    kk = recs.shape[1] if k is None else k
    same(M.ndcg(recs, truth, k), reference_ndcg(recs, truth, kk))


@settings(max_examples=100, deadline=None)
@given(lists_and_truth(), st.integers(0, 2**32 - 1))
def test_intra_list_diversity_in_range_and_sparse_equals_dense(data, seed):
    recs, truth, _, k = data
    rng = np.random.default_rng(seed)
    vecs = rng.random((truth.shape[1], 3)) * (rng.random((truth.shape[1], 3)) < 0.6)
    dense = M.intra_list_diversity(recs, vecs, k)
    same(M.intra_list_diversity(recs, sp.csr_matrix(vecs), k), dense)
    assert in_unit_interval(dense)  # non-negative vectors: cosine in [0, 1]
    n_listed = (recs[:, :k] >= 0).sum(axis=1)
    assert np.array_equal(np.isnan(dense), n_listed < 2)
