"""Item-kNN: cosine similarity between item columns, keeping each item's nearest neighbours."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailwise.data.dataset import Dataset
from tailwise.models.base import Recommender
from tailwise.models.params import BIG, Int, Real, rules
from tailwise.models.relations import KnnRelations
from tailwise.models.state import StateCheck


class ItemKNN(Recommender):
    """Scores ``s_ui = sum_{j in I_u} sim(j, i)`` over the `neighbours` most similar items of i.

    Similarity is shrunk cosine: ``sim(i, j) = |U_i & U_j| / (sqrt(|U_i| |U_j|) + shrink)``.
    Similarities are computed in column blocks, so memory stays at
    ``n_items * block`` floats plus the sparse top-neighbour matrix.

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

    def __init__(self, neighbours: int = 100, shrink: float = 0.0, block: int = 2048) -> None:
        self.neighbours = neighbours
        self.shrink = shrink
        self.block = block

    def _fit(self, train: sp.csr_matrix, dataset: Dataset) -> None:
        xt = sp.csr_matrix(train.T, dtype=np.float32)  # items x users
        norms = np.sqrt(np.asarray(xt.multiply(xt).sum(axis=1)).ravel()).astype(np.float32)
        n = xt.shape[0]
        keep = min(self.neighbours, max(n - 1, 1))
        rows, cols, vals = [], [], []
        for start in range(0, n, self.block):
            stop = min(start + self.block, n)
            co = (xt @ xt[start:stop].T).toarray()  # n x b co-occurrence counts
            denom = norms[:, None] * norms[None, start:stop] + np.float32(self.shrink)
            sim = np.divide(co, denom, out=np.zeros_like(co), where=denom > 0)
            sim[np.arange(start, stop), np.arange(stop - start)] = 0.0  # no self-similarity
            top = np.argpartition(-sim, keep - 1, axis=0)[:keep]  # neighbours of each column
            top_vals = np.take_along_axis(sim, top, axis=0)
            nz = top_vals > 0
            rows.append(top[nz])
            cols.append(np.broadcast_to(np.arange(start, stop), top.shape)[nz])
            vals.append(top_vals[nz])
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
