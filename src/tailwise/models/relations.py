"""Item-to-item affinity: which items are alike by the model's own reading of them.

A model declares its relations with :meth:`~tailwise.models.base.Recommender.item_relations`:

- models with item vectors (the hybrid's adapter side ``v_hat``, the adapter, twotower, ALS/BPR
  factors, content's text embeddings): cosine between the vectors (:class:`VectorRelations`);
- EASE: its weights ``B[j, i]``, how much having j adds to i's score (:class:`EaseRelations`);
- item-kNN: its neighbour similarities (:class:`KnnRelations`);
- a model without any (popular): co-occurrence counts in a history matrix (:class:`Relations`).

The service explains a recommendation with them and answers "similar items".
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailwise.ranking import normalise_rows, top_k


class Relations:
    """Item-to-item affinity: the base class scores by co-occurrence in the history."""

    def __init__(self, history: sp.csr_matrix) -> None:
        self.cols = sp.csc_matrix(history, dtype=np.float32)

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """[len(sources), len(targets)] affinity of each source item to each target item."""
        return np.asarray((self.cols[:, sources].T @ self.cols[:, targets]).toarray(), dtype=np.float32)

    def row(self, item: int) -> np.ndarray:
        """Affinity of one item to every item (its own entry is not masked)."""
        users = self.cols[:, [item]].nonzero()[0]
        return np.asarray(self.cols[users].sum(axis=0), dtype=np.float32).ravel()

    def similar(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k items most like `item` (itself excluded) and their affinities, best first."""
        scores = self.row(item).astype(np.float32, copy=True)
        scores[item] = -np.inf
        idx, val = top_k(scores[None, :], k)
        keep = idx[0] >= 0
        return idx[0][keep], val[0][keep]


class VectorRelations(Relations):
    """Cosine between item vectors."""

    def __init__(self, vectors: np.ndarray) -> None:
        self.vectors = normalise_rows(vectors)

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return self.vectors[sources] @ self.vectors[targets].T

    def row(self, item: int) -> np.ndarray:
        return self.vectors @ self.vectors[item]


class EaseRelations(Relations):
    """EASE's weights between its active items; other items relate to nothing."""

    def __init__(self, weights: np.ndarray, active: np.ndarray, n_items: int) -> None:
        self.weights = weights
        self.active = np.asarray(active, dtype=np.int64)
        self.pos = np.full(n_items, -1, dtype=np.int64)
        self.pos[self.active] = np.arange(len(self.active))

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        out = np.zeros((len(sources), len(targets)), dtype=np.float32)
        ps, pt = self.pos[sources], self.pos[targets]
        rs, ct = np.flatnonzero(ps >= 0), np.flatnonzero(pt >= 0)
        out[np.ix_(rs, ct)] = self.weights[np.ix_(ps[rs], pt[ct])]
        return out

    def row(self, item: int) -> np.ndarray:
        out = np.zeros(len(self.pos), dtype=np.float32)
        if self.pos[item] >= 0:
            out[self.active] = self.weights[self.pos[item]]
        return out


class KnnRelations(Relations):
    """Item-kNN's sparse neighbour similarities."""

    def __init__(self, sim: sp.csr_matrix) -> None:
        self.sim = sim

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return np.asarray(self.sim[sources][:, targets].toarray(), dtype=np.float32)

    def row(self, item: int) -> np.ndarray:
        return np.asarray(self.sim[item].toarray(), dtype=np.float32).ravel()
