"""Accuracy and long-tail metrics for top-k lists: pure NumPy/SciPy functions.

Conventions shared by every function:

* ``recs`` is an int array [n_users, k] of item indices, best first, padded with ``-1``; a
  ``-1`` is never a hit nor an exposed item.
* ``truth`` is a sparse matrix [n_users, n_items]; a stored nonzero marks a held-out relevant
  item, and row ``r`` belongs to the same user as ``recs[r]``.
* ``k`` keeps only the first ``k`` columns of ``recs`` (default: all of them).
* Per-user metrics return float64 arrays [n_users] holding ``nan`` where the metric is undefined
  (average them with :func:`numpy.nanmean`); catalogue-level metrics return a float.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import ArrayLike

__all__ = [
    "aplt", "arp", "catalog_coverage", "cold_recall", "exposure_gini", "gini", "head_recall", "hit_rate", "hits",
    "intra_list_diversity", "mrr", "ndcg", "ndcg_of_hits", "novelty", "precision", "recall", "recall_within",
    "recall_within_hits", "relevance", "tail_coverage", "tail_recall",
]  # fmt: skip

Sparse = sp.spmatrix | sp.sparray  # a SciPy sparse matrix or array

_BLOCK = 1 << 22  # intra_list_diversity: largest number of vector entries handled in one batch


# ---------------------------------------------------------------------------------- helpers
def _cut(recs: ArrayLike, k: int | None) -> np.ndarray:
    """``recs`` as an int64 2-D array restricted to its first `k` columns."""
    recs = np.asarray(recs)
    if recs.ndim != 2:
        raise ValueError(f"recs must be 2-D [n_users, k], not of shape {recs.shape}")
    if recs.size and not np.issubdtype(recs.dtype, np.integer):
        raise TypeError(f"recs must hold integer item indices, not {recs.dtype}")
    recs = recs.astype(np.int64, copy=False)
    if k is not None:
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        recs = recs[:, :k]
    return recs


def _check_items(recs: np.ndarray, n_items: int) -> None:
    if recs.size and (recs.min() < -1 or recs.max() >= n_items):
        raise ValueError(f"recs must hold item indices in [0, {n_items}) or -1 for padding")


def _mask(mask: ArrayLike, name: str) -> np.ndarray:
    mask = np.asarray(mask)
    if mask.ndim != 1 or mask.dtype != np.bool_:
        raise TypeError(f"{name} must be a 1-D bool mask over items, not {mask.dtype} {mask.shape}")
    return mask


def _relevance(truth: Sparse, n_users: int) -> sp.csr_matrix:
    """Canonical CSR copy of `truth` (sorted indices, no duplicates, no explicit zeros)."""
    rel = sp.csr_matrix(truth, copy=True)
    rel.sum_duplicates()
    rel.eliminate_zeros()
    if rel.shape[0] != n_users:
        raise ValueError(f"truth has {rel.shape[0]} rows but recs has {n_users}")
    return rel


def _first_occurrence(recs: np.ndarray) -> np.ndarray:
    """True where an entry is the first occurrence of its item in its row."""
    first = np.ones(recs.shape, dtype=bool)
    if recs.shape[1] < 2:
        return first
    order = np.argsort(recs, axis=1, kind="stable")
    ordered = np.take_along_axis(recs, order, axis=1)
    dup = np.zeros(recs.shape, dtype=bool)
    dup[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    np.put_along_axis(first, order, ~dup, axis=1)
    return first


def _hits(recs: np.ndarray, rel: sp.csr_matrix) -> np.ndarray:
    n_users, n_items = rel.shape
    _check_items(recs, n_items)
    row_len = np.diff(rel.indptr)
    # one sorted key per relevant (user, item) pair; look each listed pair up by binary search
    truth_keys = np.repeat(np.arange(n_users, dtype=np.int64) * n_items, row_len) + rel.indices
    if truth_keys.size == 0:
        return np.zeros(recs.shape, dtype=bool)
    rec_keys = np.arange(n_users, dtype=np.int64)[:, None] * n_items + recs
    pos = np.minimum(np.searchsorted(truth_keys, rec_keys), truth_keys.size - 1)
    found = (truth_keys[pos] == rec_keys) & (recs >= 0)
    return found & _first_occurrence(recs)


def relevance(truth: Sparse) -> sp.csr_matrix:
    """`truth` as the metrics read it: a canonical CSR copy (sorted, no duplicates or zeros)."""
    t = sp.csr_matrix(truth)
    return _relevance(t, t.shape[0])


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den`` as float64, ``nan`` where ``den == 0``."""
    num = np.asarray(num, dtype=np.float64)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=np.asarray(den) > 0)
    return out


def _list_mean(recs: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Per row, the mean of ``values[item]`` over the non-padded entries (``nan`` if none)."""
    _check_items(recs, len(values))
    valid = recs >= 0
    total = np.where(valid, values[np.maximum(recs, 0)], 0.0).sum(axis=1)
    return _ratio(total, valid.sum(axis=1))


# ---------------------------------------------------------------------------------- accuracy
def hits(recs: ArrayLike, truth: Sparse) -> np.ndarray:
    r"""Whether each listed item is relevant: ``hit[u, j] = 1[recs[u, j] \in Rel(u)]``.

    Padding (``-1``) is never a hit, and an item listed twice is a hit only at its first rank.

    Returns
    -------
    ndarray of bool [n_users, k]

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0]]))
    >>> hits(np.array([[2, 1, 0], [3, 1, -1]]), truth).astype(int).tolist()
    [[1, 0, 1], [0, 1, 0]]
    """
    recs = _cut(recs, None)
    return _hits(recs, _relevance(truth, len(recs)))


def _accuracy(recs: ArrayLike, truth, k: int | None) -> tuple[np.ndarray, np.ndarray]:
    recs = _cut(recs, k)
    rel = _relevance(truth, len(recs))
    return _hits(recs, rel), np.diff(rel.indptr)


def recall(recs: ArrayLike, truth: Sparse, k: int | None = None) -> np.ndarray:
    r"""Recall@k: ``|hits_u| / |Rel(u)|``; ``nan`` for users with no relevant item.

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 0, 0, 0]]))
    >>> recall(np.array([[2, 1, 0], [3, 1, -1]]), truth, k=2).tolist()
    [0.5, nan]
    """
    h, n_rel = _accuracy(recs, truth, k)
    return _ratio(h.sum(axis=1), n_rel)


def precision(recs: ArrayLike, truth: Sparse, k: int | None = None) -> np.ndarray:
    r"""Precision@k: ``|hits_u| / k`` with k the number of columns used (padding counts as a miss).

    ``nan`` for users with no relevant item.

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0]]))
    >>> precision(np.array([[2, 1, 0, 3], [1, -1, -1, -1]]), truth).tolist()
    [0.5, 0.25]
    """
    h, n_rel = _accuracy(recs, truth, k)
    return _ratio(h.sum(axis=1), np.where(n_rel > 0, h.shape[1], 0))


def ndcg(recs: ArrayLike, truth: Sparse, k: int | None = None) -> np.ndarray:
    r"""NDCG@k with binary gains: ``DCG / IDCG``.

    ``DCG_u = \sum_{j=0}^{k-1} hit_{u,j} / \log_2(j + 2)`` and
    ``IDCG_u = \sum_{j=0}^{\min(|Rel(u)|, k) - 1} 1 / \log_2(j + 2)``; ``nan`` if ``Rel(u) = {}``.

    Examples
    --------
    Two relevant items, hits at ranks 1 and 3: ``(1 + 1/log2(4)) / (1 + 1/log2(3))``.

    >>> truth = sp.csr_matrix(np.array([[1, 0, 1, 0]]))
    >>> round(float(ndcg(np.array([[0, 1, 2]]), truth)[0]), 4)
    0.9197
    """
    return ndcg_of_hits(*_accuracy(recs, truth, k))


def ndcg_of_hits(h: np.ndarray, n_rel: np.ndarray) -> np.ndarray:
    """:func:`ndcg` from the lists' :func:`hits` [n_users, k] and each user's count of
    relevant items (for a caller that scores many lists against the same truth)."""
    discount = 1.0 / np.log2(np.arange(h.shape[1]) + 2.0)
    ideal = np.concatenate([[0.0], np.cumsum(discount)])  # ideal[m]: DCG of m hits on top
    return _ratio(h @ discount, ideal[np.minimum(n_rel, h.shape[1])])


def hit_rate(recs: ArrayLike, truth: Sparse, k: int | None = None) -> np.ndarray:
    r"""HitRate@k: ``1[|hits_u| > 0]``; ``nan`` for users with no relevant item.

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 0]]))
    >>> hit_rate(np.array([[3, 2], [0, 3], [1, 2]]), truth).tolist()
    [1.0, 0.0, nan]
    """
    h, n_rel = _accuracy(recs, truth, k)
    return np.where(n_rel > 0, h.any(axis=1).astype(np.float64), np.nan)


def mrr(recs: ArrayLike, truth: Sparse, k: int | None = None) -> np.ndarray:
    r"""Reciprocal rank: ``1 / rank`` of the first hit (ranks from 1), 0 without a hit.

    ``nan`` for users with no relevant item; :func:`numpy.nanmean` of it is the MRR.

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[1, 0, 1, 0], [0, 1, 0, 0]]))
    >>> mrr(np.array([[3, 2, 0], [0, 2, 3]]), truth).tolist()
    [0.5, 0.0]
    """
    h, n_rel = _accuracy(recs, truth, k)
    rr = np.where(h.any(axis=1), 1.0 / (np.argmax(h, axis=1) + 1.0), 0.0)
    return np.where(n_rel > 0, rr, np.nan)


# ---------------------------------------------------------------------------------- long tail
def recall_within(
    recs: ArrayLike, truth: Sparse, item_mask: ArrayLike, k: int | None = None
) -> np.ndarray:
    r"""Recall restricted to the relevant items in a group ``M`` (``item_mask[i]`` is True).

    ``|hits_u \cap M| / |Rel(u) \cap M|``; ``nan`` for users with no relevant item in ``M``.

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[1, 1, 1, 0], [1, 0, 0, 0]]))
    >>> mask = np.array([False, True, True, True])
    >>> recall_within(np.array([[0, 1, 3], [0, 2, 3]]), truth, mask).tolist()
    [0.5, nan]
    """
    recs = _cut(recs, k)
    mask = _mask(item_mask, "item_mask")
    rel = _relevance(truth, len(recs))
    if len(mask) != rel.shape[1]:
        raise ValueError(f"item_mask has {len(mask)} items but truth has {rel.shape[1]}")
    return recall_within_hits(_hits(recs, rel), recs, rel, mask)


def recall_within_hits(h: np.ndarray, recs: np.ndarray, rel: sp.csr_matrix, mask: np.ndarray) -> np.ndarray:
    """:func:`recall_within` from the lists' :func:`hits`, `recs` and canonical truth
    (:func:`relevance`)."""
    rows = np.repeat(np.arange(len(recs)), np.diff(rel.indptr))
    n_masked = np.bincount(rows, weights=mask[rel.indices], minlength=len(recs))
    return _ratio((h & mask[np.maximum(recs, 0)]).sum(axis=1), n_masked)


def tail_recall(
    recs: ArrayLike, truth: Sparse, tail: ArrayLike, k: int | None = None
) -> np.ndarray:
    """Recall on relevant tail items: :func:`recall_within` with ``item_mask=tail``.

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[1, 1, 1, 0]]))
    >>> tail_recall(np.array([[0, 1]]), truth, np.array([False, True, True, True])).tolist()
    [0.5]
    """
    return recall_within(recs, truth, _mask(tail, "tail"), k)


def head_recall(
    recs: ArrayLike, truth: Sparse, tail: ArrayLike, k: int | None = None
) -> np.ndarray:
    """Recall on relevant head items: :func:`recall_within` with ``item_mask=~tail``.

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[1, 1, 1, 0]]))
    >>> head_recall(np.array([[0, 1]]), truth, np.array([False, True, True, True])).tolist()
    [1.0]
    """
    return recall_within(recs, truth, ~_mask(tail, "tail"), k)


def cold_recall(
    recs: ArrayLike, truth: Sparse, cold: ArrayLike, k: int | None = None
) -> np.ndarray:
    """Recall on relevant cold items (no training interaction): ``item_mask=cold``.

    Examples
    --------
    >>> truth = sp.csr_matrix(np.array([[1, 0, 1, 1], [1, 0, 0, 0]]))
    >>> cold = np.array([False, False, True, True])
    >>> cold_recall(np.array([[3, 0], [1, 2]]), truth, cold).tolist()
    [0.5, nan]
    """
    return recall_within(recs, truth, _mask(cold, "cold"), k)


def catalog_coverage(recs: ArrayLike, n_items: int, k: int | None = None) -> float:
    """Share of the catalogue recommended to someone: ``|\\cup_u L_u| / n_items``.

    `n_items` may be a candidate-set size rather than the whole catalogue.

    Examples
    --------
    >>> catalog_coverage(np.array([[0, 1], [1, -1]]), n_items=4)
    0.5
    """
    recs = _cut(recs, k)
    if n_items <= 0:
        raise ValueError(f"n_items must be positive, not {n_items}")
    return float(np.unique(recs[recs >= 0]).size / n_items)


def tail_coverage(recs: ArrayLike, tail: ArrayLike, k: int | None = None) -> float:
    """Share of tail items recommended to someone: ``|T \\cap \\cup_u L_u| / |T|``; 0.0 if no tail.

    Examples
    --------
    >>> tail_coverage(np.array([[0, 1], [1, 2]]), np.array([False, True, True, True, True]))
    0.5
    """
    recs = _cut(recs, k)
    tail = _mask(tail, "tail")
    n_tail = int(tail.sum())
    if n_tail == 0:
        return 0.0
    _check_items(recs, len(tail))
    return float(np.count_nonzero(tail[np.unique(recs[recs >= 0])]) / n_tail)


def aplt(recs: ArrayLike, tail: ArrayLike, k: int | None = None) -> np.ndarray:
    """Average Percentage of Long Tail items (Abdollahpouri et al., 2019), per user.

    ``|L_u \\cap T| / |L_u|`` over the non-padded list ``L_u``; ``nan`` for an empty list.

    Examples
    --------
    >>> aplt(np.array([[0, 1, 2, 3], [1, -1, -1, -1], [-1, -1, -1, -1]]),
    ...      np.array([False, True, True, False])).tolist()
    [0.5, 1.0, nan]
    """
    recs = _cut(recs, k)
    return _list_mean(recs, _mask(tail, "tail").astype(np.float64))


def arp(recs: ArrayLike, item_pop: ArrayLike, k: int | None = None) -> np.ndarray:
    """Average Recommendation Popularity, per user: ``mean_{i \\in L_u} pop(i)``.

    `item_pop` holds training interaction counts; ``nan`` for an empty list.

    Examples
    --------
    >>> arp(np.array([[0, 1, -1], [-1, -1, -1]]), np.array([10, 2, 0])).tolist()
    [6.0, nan]
    """
    recs = _cut(recs, k)
    return _list_mean(recs, np.asarray(item_pop, dtype=np.float64))


def gini(recs: ArrayLike, n_items: int, k: int | None = None) -> float:
    """Gini index of item exposure over all `n_items` items (never recommended = exposure 0).

    With exposures sorted ascending ``x_(1) <= ... <= x_(n)``:
    ``G = \\sum_{i=1}^n (2i - n - 1) x_(i) / (n \\sum_i x_i)``; 0 is perfectly equal exposure,
    ``(n - 1) / n`` all exposure on one item. 0.0 when nothing is exposed.

    Examples
    --------
    Exposures [0, 0, 1, 3]: ``(-3*0 - 1*0 + 1*1 + 3*3) / (4 * 4) = 0.625``.

    >>> gini(np.array([[2, 3], [3, -1], [3, -1]]), n_items=4)
    0.625
    """
    recs = _cut(recs, k)
    _check_items(recs, n_items)
    return exposure_gini(np.bincount(recs[recs >= 0], minlength=n_items))


def exposure_gini(exposure: ArrayLike) -> float:
    """:func:`gini` from each item's exposure count (the number of lists it is in), for callers
    that count exposures without holding every list (Spark).

    >>> exposure_gini(np.array([0, 0, 1, 3]))
    0.625
    """
    x = np.sort(np.asarray(exposure)).astype(np.float64)
    total = x.sum()
    if total == 0:
        return 0.0
    n = len(x)
    coef = 2.0 * np.arange(1, n + 1) - n - 1
    return float(coef @ x / (n * total))


def novelty(recs: ArrayLike, item_pop: ArrayLike, n_users: int, k: int | None = None) -> np.ndarray:
    """Mean self-information of the listed items, per user: ``mean_{i \\in L_u} -log2(p_i)``.

    ``p_i = max(item_pop[i], 1) / n_users`` is the share of (training) users who interacted with
    ``i``, floored at ``1 / n_users`` so never-seen items are finite (``log2(n_users)`` bits).
    ``nan`` for an empty list.

    Examples
    --------
    Item 0 seen by 4 of 8 users (1 bit), item 1 by 1 of 8 (3 bits), item 2 by none (3 bits).

    >>> novelty(np.array([[0, 1], [2, -1]]), np.array([4, 1, 0]), n_users=8).tolist()
    [2.0, 3.0]
    """
    recs = _cut(recs, k)
    if n_users <= 0:
        raise ValueError(f"n_users must be positive, not {n_users}")
    pop = np.maximum(np.asarray(item_pop, dtype=np.float64), 1.0)
    return _list_mean(recs, -np.log2(pop / n_users))


def intra_list_diversity(
    recs: ArrayLike, item_vectors: np.ndarray | Sparse, k: int | None = None
) -> np.ndarray:
    """Mean pairwise cosine distance within each list (intra-list diversity).

    ``ILD_u = 2 / (m (m - 1)) \\sum_{i < j} (1 - cos(v_{L_u[i]}, v_{L_u[j]}))`` over the ``m``
    non-padded items; ``cos(a, b) = a.b / (|a| |b|)``, taken as 0 when either vector is zero.
    Rows of `item_vectors` [n_items, d] (dense or sparse) need not be normalised. ``nan`` for
    lists of fewer than two items.

    Examples
    --------
    Pairs (0,1): cos 0; (0,2) and (1,2): cos 1/sqrt(2); (0,3): zero vector, cos 0.

    >>> vecs = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0], [0.0, 0.0]])
    >>> np.round(intra_list_diversity(np.array([[0, 1, 2], [0, 3, -1], [1, -1, -1]]), vecs),
    ...          4).tolist()
    [0.5286, 1.0, nan]
    """
    recs = _cut(recs, k)
    n_users, kk = recs.shape
    _check_items(recs, item_vectors.shape[0])
    valid = recs >= 0
    out = np.full(n_users, np.nan)
    users = np.flatnonzero(valid.sum(axis=1) >= 2)
    if users.size == 0:
        return out
    if sp.issparse(item_vectors):
        vecs = sp.csr_matrix(item_vectors)
        gram = _sparse_gram
    else:
        vecs = np.asarray(item_vectors)
        gram = _dense_gram
    d = max(vecs.shape[1], 1)
    step = max(1, min(_BLOCK // (kk * d), (2**31 - 1) // d))
    iu, ju = np.triu_indices(kk, 1)
    for start in range(0, users.size, step):
        batch = users[start : start + step]
        ok = valid[batch]
        g = gram(vecs, np.where(ok, recs[batch], 0), ok)  # [b, k, k] dot products
        norm = np.sqrt(np.maximum(np.diagonal(g, axis1=1, axis2=2), 0.0))
        denom = norm[:, iu] * norm[:, ju]
        cos = np.divide(g[:, iu, ju], denom, out=np.zeros(denom.shape), where=denom > 0)
        pair = ok[:, iu] & ok[:, ju]
        dist = np.clip(1.0 - cos, 0.0, 2.0)
        out[batch] = (dist * pair).sum(axis=1) / pair.sum(axis=1)
    return out


def _dense_gram(vecs: np.ndarray, items: np.ndarray, ok: np.ndarray) -> np.ndarray:
    v = vecs[items].astype(np.float64) * ok[:, :, None]  # [b, k, d]
    return v @ v.transpose(0, 2, 1)


def _sparse_gram(vecs: sp.csr_matrix, items: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Per-list Gram matrices from one sparse product: list ``b`` uses columns ``b*d .. b*d+d``.

    Shifting each list's features into its own column range makes ``S @ S.T`` block diagonal,
    so only the within-list dot products are ever computed.
    """
    b, kk = items.shape
    d = vecs.shape[1]
    rows = sp.csr_matrix(vecs[items.ravel()], dtype=np.float64)
    rows.sum_duplicates()
    per_nnz = np.diff(rows.indptr)
    row_of = np.repeat(np.arange(b * kk), per_nnz)
    keep = ok.ravel()[row_of]
    cols = rows.indices[keep].astype(np.int64) + (row_of[keep] // kk) * d
    s = sp.csr_matrix((rows.data[keep], (row_of[keep], cols)), shape=(b * kk, b * d))
    prod = (s @ s.T).tocoo()
    g = np.zeros((b, kk, kk))
    g[prod.row // kk, prod.row % kk, prod.col % kk] = prod.data
    return g
