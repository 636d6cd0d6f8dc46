"""Item-kNN: cosine similarity between item columns, keeping each item's nearest neighbours."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailwise.data.dataset import Dataset
from tailwise.models.base import Recommender
from tailwise.models.params import BIG, Int, Real, rules
from tailwise.models.relations import KnnRelations
from tailwise.models.state import StateCheck

#: what a fit needs besides its arrays: first-call buffers and the like
WORKSPACE = 8 * 10**6
#: arrays at least this large get pages of their own from glibc's malloc, returned when freed
MALLOC_MMAP_MAX = 32 * 2**20


def itemknn_bytes(n_items: int, block: int, neighbours: int) -> int:
    """Bytes an item-kNN fit on `n_items` items needs at its peak, with `block` items per block
    and `neighbours` kept per item (the copies of the interactions are not counted).

    Per block of ``n_items x block`` pairs: the sparse co-occurrences (up to 8 bytes a pair) and
    their dense copy, which becomes the similarities in place (4), then the similarities and
    argpartition's int64 output (12), with a byte of margin for the division's mask and 1 more
    for small temporaries; blocks under 32 MiB count twice more, since glibc's malloc keeps such
    freed blocks for reuse. Next to that, the neighbours kept so far (12 bytes each, up to
    ``n_items x neighbours``), and after the loop, their concatenation and the CSR matrix (40
    bytes a neighbour in all); and :data:`WORKSPACE`. Checked against measured peaks in
    ``bench/memory_estimates.py``.

    >>> round(itemknn_bytes(1_000_000, 2048, 100) / 1e9, 1)
    29.9
    """
    n = int(n_items)
    b = min(int(block), n)
    keep = min(int(neighbours), max(n - 1, 1))
    dense = 4 * n * b
    loop = 14 * n * b + (2 * dense if dense < MALLOC_MMAP_MAX else 0)
    return max(loop + 12 * n * keep, 40 * n * keep) + WORKSPACE


class ItemKNN(Recommender):
    """Scores ``s_ui = sum_{j in I_u} sim(j, i)`` over the `neighbours` most similar items of i.

    Similarity is shrunk cosine: ``sim(i, j) = |U_i & U_j| / (sqrt(|U_i| |U_j|) + shrink)``.
    Similarities are computed in column blocks, so memory stays at a few ``n_items * block``
    arrays plus the sparse top-neighbour matrix (:func:`itemknn_bytes`; a fit above the memory
    budget is refused before it starts).

    Parameters
    ----------
    neighbours : int
        How many most similar items each item keeps (default 100).
    shrink : float
        Shrinkage added to the cosine denominator; damps similarities of rare items (default 0).
    block : int
        Items per block when computing similarities (memory/speed trade-off).
    """

    name = "itemknn"
    param_rules = rules(neighbours=Int(1), shrink=Real(0, BIG), block=Int(1))
    _state_keys = ("sim_data_", "sim_indices_", "sim_indptr_")
    instead = "--model als or --model hybrid, a smaller --param block=N"

    def __init__(self, neighbours: int = 100, shrink: float = 0.0, block: int = 2048) -> None:
        self.neighbours = neighbours
        self.shrink = shrink
        self.block = block

    def memory_estimate(self, dataset: Dataset) -> int:
        """Peak bytes of the fit: :func:`itemknn_bytes` plus the transposed interactions."""
        return (
            itemknn_bytes(dataset.n_items, self.block, self.neighbours) + 16 * dataset.matrix().nnz
        )

    def _memory_what(self, dataset: Dataset) -> str:
        block = min(self.block, dataset.n_items)
        return f"for {dataset.n_items:,} items (dense blocks of {dataset.n_items:,} x {block:,} similarities)"

    def _fit(self, train: sp.csr_matrix, dataset: Dataset) -> None:
        xt = sp.csr_matrix(train.T, dtype=np.float32)  # items x users
        norms = np.sqrt(np.asarray(xt.multiply(xt).sum(axis=1)).ravel()).astype(np.float32)
        n = xt.shape[0]
        keep = min(self.neighbours, max(n - 1, 1))
        rows, cols, vals = [], [], []
        for start in range(0, n, self.block):
            stop = min(start + self.block, n)
            sim = (xt @ xt[start:stop].T).toarray()  # n x b co-occurrence counts
            denom = norms[:, None] * norms[None, start:stop] + np.float32(self.shrink)
            np.divide(sim, denom, out=sim, where=denom > 0)  # counts are 0 where denom is
            del denom
            sim[np.arange(start, stop), np.arange(stop - start)] = 0.0  # no self-similarity
            np.negative(sim, out=sim)  # argpartition picks the smallest
            top = np.argpartition(sim, keep - 1, axis=0)[:keep]  # neighbours of each column
            top_vals = -np.take_along_axis(sim, top, axis=0)
            del sim
            nz = top_vals > 0
            rows.append(top[nz].astype(np.int32))
            cols.append(np.broadcast_to(np.arange(start, stop, dtype=np.int32), top.shape)[nz])
            vals.append(top_vals[nz])
            del top
        sim = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
            shape=(n, n),
            dtype=np.float32,
        )
        self.sim_data_, self.sim_indices_, self.sim_indptr_ = sim.data, sim.indices, sim.indptr

    def _check_state(self, check: StateCheck) -> None:
        check.csr("sim_data_", "sim_indices_", "sim_indptr_", "items", self.n_items_)

    def similarities(self) -> sp.csr_matrix:
        """The shrunk cosine similarities kept per item, ``S[j, i]`` (row j: j's neighbours)."""
        self._check_fitted()
        n = self.n_items_
        return sp.csr_matrix((self.sim_data_, self.sim_indices_, self.sim_indptr_), shape=(n, n))

    def _score(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        return np.asarray((rows @ self.similarities()).toarray(), dtype=np.float32)

    def item_relations(self) -> KnnRelations:
        return KnnRelations(self.similarities())
