"""Each re-ranker on a tiny hand example, against a plain reference implementation, and the
contract every re-ranker keeps (subset of the candidates, no repeats, padding, knob range)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tailwise.rerank import (
    MMR,
    RERANKERS,
    Calibrated,
    RerankContext,
    Stochastic,
    XQuAD,
    make_reranker,
)  # fmt: skip
from tailwise.rerank.calibrated import SMOOTH, kl_divergence, user_mix
from tailwise.rerank.vectors import svd_item_vectors
from tailwise.rerank.xquad import user_tail_share


def one(reranker, items, scores, rows, k, ctx) -> list[int]:
    out, _ = reranker.rerank(np.array([items]), np.array([scores], np.float32), rows, k, ctx)
    return out[0].tolist()


# ---------------------------------------------------------------- hand examples
def test_xquad_hand_example():
    # item 2 is the only tail item; scaled relevance [1, 0.75, 0]; P(T|u) = max(0, 1/2)
    # step 1: 0.3*1 + 0.7*0.5 = 0.65 (item 0) beats 0.575 (item 1) and 0.35 (item 2)
    # step 2: S = {head}: the head is covered, so item 1 gets 0.3*0.75 = 0.225 < 0.35 for item 2
    ctx = RerankContext(np.array([9.0, 8.0, 1.0]), np.array([False, False, True]))
    items, scores = [0, 1, 2], [0.9, 0.8, 0.5]
    assert one(XQuAD(0.7), items, scores, sp.csr_matrix((1, 3)), 3, ctx) == [0, 2, 1]
    assert one(XQuAD(0.2), items, scores, sp.csr_matrix((1, 3)), 3, ctx) == [0, 1, 2]
    # the paper's exact weights (no floor) for a user who only saw head items: no tail aspect
    head_only = sp.csr_matrix(np.array([[1.0, 1.0, 0.0]]))
    assert one(XQuAD(0.7, tail_floor=0.0), items, scores, head_only, 3, ctx) == [0, 1, 2]


def test_calibrated_hand_example():
    # groups: items 0, 1 head; item 2 mid; item 3 tail. The user's history is half mid, half
    # tail, so calibration fills the list with items 2 and 3 although they score lower.
    ctx = RerankContext(np.array([10.0, 9.0, 2.0, 1.0]), np.array([False, False, True, True]))
    assert ctx.groups().tolist() == [0, 0, 1, 2]
    rows = sp.csr_matrix(np.array([[0.0, 0.0, 1.0, 1.0]]))
    items, scores = [0, 1, 2, 3], [0.9, 0.8, 0.7, 0.1]
    assert one(Calibrated(0.5), items, scores, rows, 2, ctx) == [2, 3]
    # a user with only head history keeps the head items
    head_user = sp.csr_matrix(np.array([[1.0, 1.0, 0.0, 0.0]]))
    assert one(Calibrated(0.5), items, scores, head_user, 2, ctx) == [0, 1]


def test_mmr_hand_example():
    # items 0 and 1 are near duplicates, item 2 is orthogonal to both
    vectors = np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]])
    ctx = RerankContext(np.ones(3), np.zeros(3, bool), item_vectors=vectors)
    items, scores = [0, 1, 2], [0.9, 0.85, 0.5]
    # w = 0.5: item 1 gets 0.5*0.875 - 0.5*0.99 < 0, item 2 gets 0.5*0 - 0 = 0
    assert one(MMR(0.5), items, scores, sp.csr_matrix((1, 3)), 2, ctx) == [0, 2]
    # w = 0.1: relevance wins, 0.9*0.875 - 0.1*0.99 > 0
    assert one(MMR(0.1), items, scores, sp.csr_matrix((1, 3)), 2, ctx) == [0, 1]


def test_stochastic_is_seeded_and_spreads_exposure():
    rng = np.random.default_rng(0)
    n_items, k = 200, 10
    ctx = RerankContext(np.ones(n_items), np.zeros(n_items, bool))
    items = np.tile(np.arange(100), (3, 1))
    scores = np.tile(np.sort(rng.random(100).astype(np.float32))[::-1], (3, 1))
    rows = sp.csr_matrix((3, n_items))
    first, _ = Stochastic(0.5, seed=7).rerank(items, scores, rows, k, ctx)
    again, _ = Stochastic(0.5, seed=7).rerank(items, scores, rows, k, ctx)
    assert np.array_equal(first, again)
    draws = [Stochastic(0.5, seed=s).rerank(items, scores, rows, k, ctx)[0][0] for s in range(10)]
    assert len(set(np.concatenate(draws).tolist())) > k  # the fixed top-k shows exactly k items
    assert all(len(set(d.tolist())) == k and set(d.tolist()) <= set(range(100)) for d in draws)
    # successive calls on one re-ranker (repeated requests) draw fresh lists
    r = Stochastic(0.5, seed=7)
    assert not np.array_equal(r.rerank(items, scores, rows, k, ctx)[0], r.rerank(items, scores, rows, k, ctx)[0])
    # a tiny temperature keeps the model's order
    cold, _ = Stochastic(1e-4, seed=3).rerank(items, scores, rows, k, ctx)
    assert cold[0].tolist() == list(range(k))


# ---------------------------------------------------------------- reference implementations
def reference_xquad(items, scores, history, k, tail, lam, floor=0.5):
    """The xQuAD formula, literally: every step scores every remaining candidate."""
    out = []
    for row in range(len(items)):
        cand = [(i, s) for i, s in zip(items[row], scores[row]) if i >= 0 and np.isfinite(s)]
        if not cand:
            out.append([])
            continue
        lo, hi = min(s for _, s in cand), max(s for _, s in cand)
        rel = {i: (s - lo) / (hi - lo) if hi > lo else 1.0 for i, s in cand}
        hist = history[row].indices
        t_u = tail[hist].mean() if len(hist) else 0.0
        p_t = max(t_u, floor)
        chosen: list[int] = []
        for _ in range(min(k, len(cand))):
            best, best_gain = None, -np.inf
            for i, _s in cand:
                if i in chosen:
                    continue
                if chosen:
                    share_t = np.mean([tail[j] for j in chosen])
                    cover = 1 - share_t if tail[i] else share_t
                else:
                    cover = 1.0
                gain = (1 - lam) * rel[i] + lam * (p_t if tail[i] else 1 - p_t) * cover
                if gain > best_gain + 1e-12:
                    best, best_gain = i, gain
            chosen.append(best)
        out.append(chosen)
    return out


def reference_calibrated(items, scores, history, k, groups, item_pop, lam):
    """Steck's greedy calibration, literally: the full objective for every candidate."""
    p_all = user_mix(history, groups, item_pop)
    out = []
    for row in range(len(items)):
        cand = [(i, s) for i, s in zip(items[row], scores[row]) if i >= 0 and np.isfinite(s)]
        lo, hi = min(s for _, s in cand), max(s for _, s in cand)
        rel = {i: (s - lo) / (hi - lo) if hi > lo else 1.0 for i, s in cand}
        p = p_all[row]
        chosen: list[int] = []
        for _ in range(min(k, len(cand))):
            best, best_gain = None, -np.inf
            for i, _s in cand:
                if i in chosen:
                    continue
                trial = chosen + [i]
                q = np.bincount(groups[trial], minlength=3) / len(trial)
                q = (1 - SMOOTH) * q + SMOOTH * p
                gain = (1 - lam) * sum(rel[j] for j in trial) - lam * kl_divergence(p, q)
                if gain > best_gain + 1e-12:
                    best, best_gain = i, gain
            chosen.append(best)
        out.append(chosen)
    return out


def random_case(seed: int, n_users: int = 12, n_items: int = 40, width: int = 15):
    rng = np.random.default_rng(seed)
    pop = rng.integers(0, 50, n_items).astype(float)
    ctx = RerankContext(pop, pop < np.quantile(pop, 0.6))
    items = np.stack([rng.permutation(n_items)[:width] for _ in range(n_users)])
    scores = -np.sort(-rng.random((n_users, width)), axis=1).astype(np.float32)
    items[0, -3:], scores[0, -3:] = -1, -np.inf  # a padded row
    history = sp.csr_matrix(rng.random((n_users, n_items)) < 0.2, dtype=np.float32)
    return items, scores, history, ctx


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lam", [0.2, 0.5, 0.9])
def test_xquad_matches_reference(seed, lam):
    items, scores, history, ctx = random_case(seed)
    got, _ = XQuAD(lam).rerank(items, scores, history, 8, ctx)
    want = reference_xquad(items, scores, history, 8, ctx.tail, lam)
    assert [[i for i in row if i >= 0] for row in got.tolist()] == want


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("lam", [0.2, 0.5, 0.9])
def test_calibrated_matches_reference(seed, lam):
    items, scores, history, ctx = random_case(seed)
    got, _ = Calibrated(lam).rerank(items, scores, history, 8, ctx)
    want = reference_calibrated(items, scores, history, 8, ctx.groups(), ctx.item_pop, lam)
    assert [[i for i in row if i >= 0] for row in got.tolist()] == want


def test_unsorted_candidates_are_ranked_by_score():
    items, scores, history, ctx = random_case(9)
    perm = np.random.default_rng(1).permutation(items.shape[1])
    shuffled_items, shuffled_scores = items[:, perm], scores[:, perm]
    for cls in (XQuAD, Calibrated):
        a, _ = cls(0.6).rerank(items[1:], scores[1:], history[1:], 6, ctx)
        b, _ = cls(0.6).rerank(shuffled_items[1:], shuffled_scores[1:], history[1:], 6, ctx)
        assert np.array_equal(a, b)


# ---------------------------------------------------------------- the contract
@pytest.mark.parametrize("name", list(RERANKERS))
@pytest.mark.parametrize("k", [1, 5, 20])
def test_contract(name, k):
    items, scores, history, ctx = random_case(3)
    ctx = RerankContext(ctx.item_pop, ctx.tail, loader=lambda: svd_item_vectors(history.T @ history, dim=8))
    out_i, out_s = make_reranker(name, 0.6, seed=1).rerank(items, scores, history, k, ctx)
    assert out_i.shape == out_s.shape == (len(items), k)
    for row in range(len(items)):
        valid = {i: s for i, s in zip(items[row], scores[row]) if i >= 0}
        got = [i for i in out_i[row] if i >= 0]
        assert len(got) == len(set(got)) == min(k, len(valid))  # no repeats, full when possible
        assert set(got) <= set(valid)
        assert (out_i[row][len(got):] == -1).all() and np.isneginf(out_s[row][len(got):]).all()
        assert [valid[i] for i in got] == out_s[row][: len(got)].tolist()  # the model's scores


def test_rows_without_candidates_and_empty_batches():
    ctx = RerankContext(np.ones(4), np.array([False, True, True, True]))
    items = np.array([[-1, -1], [2, 1]])
    scores = np.array([[-np.inf, -np.inf], [0.5, 0.4]], np.float32)
    for name in RERANKERS:
        r = make_reranker(name, 0.5)
        ctx_v = RerankContext(ctx.item_pop, ctx.tail, item_vectors=np.eye(4))
        out, _ = r.rerank(items, scores, sp.csr_matrix((2, 4)), 3, ctx_v)
        assert out[0].tolist() == [-1, -1, -1] and sorted(out[1][:2].tolist()) == [1, 2]
        empty, _ = r.rerank(np.empty((0, 2), np.int64), np.empty((0, 2), np.float32), sp.csr_matrix((0, 4)), 3, ctx_v)
        assert empty.shape == (0, 3)


def test_make_reranker_choices_and_range():
    assert make_reranker(None, 0.5) is None and make_reranker("none", 0.5) is None
    assert make_reranker("xquad", 0.0) is None
    assert isinstance(make_reranker("XQuAD", 0.5), XQuAD)
    with pytest.raises(ValueError, match="choose from none, xquad, calibrated, mmr, stochastic"):
        make_reranker("popularity", 0.5)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match=r"tail_weight must be in \[0, 1\]"):
            make_reranker("xquad", bad)
    with pytest.raises(ValueError, match="k must be at least 1"):
        XQuAD(0.5).rerank(np.array([[0]]), np.array([[1.0]], np.float32), sp.csr_matrix((1, 1)), 0, RerankContext(np.ones(1), np.ones(1, bool)))


def test_context_groups_user_shares_and_vectors():
    history = sp.csr_matrix(np.array([[1, 1, 0, 0, 1], [1, 0, 1, 0, 0], [1, 1, 0, 0, 0]], dtype=np.float32))
    ctx = RerankContext.from_history(history, head_share=0.2)
    assert ctx.item_pop.tolist() == [3, 2, 1, 0, 1] and ctx.tail.tolist() == [False, True, True, True, True]
    assert user_tail_share(history, ctx.tail).tolist() == pytest.approx([2 / 3, 1 / 2, 1 / 2])
    vectors = ctx.vectors()  # the SVD fallback: unit rows, deterministic
    assert vectors.shape[0] == 5 and np.allclose(np.linalg.norm(vectors[ctx.item_pop > 0], axis=1), 1)
    assert np.array_equal(vectors, RerankContext.from_history(history).vectors())
    with pytest.raises(ValueError, match="needs item vectors"):
        RerankContext(np.ones(2), np.ones(2, bool)).vectors()
    with pytest.raises(ValueError, match="2 rows for 3 items"):
        RerankContext(np.ones(3), np.ones(3, bool), item_vectors=np.eye(2)).vectors()


def test_svd_vectors_reproduce_cooccurrence():
    rng = np.random.default_rng(0)
    x = sp.csr_matrix(rng.random((60, 12)) < 0.3, dtype=np.float32)
    v = svd_item_vectors(x, dim=12)
    gram = (x.T @ x).toarray()
    assert np.allclose(v @ v.T, gram, atol=1e-3)  # full rank: exact
