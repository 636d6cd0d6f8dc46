"""EASE: Embarrassingly Shallow Autoencoder (Steck, WWW 2019), closed form in float32."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.linalg import blas, lapack

from tailwise.data.dataset import Dataset
from tailwise.models.base import Recommender
from tailwise.models.ease_weights import pack_weights, packable, unpack_weights
from tailwise.models.params import BIG, Real, rules
from tailwise.models.relations import EaseRelations
from tailwise.models.state import StateCheck

#: the Gram matrix and the symmetrised inverse are built in this many blocks of rows, so their
#: temporaries stay about 1/32 of the dense matrix
BLOCKS = 32


#: the arrays that store the weights packed (:mod:`tailwise.models.ease_weights`)
PACKED = ("weights_upper_", "weights_lower_ulps_", "inverse_diag_")

#: what a fit needs besides its arrays: LAPACK's and BLAS's work space, first-call buffers
WORKSPACE = 8 * 10**6


def active_items(train: sp.csr_matrix) -> np.ndarray:
    """Indices of the items (columns of `train`) with training interactions."""
    return np.flatnonzero(np.bincount(train.indices, minlength=train.shape[1]) > 0)


def ease_bytes(n_active: int, nnz: int = 0) -> int:
    """Bytes an EASE fit on `n_active` items with interactions needs at its peak (and `nnz`
    interactions, when known: the fit's sparse copies of them).

    The fit holds one dense float32 ``n_active x n_active`` matrix (the Gram matrix, factorised,
    inverted and turned into the weights in place) plus temporaries of one block of rows
    (:data:`BLOCKS`): the sparse block of ``X^T X`` (up to 8 bytes per entry) and its dense
    copy, and the copies the state check and the symmetrisation make; and :data:`WORKSPACE`.
    Checked against measured peaks in ``bench/memory_estimates.py``.

    >>> round(ease_bytes(98_640) / 1e9, 1)  # 38.9 GB of them the matrix
    43.8
    """
    n = int(n_active)
    block = _block(n)
    return 4 * n * n + 16 * n * block + 16 * int(nnz) + 8 * n + WORKSPACE


def _block(n: int) -> int:
    return max(1, -(-n // BLOCKS))


def item_gram(train: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """The items with training interactions and their dense float32 Gram matrix ``X_a^T X_a``.

    The matrix is built in blocks of rows (so no sparse copy of the whole product is held) and
    comes back Fortran-ordered, as LAPACK takes it in place (it is symmetric).

    >>> active, gram = item_gram(sp.csr_matrix(np.array([[1, 0, 1], [1, 0, 0]], np.float32)))
    >>> active.tolist(), gram.tolist()
    ([0, 2], [[2.0, 1.0], [1.0, 1.0]])
    """
    active = active_items(train)
    x = sp.csr_matrix(
        train if len(active) == train.shape[1] else train[:, active], dtype=np.float32
    )
    xt = x.T.tocsr()
    n = len(active)
    gram = np.empty((n, n), dtype=np.float32)
    block = _block(n)
    for start in range(0, n, block):
        gram[start : start + block] = (xt[start : start + block] @ x).toarray()
    return active, gram.T  # symmetric: the transpose is the same matrix, in Fortran order


def _symmetrise_upper(a: np.ndarray) -> None:
    """Copy the upper triangle of the square matrix `a` into its lower one, in place, a block
    of columns at a time (``np.triu(a) + np.triu(a, 1).T`` would hold three more matrices)."""
    n = a.shape[0]
    block = _block(n)
    for start in range(0, n, block):
        stop = min(start + block, n)
        a[stop:, start:stop] = a[start:stop, stop:].T  # below the diagonal block
        d = a[start:stop, start:stop]
        lower = np.tril_indices(stop - start, -1)
        d[lower] = d.T[lower]


class EASE(Recommender):
    """Item-item weights B from the closed form of a ridge autoencoder with a zero diagonal.

    With Gram matrix ``G = X^T X + Lambda`` and ``P = G^{-1}``, the weights are
    ``B_ij = -P_ij / P_jj`` for ``i != j`` and ``B_jj = 0``; a user's scores are ``x_u B``.
    The penalty is diagonal, ``Lambda_jj = l2 + l2_item * n_j`` with ``n_j = (X^T X)_jj`` the
    item's training interactions: ``l2_item = 0`` is the paper's ``lambda I``; ``l2_item > 0``
    adds the penalty that dropout on the input gives (Steck, "Autoencoders that don't overfit
    towards the identity", NeurIPS 2020: ``p / (1 - p) diag(X^T X)`` for dropout rate ``p``),
    which shrinks a popular item's weights as much as a rare one's relative to its evidence.
    The inverse uses a Cholesky factorisation in float32 (``spotrf``/``spotri``). Only items with
    training interactions take part (an item without any has an all-zero row and column of B),
    so memory is about one ``n_active^2`` float32 matrix (:func:`ease_bytes`; a fit above the
    memory budget is refused before it starts) and time O(n_active^3).

    Parameters
    ----------
    l2 : float
        The ridge penalty lambda (default 500; the paper tunes 200-1000 on MovieLens).
    l2_item : float
        Penalty per training interaction of the item, added to ``l2`` (default 0: the plain
        ``lambda I``; ``p / (1 - p)`` is dropout at rate ``p``).
    """

    name = "ease"
    param_rules = rules(l2=Real(0, BIG, low_open=True), l2_item=Real(0, BIG))
    _state_keys = ("weights_", "active_")
    instead = "--model hybrid (it switches to a factor backbone) or --model als"

    def __init__(self, l2: float = 500.0, l2_item: float = 0.0) -> None:
        self.l2 = l2
        self.l2_item = l2_item

    def memory_estimate(self, dataset: Dataset) -> int:
        """Peak bytes of the fit: :func:`ease_bytes` of the items with interactions."""
        train = dataset.matrix()
        return ease_bytes(len(active_items(train)), train.nnz)

    def _memory_what(self, dataset: Dataset) -> str:
        n = len(active_items(dataset.matrix()))
        return f"for {n:,} items with interactions (a dense items x items matrix)"

    def _fit(self, train: sp.csr_matrix, dataset: Dataset) -> None:
        self.fit_gram(*item_gram(train))

    def fit_gram(self, active: np.ndarray, gram: np.ndarray, side: np.ndarray | None = None, side_weight: float = 0.0) -> None:
        """Fit from the Gram matrix of the active items (see :func:`item_gram`); `gram` is
        overwritten (in place when it is Fortran-ordered float32, as :func:`item_gram` gives
        it). The hybrid shares one Gram matrix between EASE and its adapter this way.

        `side` [active items, d] (rows of unit length) adds side information as
        ``side_weight`` extra users per row's direction, ``G + side_weight * S S^T`` (collective
        EASE, Jeunen et al. 2020): items alike in `side` are treated as co-consumed. The
        penalty still follows the interactions alone."""
        self.active_ = active
        on_diag = np.diag_indices_from(gram)  # the items' interactions, for a binary X
        penalty = np.float32(self.l2) + np.float32(self.l2_item) * gram[on_diag]
        if side is not None and side_weight > 0:  # the upper triangle, in place: what spotrf reads
            gram = blas.ssyrk(np.float32(side_weight), np.asarray(side, np.float32), beta=1.0, c=gram, lower=0, overwrite_c=1)
        gram[on_diag] += penalty
        chol, info = lapack.spotrf(gram, lower=False, overwrite_a=True, clean=False)
        if info != 0:
            raise np.linalg.LinAlgError(f"Cholesky factorisation failed (info={info})")
        inv, info = lapack.spotri(chol, lower=False, overwrite_c=True)
        if info != 0:
            raise np.linalg.LinAlgError(f"Cholesky inverse failed (info={info})")
        _symmetrise_upper(inv)  # spotri fills the upper triangle only
        inv = inv.T  # the same symmetric matrix, in C order for scoring
        diag = np.diag(inv).copy()
        inv /= -diag[np.newaxis, :]
        inv[np.diag_indices_from(inv)] = 0.0
        self.weights_ = inv
        self.inverse_diag_ = diag  # what stores the weights in half the bytes (get_state)

    def _score(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        scores = np.zeros((rows.shape[0], self.n_items_), dtype=np.float32)
        scores[:, self.active_] = rows[:, self.active_] @ self.weights_
        return scores

    def _check_state(self, check: StateCheck) -> None:
        check.shape("active_", "active")
        check.shape("weights_", "active", "active")
        check.indices("active_", self.n_items_)
        if hasattr(self, "inverse_diag_"):  # absent in models loaded from older directories
            check.state["inverse_diag_"] = self.inverse_diag_
            check.shape("inverse_diag_", "active")

    def get_state(self) -> dict[str, np.ndarray]:
        """The fitted arrays, with the weights as one triangle plus the other's last bits
        (:mod:`tailwise.models.ease_weights`), or dense where that cannot be done (a model
        loaded from a directory that stored them dense has no ``inverse_diag_``)."""
        state = super().get_state()
        diag = getattr(self, "inverse_diag_", None)
        if packable(state["weights_"], diag):
            upper, ulps = pack_weights(state.pop("weights_"), diag)
            state.update(weights_upper_=upper, weights_lower_ulps_=ulps, inverse_diag_=np.asarray(diag))
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> EASE:
        """Restore arrays saved by :meth:`get_state`: the weights packed or dense (as
        directories written before the packing hold them)."""
        state = dict(state)
        if any(key in state for key in PACKED):
            missing = [key for key in PACKED if key not in state]
            if missing:
                raise ValueError(f"the array {missing[0]!r} is missing (the packed weights need {', '.join(map(repr, PACKED))})")
            upper, ulps = state.pop("weights_upper_"), state.pop("weights_lower_ulps_")
            state["weights_"] = unpack_weights(upper, ulps, state["inverse_diag_"])
        super().set_state(state)
        return self

    def item_relations(self) -> EaseRelations:
        self._check_fitted()
        return EaseRelations(self.weights_, self.active_, int(self.n_items_))
