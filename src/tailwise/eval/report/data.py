"""What the report's figures show, computed from top-k lists: pure NumPy functions.

Every function here takes arrays and returns arrays (no plotting, no I/O), so each figure's
numbers can be checked on their own: exposure counts, Lorenz curves and their Gini index,
popularity buckets and recall per bucket, and cumulative shares by popularity rank.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tailwise import metrics as M

__all__ = [
    "Buckets",
    "bucket_exposure",
    "bucket_recall",
    "cumulative_share",
    "exposure",
    "lorenz",
    "lorenz_gini",
    "popularity_buckets",
    "popularity_order",
]  # fmt: skip


def exposure(recs: np.ndarray, n_items: int) -> np.ndarray:
    """How many lists each item appears in (padding ``-1`` ignored): int64 [n_items].

    Examples
    --------
    >>> exposure(np.array([[2, 3], [3, -1]]), n_items=4).tolist()
    [0, 0, 1, 2]
    """
    recs = np.asarray(recs, dtype=np.int64)
    return np.bincount(recs[recs >= 0], minlength=n_items).astype(np.int64)


def popularity_order(item_pop: np.ndarray) -> np.ndarray:
    """Item indices from most to least popular, ties by lower index (as :func:`tail_mask`).

    Examples
    --------
    >>> popularity_order(np.array([3, 9, 0, 9])).tolist()
    [1, 3, 0, 2]
    """
    pop = np.asarray(item_pop)
    return np.lexsort((np.arange(len(pop)), -pop))


def lorenz(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve of a non-negative distribution over items.

    Items sorted from least to most (exposed, popular, ...); point ``i`` (``i = 0 .. n``) is
    ``(i / n, sum of the i smallest values / total)``. With a zero total the curve is the
    diagonal (nothing is unequal about nothing).

    Returns
    -------
    x, y : ndarray of float64 [n + 1]
        Share of items and cumulative share of the total, both from 0 to 1.

    Examples
    --------
    >>> x, y = lorenz(np.array([3, 0, 1, 0]))
    >>> x.tolist(), y.tolist()
    ([0.0, 0.25, 0.5, 0.75, 1.0], [0.0, 0.0, 0.0, 0.25, 1.0])
    """
    v = np.sort(np.asarray(values, dtype=np.float64))
    if v.size and v[0] < 0:
        raise ValueError("a Lorenz curve needs non-negative values")
    n = len(v)
    x = np.arange(n + 1, dtype=np.float64) / max(n, 1)
    total = v.sum()
    if total == 0:
        return x, x.copy()
    y = np.concatenate([[0.0], np.cumsum(v) / total])
    y[-1] = 1.0
    return x, y


def lorenz_gini(x: np.ndarray, y: np.ndarray) -> float:
    """Gini index from a Lorenz curve: ``1 - 2 * (area under the curve)`` (trapezoids).

    For the curve of :func:`lorenz` this is exactly :func:`tailwise.metrics.gini`:
    ``1 - (1/n) sum_i (L_{i-1} + L_i) = sum_i (2i - n - 1) x_(i) / (n sum x)``.

    Examples
    --------
    >>> float(lorenz_gini(*lorenz(np.array([0, 0, 1, 3]))))
    0.625
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    area = float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2.0))
    return 1.0 - 2.0 * area


@dataclass(frozen=True)
class Buckets:
    """Items grouped by training popularity, most popular group first.

    Attributes
    ----------
    of_item : int64 [n_items]
        Each item's bucket.
    labels : list of str
        Per bucket, the range of training interactions of its items (``"0"`` for cold items).
    n_items : int64 [n_buckets]
        Items per bucket.
    """

    of_item: np.ndarray
    labels: list[str]
    n_items: np.ndarray

    def __len__(self) -> int:
        return len(self.labels)


def popularity_buckets(item_pop: np.ndarray, n_buckets: int = 5) -> Buckets:
    """Items with training interactions in up to `n_buckets` groups of about equal interaction
    mass (the first holds the few most popular items, the last the many rarest), plus a last
    bucket ``"0"`` for items without training interactions when there are any.

    An item goes to bucket ``floor(n_buckets * m / total)`` where ``m`` is the interaction mass
    of the items more popular than it; items with equal counts always share a bucket, so a
    bucket may be skipped (and is then dropped) when one count holds a large share.

    Examples
    --------
    >>> b = popularity_buckets(np.array([8, 4, 2, 1, 1, 0]), n_buckets=2)
    >>> b.of_item.tolist(), b.labels, b.n_items.tolist()
    ([0, 1, 1, 1, 1, 2], ['8', '1–4', '0'], [1, 4, 1])
    """
    if n_buckets < 1:
        raise ValueError(f"n_buckets must be at least 1, not {n_buckets}")
    pop = np.asarray(item_pop, dtype=np.int64)
    order = popularity_order(pop)
    sorted_pop = pop[order]
    mass_before = np.concatenate([[0], np.cumsum(sorted_pop)[:-1]])
    total = max(int(sorted_pop.sum()), 1)
    # equal counts take the mass before the first of them, so they never straddle two buckets
    first = np.searchsorted(-sorted_pop, -sorted_pop, side="left")
    raw = np.minimum(n_buckets * mass_before[first] // total, n_buckets - 1)
    raw = np.where(sorted_pop > 0, raw, n_buckets)  # cold items: a bucket of their own
    used, dense = np.unique(raw, return_inverse=True)
    of_item = np.empty(len(pop), dtype=np.int64)
    of_item[order] = dense
    labels = []
    for b in used:
        counts = sorted_pop[raw == b]
        lo, hi = int(counts.min()), int(counts.max())
        labels.append(f"{lo:,}" if lo == hi else f"{lo:,}–{hi:,}")
    return Buckets(of_item, labels, np.bincount(of_item, minlength=len(used)).astype(np.int64))


def bucket_recall(
    recs: np.ndarray, truth: sp.spmatrix, of_item: np.ndarray, n_buckets: int
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out interactions found in the top-k lists, pooled over users, per item bucket.

    ``hits[b]`` counts (user, item) pairs with the item in bucket ``b``, held out for the user
    and in the user's list; ``relevant[b]`` counts the held-out pairs in bucket ``b``. The
    bucket's recall is ``hits[b] / relevant[b]``; summed over buckets they give the overall
    pooled recall ``sum(hits) / sum(relevant)``.

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[1, 1, 0, 1], [0, 0, 1, 1]]))
    >>> hits, rel = bucket_recall(np.array([[0, 2], [3, 1]]), truth, np.array([0, 0, 1, 1]), 2)
    >>> hits.tolist(), rel.tolist()
    ([1, 1], [2, 3])
    """
    recs = np.asarray(recs, dtype=np.int64)
    of_item = np.asarray(of_item, dtype=np.int64)
    hit = M.hits(recs, truth)
    hits = np.bincount(of_item[recs[hit]], minlength=n_buckets)
    rel = sp.csr_matrix(truth, copy=True)
    rel.sum_duplicates()
    rel.eliminate_zeros()
    relevant = np.bincount(of_item[rel.indices], minlength=n_buckets)
    return hits.astype(np.int64), relevant.astype(np.int64)


def bucket_exposure(recs: np.ndarray, of_item: np.ndarray, n_buckets: int) -> np.ndarray:
    """Recommendation slots per item bucket (padding ignored): int64 [n_buckets].

    Examples
    --------
    >>> bucket_exposure(np.array([[0, 2], [3, -1]]), np.array([0, 0, 1, 1]), 2).tolist()
    [1, 2]
    """
    recs = np.asarray(recs, dtype=np.int64)
    of_item = np.asarray(of_item, dtype=np.int64)
    return np.bincount(of_item[recs[recs >= 0]], minlength=n_buckets).astype(np.int64)


def cumulative_share(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Share of the total held by the first ``r`` items of `order`, for ``r = 1 .. n``.

    With `order` the catalogue's popularity order and `values` a model's exposure, entry
    ``n_head - 1`` is the share of recommendation slots that go to head items. A zero total gives
    zeros.

    Examples
    --------
    >>> cumulative_share(np.array([1, 0, 3]), np.array([2, 0, 1])).tolist()
    [0.75, 1.0, 1.0]
    """
    v = np.asarray(values, dtype=np.float64)[np.asarray(order)]
    total = v.sum()
    return np.cumsum(v) / total if total > 0 else np.zeros(len(v))
