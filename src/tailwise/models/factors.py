"""Matrix-factorisation models through the `implicit` library: ALS and BPR.

Fitting needs the ``implicit`` extra; scoring a saved model needs only NumPy, because the
factors are stored as arrays. Users the model has not seen are folded in from their history.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from tailwise._compat import require
from tailwise.data.dataset import Dataset
from tailwise.models.base import Recommender
from tailwise.models.params import BIG, MAX_DIM, MAX_SEED, Int, Real, rules
from tailwise.models.relations import VectorRelations
from tailwise.models.state import StateCheck


class _FactorModel(Recommender):
    """Scores ``s_ui = p_u . q_i`` from user and item factors."""

    _state_keys = ("user_factors_", "item_factors_")
    #: not a parameter: when set, called after every fitting epoch as
    #: ``epoch_hook(epoch, user_factors, item_factors)`` with the factors so far (``tailwise tune``
    #: scores them on its validation users to prune weak trials early); it may raise to stop
    epoch_hook: Callable[[int, np.ndarray, np.ndarray], None] | None = None

    def _make(self, implicit):  # pragma: no cover - overridden
        raise NotImplementedError

    def _fit(self, train: sp.csr_matrix, dataset: Dataset) -> None:
        implicit = require("implicit.cpu.als", f"The {self.name} model")
        # implicit parallelises with its own threads; BLAS threads on top only contend
        with threadpool_limits(limits=1, user_api="blas"):
            model = self._make(implicit)
            hook = self.epoch_hook
            callback = None if hook is None else (lambda epoch, *_: hook(epoch, model.user_factors, model.item_factors))
            model.fit(sp.csr_matrix(train, dtype=np.float32), show_progress=False, callback=callback)
        self.user_factors_ = np.asarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.asarray(model.item_factors, dtype=np.float32)

    def _fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        raise NotImplementedError

    def _check_state(self, check: StateCheck) -> None:
        check.shape("user_factors_", "users", "factors")
        check.shape("item_factors_", "items", "factors")

    def _score(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        return self.user_factors(users, rows) @ self.item_factors_.T

    def user_factors(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        """User vectors float32 [len(users), d] with ``scores = user_factors @ item_factors().T``.

        Known users get their fitted factors, the others are folded in from their `rows`.
        """
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        known = (users >= 0) & (users < len(self.user_factors_))
        vecs = np.empty((len(users), self.item_factors_.shape[1]), dtype=np.float32)
        vecs[known] = self.user_factors_[users[known]]
        if (~known).any():
            vecs[~known] = self._fold_in(sp.csr_matrix(rows)[np.flatnonzero(~known)])
        return vecs

    def item_factors(self) -> np.ndarray:
        """Item vectors float32 [n_items, d] (the fitted array itself, not a copy)."""
        self._check_fitted()
        return self.item_factors_

    def item_relations(self) -> VectorRelations:
        return VectorRelations(self.item_factors_)


class ALS(_FactorModel):
    """Implicit-feedback ALS (Hu, Koren & Volinsky 2008) via ``implicit``.

    Confidence is ``1 + alpha * x_ui``; unknown users get the exact ALS fold-in
    ``p_u = (Q^T C_u Q + reg I)^{-1} Q^T C_u 1``.

    Parameters
    ----------
    factors : int
        Latent dimensions (default 64).
    regularization : float
        L2 penalty (default 1.0).
    alpha : float
        Confidence scaling of positive entries (default 5.0).
    iterations : int
        ALS sweeps (default 15).
    random_state : int
        Seed of the factor initialisation.
    """

    name = "als"
    param_rules = rules(
        factors=Int(1, MAX_DIM), regularization=Real(0, BIG), alpha=Real(0, BIG, low_open=True),
        iterations=Int(1, 100_000), random_state=Int(0, MAX_SEED),
    )  # fmt: skip

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 1.0,
        alpha: float = 5.0,
        iterations: int = 15,
        random_state: int = 42,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.random_state = random_state

    def _make(self, implicit):
        return implicit.AlternatingLeastSquares(
            factors=self.factors,
            regularization=self.regularization,
            alpha=self.alpha,
            iterations=self.iterations,
            random_state=self.random_state,
        )

    def _fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        q = self.item_factors_.astype(np.float64)
        qtq = q.T @ q
        reg = self.regularization * np.eye(q.shape[1])
        out = np.zeros((rows.shape[0], q.shape[1]), dtype=np.float32)
        for r in range(rows.shape[0]):
            idx = rows.indices[rows.indptr[r] : rows.indptr[r + 1]]
            if len(idx) == 0:
                continue
            conf = 1.0 + self.alpha * rows.data[rows.indptr[r] : rows.indptr[r + 1]]
            qi = q[idx]
            a = qtq + (qi.T * (conf - 1.0)) @ qi + reg
            out[r] = np.linalg.solve(a, qi.T @ conf)
        return out


class BPR(_FactorModel):
    """Bayesian Personalised Ranking (Rendle et al. 2009) via ``implicit``.

    implicit appends a bias column to the item factors (and a constant 1 to user factors), so
    the stored factors score directly. Unknown users get the mean factor of their history items
    with the constant column set to 1.

    Parameters
    ----------
    factors : int
        Latent dimensions (default 64).
    learning_rate : float
        SGD step size (default 0.01).
    regularization : float
        L2 penalty (default 0.01).
    iterations : int
        Epochs (default 100).
    random_state : int
        Seed of initialisation and sampling.
    num_threads : int
        SGD threads (default 1, which makes fits reproducible; 0 = all cores, faster but
        lock-free updates make results vary from run to run).
    """

    name = "bpr"
    param_rules = rules(
        factors=Int(1, MAX_DIM), learning_rate=Real(0, BIG, low_open=True), regularization=Real(0, BIG),
        iterations=Int(1, 100_000), random_state=Int(0, MAX_SEED), num_threads=Int(0, 4096),
    )  # fmt: skip

    def __init__(
        self,
        factors: int = 64,
        learning_rate: float = 0.01,
        regularization: float = 0.01,
        iterations: int = 100,
        random_state: int = 42,
        num_threads: int = 1,
    ) -> None:
        self.factors = factors
        self.learning_rate = learning_rate
        self.regularization = regularization
        self.iterations = iterations
        self.random_state = random_state
        self.num_threads = num_threads

    def _make(self, implicit):
        bpr = require("implicit.cpu.bpr", "The bpr model")
        return bpr.BayesianPersonalizedRanking(
            factors=self.factors,
            learning_rate=self.learning_rate,
            regularization=self.regularization,
            iterations=self.iterations,
            random_state=self.random_state,
            num_threads=self.num_threads,
        )

    def _fold_in(self, rows: sp.csr_matrix) -> np.ndarray:
        counts = np.maximum(np.diff(rows.indptr), 1).astype(np.float32)[:, None]
        binary = sp.csr_matrix((np.ones_like(rows.data), rows.indices, rows.indptr), rows.shape)
        vecs = np.asarray(binary @ self.item_factors_) / counts
        vecs[:, -1] = 1.0
        return vecs.astype(np.float32)
