"""The stages of a list, in order: candidates, scores, re-ranking, cut to k.

- **Candidates** (:func:`candidates`): each user's best items by the model's scores, never an
  item of the user's row (when seen items are excluded) and only items of the whitelist (when
  one is given). Exact: the model scores every item (:meth:`Recommender.score_batches`). Through
  an index: the model's user vectors search its item vectors (:mod:`tailwise.index`), for dot-
  product models (:class:`~tailwise.models.base.VectorModel`) of large catalogues. A re-ranker
  may ask for a second pool beside the top-N (the tail slots want the best tail items).
- **Re-ranking** (:func:`run`): the re-ranker of the :class:`~tailwise.rerank.Exposure` picks
  each user's k items from the candidates; without one the candidates are the top-k itself.

Users are processed in batches, and a re-ranker sees the batches in order (a stochastic one
draws from its seed across them).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tailwise.index import VectorIndex
from tailwise.models.base import Recommender
from tailwise.ranking import Recommendations, merge_lists, top_k
from tailwise.rerank import RerankContext, Reranker

#: users per batch of the candidate and re-ranking stages
BATCH = 1024


@dataclass(frozen=True)
class Pools:
    """How many candidates a re-ranker needs: the top `n_top` by score, plus the best `n_pool`
    items within the `pool` mask (none when `n_pool` is 0)."""

    n_top: int
    pool: np.ndarray | None = None
    n_pool: int = 0


def candidates(
    model: Recommender,
    index: VectorIndex | None,
    users: np.ndarray,
    rows: sp.csr_matrix,
    pools: Pools,
    allowed: np.ndarray | None,
    exclude_seen: bool = True,
) -> Recommendations:
    """The candidate stage for one batch of users (see the module docstring).

    `allowed` is the whitelist as item indices (None: every item of the model)."""
    if index is None:
        (_, _, scores), = model.score_batches(users, rows, exclude_seen, allowed, batch_size=max(len(users), 1))
        return from_scores(scores, pools)
    return _from_index(model, index, users, rows, pools, allowed, exclude_seen)


def from_scores(scores: np.ndarray, pools: Pools) -> Recommendations:
    """The candidates of exact scores (``-inf``: may not be listed): the top `pools.n_top` by
    score, plus the best `pools.n_pool` within `pools.pool`."""
    items, vals = top_k(scores, pools.n_top)
    if pools.n_pool:
        items, vals = merge_lists(items, vals, *top_k(np.where(pools.pool[None, :], scores, -np.inf), pools.n_pool))
    return Recommendations(items, vals)


def _from_index(model, index: VectorIndex, users, rows, pools: Pools, allowed, exclude_seen) -> Recommendations:
    """Candidates of a dot-product model through its vector index. The index first follows the
    model's item vectors (:meth:`VectorIndex.sync`): items added since it was built join it,
    items whose vectors changed are updated; an index holding more items than the model (shared
    with a newer, grown copy) returns only the model's items."""
    item_vectors = model.item_factors()
    n_model = len(item_vectors)
    queries = model.user_factors(users, rows)
    exclude = rows if exclude_seen else None
    with index._guard:  # sync and search as one step: no other model's vectors in between
        index.sync(item_vectors)
        mask = None
        if allowed is not None or index.n_items > n_model:
            mask = np.zeros(index.n_items, dtype=bool)
            if allowed is None:
                mask[:n_model] = True
            else:
                mask[np.asarray(allowed, dtype=np.int64)] = True
                mask[n_model:] = False
        items, vals = index.search(queries, pools.n_top, exclude, mask)
        if pools.n_pool:
            in_pool = np.zeros(index.n_items, dtype=bool)
            in_pool[:n_model] = pools.pool[:n_model]
            if mask is not None:
                in_pool &= mask
            items, vals = merge_lists(items, vals, *index.search(queries, pools.n_pool, exclude, in_pool))
    return Recommendations(items, vals)


def pools_for(reranker: Reranker | None, k: int, n_candidates: int, ctx: RerankContext | None) -> Pools:
    """The candidates `reranker` chooses from (the top-k when there is none)."""
    return Pools(*reranker.candidate_pools(k, n_candidates, ctx)) if reranker is not None else Pools(k)


def all_candidates(
    model: Recommender,
    index: VectorIndex | None,
    users: np.ndarray,
    rows: sp.csr_matrix,
    pools: Pools,
    allowed: np.ndarray | None = None,
    exclude_seen: bool = True,
) -> Recommendations:
    """:func:`candidates` for any number of users, in batches."""
    users = np.asarray(users, dtype=np.int64)
    rows = sp.csr_matrix(rows)
    parts = [candidates(model, index, users[s], rows[s], pools, allowed, exclude_seen) for s in _batches(len(users))]
    if not parts:
        width = pools.n_top + pools.n_pool
        return Recommendations(np.empty((0, width), np.int64), np.empty((0, width), np.float32))
    return Recommendations(np.vstack([p.items for p in parts]), np.vstack([p.scores for p in parts]))


def _batches(n: int) -> list[slice]:
    return [slice(start, start + BATCH) for start in range(0, n, BATCH)]


def run(
    model: Recommender,
    index: VectorIndex | None,
    users: np.ndarray,
    rows: sp.csr_matrix,
    k: int,
    reranker: Reranker | None,
    ctx: RerankContext | None,
    n_candidates: int,
    allowed: np.ndarray | None = None,
    exclude_seen: bool = True,
) -> Recommendations:
    """Every stage for a batch of users: candidates, then the re-ranker (when given) picks k."""
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    users = np.asarray(users, dtype=np.int64)
    rows = sp.csr_matrix(rows)
    if rows.shape[0] != len(users):
        raise ValueError(f"rows must have one row per user ({len(users)}), not {rows.shape[0]}")
    if reranker is not None and ctx is None:
        raise ValueError("a re-ranker needs its RerankContext")
    pools = pools_for(reranker, k, n_candidates, ctx)
    out_items, out_scores = [], []
    for sl in _batches(len(users)):
        cand = candidates(model, index, users[sl], rows[sl], pools, allowed, exclude_seen)
        items, scores = cand.items, cand.scores
        if reranker is not None:
            items, scores = reranker.rerank(items, scores, rows[sl], k, ctx)
        out_items.append(items)
        out_scores.append(scores)
    if not out_items:
        return Recommendations(np.empty((0, k), np.int64), np.empty((0, k), np.float32))
    return Recommendations(np.vstack(out_items), np.vstack(out_scores))


def rerank_fallback(
    scores: np.ndarray, reranker: Reranker, ctx: RerankContext, row: sp.csr_matrix, k: int, n_candidates: int
) -> tuple[np.ndarray, np.ndarray]:
    """The popularity fallback through a re-ranker: its candidates are the `n_candidates` most
    popular items plus the `k` most popular tail items (the most popular items are all head,
    so without them a tail-seeking re-ranker would have nothing to pick), re-ranked for the
    history `row` (one row; empty for an unknown user). `scores` is [1, n_items] popularity,
    ``-inf`` where an item may not be listed. Returns one list (items, scores)."""
    pools = pools_for(reranker, k, n_candidates, ctx)
    items, vals = top_k(scores, max(pools.n_top, k))
    tail = np.where(ctx.tail[None, :], scores, -np.inf)
    items, vals = merge_lists(items, vals, *top_k(tail, k))
    if pools.n_pool:
        items, vals = merge_lists(items, vals, *top_k(np.where(pools.pool[None, :], scores, -np.inf), pools.n_pool))
    out_items, out_scores = reranker.rerank(items, vals, row, k, ctx)
    return out_items[0], out_scores[0]
