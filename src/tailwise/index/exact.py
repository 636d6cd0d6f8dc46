"""Exact maximum-inner-product search: every item is scored, NumPy only.

On a catalogue that fits one block this is the very computation of
:meth:`tailwise.models.base.Recommender.recommend` for a factor model, so the two give the same
lists. Larger catalogues and batches are scanned in blocks of :data:`~tailwise.index.base.SCAN_BUDGET`
scores, so memory stays bounded.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailwise.index.base import VectorIndex


class ExactIndex(VectorIndex):
    """Brute-force inner-product search over the item vectors.

    Examples
    --------
    >>> index = ExactIndex().build(np.eye(3, dtype=np.float32))
    >>> items, scores = index.search(np.array([[0.25, 0.75, 0.5]]), k=2)
    >>> items.tolist(), scores.tolist()
    ([[1, 2]], [[0.75, 0.5]])
    """

    kind = "exact"

    def __init__(self) -> None:
        self._vectors = np.zeros((0, 0), dtype=np.float32)

    @property
    def n_items(self) -> int:
        return len(self._vectors)

    @property
    def dim(self) -> int:
        return self._vectors.shape[1]

    def vectors(self, start: int = 0, stop: int | None = None) -> np.ndarray:
        return self._vectors[start:stop]

    def take(self, ids: np.ndarray) -> np.ndarray:
        return self._vectors[ids]

    def _build(self, vectors: np.ndarray) -> None:
        self._vectors = vectors

    def _add(self, vectors: np.ndarray) -> None:
        self._vectors = np.vstack([self._vectors, vectors])

    def _update(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        new = self._vectors.copy()  # the array may be the model's own: never write into it
        new[ids] = vectors
        self._vectors = new

    def sync(self, item_vectors: np.ndarray) -> None:
        """Use the model's current item vectors as they are (no copy)."""
        with self._guard:
            self._vectors = np.ascontiguousarray(item_vectors, dtype=np.float32)

    def _search(
        self, queries: np.ndarray, k: int, exclude: sp.csr_matrix | None, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        return self.scan(queries, k, exclude, allowed)

    def _params(self) -> dict[str, object]:
        return {}

    def _state(self) -> dict[str, np.ndarray]:
        return {"vectors": self._vectors}

    def _restore(self, state: dict[str, np.ndarray]) -> None:
        self._vectors = np.ascontiguousarray(state["vectors"], dtype=np.float32)
