"""EASE: Embarrassingly Shallow Autoencoder (Steck, WWW 2019), closed form in float32."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import lapack

from tailwise.data.dataset import Dataset
from tailwise.models.base import Recommender
from tailwise.models.params import BIG, Real, rules
from tailwise.models.relations import EaseRelations
from tailwise.models.state import StateCheck


def item_gram(train: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """The items with training interactions and their dense float32 Gram matrix ``X_a^T X_a``.

    >>> active, gram = item_gram(sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 0]], np.float32)))
    >>> active.tolist(), gram.tolist()
    ([0, 2], [[2.0, 1.0], [1.0, 1.0]])
    """
    active = np.flatnonzero(np.diff(train.tocsc().indptr) > 0)
    x = train[:, active]
    return active, (x.T @ x).toarray().astype(np.float32, copy=False)


class EASE(Recommender):
    """Item-item weights B from the closed form of a ridge autoencoder with a zero diagonal.

    With Gram matrix ``G = X^T X + lambda I`` and ``P = G^{-1}``, the weights are
    ``B_ij = -P_ij / P_jj`` for ``i != j`` and ``B_jj = 0``; a user's scores are ``x_u B``.
    The inverse uses a Cholesky factorisation in float32 (``spotrf``/``spotri``). Only items with
    training interactions take part (an item without any has an all-zero row and column of B),
    so memory is about two ``n_active^2`` float32 matrices and time O(n_active^3).

    Parameters
    ----------
    l2 : float
        The ridge penalty lambda (default 500; the paper tunes 200-1000 on MovieLens).
    """

    name = "ease"
    param_rules = rules(l2=Real(0, BIG, low_open=True))
    _state_keys = ("weights_", "active_")

    def __init__(self, l2: float = 500.0) -> None:
        self.l2 = l2

    def _fit(self, train: sp.csr_matrix, dataset: Dataset) -> None:
        self.fit_gram(*item_gram(train))

    def fit_gram(self, active: np.ndarray, gram: np.ndarray) -> None:
        """Fit from the Gram matrix of the active items (see :func:`item_gram`); `gram` is
        overwritten. The hybrid shares one Gram matrix between EASE and its adapter this way."""
        self.active_ = active
        gram[np.diag_indices_from(gram)] += np.float32(self.l2)
        chol, info = lapack.spotrf(gram, lower=False, overwrite_a=True, clean=False)
        if info != 0:
            raise np.linalg.LinAlgError(f"Cholesky factorisation failed (info={info})")
        inv, info = lapack.spotri(chol, lower=False, overwrite_c=True)
        if info != 0:
            raise np.linalg.LinAlgError(f"Cholesky inverse failed (info={info})")
        inv = np.triu(inv) + np.triu(inv, 1).T  # spotri fills the upper triangle only
        diag = np.diag(inv).copy()
        inv /= -diag[np.newaxis, :]
        inv[np.diag_indices_from(inv)] = 0.0
        self.weights_ = inv

    def _score(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        scores = np.zeros((rows.shape[0], self.n_items_), dtype=np.float32)
        scores[:, self.active_] = rows[:, self.active_] @ self.weights_
        return scores

    def _check_state(self, check: StateCheck) -> None:
        check.shape("active_", "active")
        check.shape("weights_", "active", "active")
        check.indices("active_", self.n_items_)

    def item_relations(self) -> EaseRelations:
        self._check_fitted()
        return EaseRelations(self.weights_, self.active_, int(self.n_items_))
