"""Most-popular baseline: every user gets the items with the most training interactions."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailwise.data.dataset import Dataset
from tailwise.models.base import Recommender
from tailwise.models.state import StateCheck


class Popular(Recommender):
    """Scores each item by its number of distinct training users (the same list for everyone).

    It is also the fallback for users the model has never seen.
    """

    name = "popular"
    _state_keys = ("item_counts_",)

    def __init__(self) -> None:
        pass

    def _fit(self, train: sp.csr_matrix, dataset: Dataset) -> None:
        self.item_counts_ = np.asarray(dataset.item_counts, dtype=np.float32)

    def _check_state(self, check: StateCheck) -> None:
        check.shape("item_counts_", "items")

    def _score(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        return np.broadcast_to(self.item_counts_, (len(users), self.n_items_))
