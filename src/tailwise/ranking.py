"""Array helpers every layer shares: top-k selection, result lists, row normalisation.

The lowest layer of the package (beside :mod:`tailwise.errors` and :mod:`tailwise.artifacts`):
it imports nothing from tailwise, so data, text, models, re-rankers, indexes and the pipeline
all use the same rules (ties broken by the lower item index, ``-1`` / ``-inf`` padding).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp


@dataclass(frozen=True)
class Recommendations:
    """Top-k lists for a batch of users: item indices and scores, ``-1`` / ``-inf`` padded.

    Rows are users in the order asked; columns are ranks 1..k. A row is padded when fewer than
    k items are recommendable (small catalogue, strict whitelist).
    """

    items: np.ndarray  # int64 [n_users, k]
    scores: np.ndarray  # float32 [n_users, k]

    def __len__(self) -> int:
        return len(self.items)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest scores per row, best first; ``-inf`` becomes ``-1``.

    Ties are broken by the lower item index, so results are deterministic.

    Examples
    --------
    >>> idx, val = top_k(np.array([[0.25, 0.75, 0.5], [1.0, -np.inf, 1.0]]), 2)
    >>> idx.tolist(), val.tolist()
    ([[1, 2], [0, 2]], [[0.75, 0.5], [1.0, 1.0]])
    >>> top_k(np.array([[0.5, -np.inf]]), 3)[0].tolist()  # padded when too few items
    [[0, -1, -1]]
    """
    n, m = scores.shape
    k_eff = min(k, m)
    if k_eff < m:
        part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    else:
        part = np.tile(np.arange(m), (n, 1))
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    if k_eff < m:  # argpartition may split ties arbitrarily at the boundary: settle them
        idx, vals = _settle_boundary_ties(scores, idx, vals)
    idx = np.where(np.isneginf(vals), -1, idx)
    if k_eff < k:
        idx = np.pad(idx, ((0, 0), (0, k - k_eff)), constant_values=-1)
        vals = np.pad(vals, ((0, 0), (0, k - k_eff)), constant_values=-np.inf)
    return idx.astype(np.int64), vals.astype(np.float32)


def _settle_boundary_ties(scores, idx, vals):
    last = vals[:, -1:]
    rows = np.flatnonzero((scores == last).sum(axis=1) > (vals == last).sum(axis=1))
    for r in rows:  # rare: only rows whose k-th score is tied with an item left out
        order = np.lexsort((np.arange(scores.shape[1]), -scores[r]))[: idx.shape[1]]
        idx[r], vals[r] = order, scores[r, order]
    return idx, vals


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Float32 rows scaled to unit L2 norm (zero rows stay zero).

    Examples
    --------
    >>> normalise_rows(np.array([[3.0, 4.0], [0.0, 0.0]])).tolist()
    [[0.6000000238418579, 0.800000011920929], [0.0, 0.0]]
    """
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


def history_row(items: np.ndarray, n_items: int) -> sp.csr_matrix:
    """One user's history as a binary ``1 x n_items`` CSR row (duplicates counted once).

    Examples
    --------
    >>> history_row(np.array([2, 0, 2]), 4).toarray().tolist()
    [[1.0, 0.0, 1.0, 0.0]]
    """
    items = np.unique(np.asarray(items, dtype=np.int64))
    return sp.csr_matrix((np.ones(len(items), np.float32), items, np.array([0, len(items)])), shape=(1, n_items))


def mask_to(scores: np.ndarray, allowed: np.ndarray | None) -> np.ndarray:
    """`scores` with ``-inf`` outside the `allowed` item indices (all kept when None)."""
    if allowed is None:
        return scores
    mask = np.full(scores.shape[-1], -np.inf, dtype=np.float32)
    mask[np.asarray(allowed, dtype=np.int64)] = 0.0
    return scores + mask


def merge_lists(
    a_items: np.ndarray, a_scores: np.ndarray, b_items: np.ndarray, b_scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Row-wise union of two candidate lists, best first (ties: lower item), each item once,
    ``-1`` / ``-inf`` padded to the combined width.

    Examples
    --------
    >>> i, s = merge_lists(np.array([[3, 1]]), np.array([[0.9, 0.5]]), np.array([[1, 4]]), np.array([[0.5, 0.7]]))
    >>> i.tolist(), s.tolist()
    ([[3, 4, 1, -1]], [[0.8999999761581421, 0.699999988079071, 0.5, -inf]])
    """
    items = np.concatenate([a_items, b_items], axis=1).astype(np.int64)
    scores = np.concatenate([a_scores, b_scores], axis=1).astype(np.float32)
    by_item = np.argsort(items, axis=1, kind="stable")
    sorted_items = np.take_along_axis(items, by_item, axis=1)
    repeat = np.zeros(items.shape, dtype=bool)
    repeat[:, 1:] = (sorted_items[:, 1:] == sorted_items[:, :-1]) & (sorted_items[:, 1:] >= 0)
    dup = np.zeros(items.shape, dtype=bool)
    np.put_along_axis(dup, by_item, repeat, axis=1)
    drop = dup | (items < 0) | ~np.isfinite(scores)
    items = np.where(drop, -1, items)
    scores = np.where(drop, -np.inf, scores).astype(np.float32)
    order = np.lexsort((np.where(drop, np.iinfo(np.int64).max, items), -scores), axis=1)
    return np.take_along_axis(items, order, axis=1), np.take_along_axis(scores, order, axis=1)


def tail_slot_counts(rows: sp.csr_matrix, tail: np.ndarray, weight: float, k: int) -> np.ndarray:
    """How many of each user's k slots go to the tail: ``round(weight * k * t_u)`` with ``t_u``
    the tail share of the user's history, clipped to at least one slot and half the list
    (the calibrated tail slots, after Steck 2018).

    Examples
    --------
    >>> rows = sp.csr_matrix(np.array([[1, 1, 0, 0], [0, 0, 1, 1]], dtype=np.float32))
    >>> tail_slot_counts(rows, np.array([False, False, True, True]), 0.5, 10).tolist()
    [1, 5]
    """
    hist = np.asarray(rows.sum(axis=1)).ravel()
    # the history's tail part, without indexing a million columns of `rows`
    in_tail = sp.csr_matrix((rows.data * tail[rows.indices], rows.indices, rows.indptr), shape=rows.shape)
    t_u = np.asarray(in_tail.sum(axis=1)).ravel() / np.maximum(hist, 1)
    return np.clip(np.rint(weight * k * t_u), 1, k // 2).astype(int)


def tail_slot_positions(items: np.ndarray, valid: np.ndarray, is_tail: np.ndarray, slots: np.ndarray, k: int) -> np.ndarray:
    """Positions (into each candidate row) of the k chosen items, ``-1`` padded: the top k,
    except that a row holding fewer than ``slots`` tail items swaps its lowest-scored head
    items for its best-scored tail candidates after the k-th; the list stays sorted by score.

    Candidates must be sorted by score (ties: lower item first) and hold the top k overall;
    positions are then returned in score order.

    Examples
    --------
    >>> items = np.array([[0, 1, 2, 3]])  # in score order
    >>> tail_slot_positions(items, items >= 0, items >= 2, np.array([1]), 2).tolist()
    [[0, 2]]
    """
    top_valid, top_tail = valid[:, :k], is_tail[:, :k]
    top_head = top_valid & ~top_tail
    later = is_tail[:, k:]
    n_swap = np.minimum(np.maximum(slots - top_tail.sum(axis=1), 0), later.sum(axis=1))
    n_swap = np.minimum(n_swap, top_head.sum(axis=1))[:, None]
    from_end = np.cumsum(top_head[:, ::-1], axis=1)[:, ::-1]  # 1 = the lowest-scored head item
    keep = np.zeros(items.shape, dtype=bool)
    keep[:, :k] = top_valid & ~(top_head & (from_end <= n_swap))
    keep[:, k:] = later & (np.cumsum(later, axis=1) <= n_swap)
    # candidates are in score order, so the kept positions in order are the list in score order
    order = np.argsort(~keep, axis=1, kind="stable")[:, :k]
    return np.where(np.take_along_axis(keep, order, axis=1), order, -1)
