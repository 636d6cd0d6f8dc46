"""The recommender contract every model follows.

A model is fit on a :class:`~tailwise.data.Dataset` and scores users from their rows of the
user-item matrix (so users can be folded in without refitting). ``recommend`` is shared: it
batches users, removes seen items, applies an optional candidate whitelist and takes the top-k.
Fitted state is a dict of NumPy arrays plus the init parameters, so models save without pickle.
"""

from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import scipy.sparse as sp

from tailwise.data.dataset import Dataset
from tailwise.errors import NotFittedError, TailwiseError

if TYPE_CHECKING:
    from tailwise.rerank import RerankContext, Reranker

log = logging.getLogger(__name__)


class ColdStartError(TailwiseError, TypeError):
    """The model cannot score items it knows only by their text (it has no text side)."""


@dataclass(frozen=True)
class Recommendations:
    """Top-k lists for a batch of users: item indices and scores, ``-1`` / ``-inf`` padded.

    Rows are users in the order asked; columns are ranks 1..k. A row is padded when fewer than
    k items are recommendable (small catalogue, strict whitelist).
    """

    items: np.ndarray  # int64 [n_users, k]
    scores: np.ndarray  # float32 [n_users, k]

    def __len__(self) -> int:
        return len(self.items)


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the k largest scores per row, best first; ``-inf`` becomes ``-1``.

    Ties are broken by the lower item index, so results are deterministic.

    Examples
    --------
    >>> idx, val = top_k(np.array([[0.25, 0.75, 0.5], [1.0, -np.inf, 1.0]]), 2)
    >>> idx.tolist(), val.tolist()
    ([[1, 2], [0, 2]], [[0.75, 0.5], [1.0, 1.0]])
    >>> top_k(np.array([[0.5, -np.inf]]), 3)[0].tolist()  # padded when too few items
    [[0, -1, -1]]
    """
    n, m = scores.shape
    k_eff = min(k, m)
    if k_eff < m:
        part = np.argpartition(-scores, k_eff - 1, axis=1)[:, :k_eff]
    else:
        part = np.tile(np.arange(m), (n, 1))
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.lexsort((part, -vals), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    vals = np.take_along_axis(vals, order, axis=1)
    if k_eff < m:  # argpartition may split ties arbitrarily at the boundary: settle them
        idx, vals = _settle_boundary_ties(scores, idx, vals)
    idx = np.where(np.isneginf(vals), -1, idx)
    if k_eff < k:
        idx = np.pad(idx, ((0, 0), (0, k - k_eff)), constant_values=-1)
        vals = np.pad(vals, ((0, 0), (0, k - k_eff)), constant_values=-np.inf)
    return idx.astype(np.int64), vals.astype(np.float32)


def _settle_boundary_ties(scores, idx, vals):
    last = vals[:, -1:]
    rows = np.flatnonzero((scores == last).sum(axis=1) > (vals == last).sum(axis=1))
    for r in rows:  # rare: only rows whose k-th score is tied with an item left out
        order = np.lexsort((np.arange(scores.shape[1]), -scores[r]))[: idx.shape[1]]
        idx[r], vals[r] = order, scores[r, order]
    return idx, vals


class Recommender:
    """Base class: subclasses set ``name`` and implement ``_fit`` and ``_score``.

    Following scikit-learn, ``__init__`` only stores parameters, ``fit`` returns ``self`` and
    fitted attributes end in ``_``. Subclasses list their fitted arrays in ``_state_keys``.
    """

    name: ClassVar[str] = "base"
    _state_keys: ClassVar[tuple[str, ...]] = ()

    # ------------------------------------------------------------------ to implement
    def _fit(self, train: sp.csr_matrix, dataset: Dataset) -> None:
        raise NotImplementedError

    def _score(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        """Dense float32 scores [len(users), n_items] for users given by index and history rows."""
        raise NotImplementedError

    # ------------------------------------------------------------------ shared
    def fit(self, dataset: Dataset) -> Recommender:
        """Fit on the binary user-item matrix of `dataset`; returns self."""
        self.n_items_ = dataset.n_items
        self.n_users_ = dataset.n_users
        self._fit(dataset.matrix(), dataset)
        return self

    def get_params(self) -> dict[str, object]:
        """The init parameters, read from the signature (one source of truth)."""
        sig = inspect.signature(type(self).__init__)
        return {p: getattr(self, p) for p in sig.parameters if p != "self"}

    def _check_fitted(self) -> None:
        if not hasattr(self, "n_items_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit(dataset) first")

    def recommend(
        self,
        users: np.ndarray,
        user_items: sp.csr_matrix,
        k: int = 10,
        exclude_seen: bool = True,
        candidates: np.ndarray | None = None,
        batch_size: int = 1024,
        rerank: Reranker | None = None,
        rerank_ctx: RerankContext | None = None,
        n_candidates: int = 300,
    ) -> Recommendations:
        """Top-k items for each user.

        Without `rerank` the model's own top-k is returned. With a re-ranker, recommending has
        two stages: each user's top `n_candidates` items by score are the candidates, and the
        re-ranker picks the final k from them (instead of the model's own list shaping, such as
        the hybrid's tail slots).

        Parameters
        ----------
        users : int array
            User indices; a user unknown to the model (index ``>= n_users_`` or ``-1``) is scored
            from its row of `user_items` alone where the model supports it.
        user_items : csr_matrix [len(users), n_items]
            One row per user in `users`: the history to score from and, when `exclude_seen`,
            the items never to recommend.
        candidates : int array, optional
            Whitelist: only these items may be recommended.
        rerank : Reranker, optional
            Second stage (see :mod:`tailwise.rerank`); needs `rerank_ctx`.
        rerank_ctx : RerankContext, optional
            Item popularity, tail mask and item vectors the re-ranker uses.
        n_candidates : int
            Candidates per user handed to the re-ranker (default 300; at least k are used).
        """
        self._check_fitted()
        users = np.asarray(users, dtype=np.int64)
        if user_items.shape != (len(users), self.n_items_):
            raise ValueError(
                f"user_items must have shape ({len(users)}, {self.n_items_}), not {user_items.shape}"
            )
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        if rerank is not None and rerank_ctx is None:
            raise ValueError("rerank needs rerank_ctx, a tailwise.rerank.RerankContext")
        n_first = max(k, n_candidates) if rerank is not None else k
        user_items = sp.csr_matrix(user_items)
        allowed = None
        if candidates is not None:
            allowed = np.zeros(self.n_items_, dtype=bool)
            allowed[np.asarray(candidates, dtype=np.int64)] = True
        out_items, out_scores = [], []
        for start in range(0, len(users), batch_size):
            sl = slice(start, start + batch_size)
            rows = user_items[sl]
            scores = np.array(self._score(users[sl], rows), dtype=np.float32, copy=True)
            if exclude_seen:
                r, c = rows.nonzero()
                scores[r, c] = -np.inf
            if allowed is not None:
                scores[:, ~allowed] = -np.inf
            if rerank is None:
                idx, val = self._select(scores, rows, k)
            else:  # the top-N by score are the candidates; the re-ranker shapes the list
                idx, val = top_k(scores, n_first)
                idx, val = rerank.rerank(idx, val, rows, k, rerank_ctx)
            out_items.append(idx)
            out_scores.append(val)
        if not out_items:
            return Recommendations(np.empty((0, k), np.int64), np.empty((0, k), np.float32))
        return Recommendations(np.vstack(out_items), np.vstack(out_scores))

    def _select(self, scores: np.ndarray, rows: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Pick each row's list from masked scores; models that shape lists override this."""
        return top_k(scores, k)

    # ------------------------------------------------------------------ new items (cold start)
    def add_items(self, texts: list[str]) -> None:
        """Append items known only by their text; they get indices ``n_items_ ..`` in order.

        Text-aware models override this and score the new items at once from their text.
        Overrides rebind attributes to new arrays and never write into fitted arrays, so a
        shallow copy (``copy.copy(model)``) can grow while the original keeps serving.

        Raises
        ------
        ColdStartError
            Here, for models that learn items only from interactions.
        """
        raise ColdStartError(
            f"the {self.name} model cannot score new items: it learns items only from their "
            "interactions. Refit once they have some (tailwise retrain), or use a text-aware "
            "model (content, adapter, hybrid, twotower)"
        )

    def update_item_texts(self, indices: np.ndarray, texts: list[str]) -> None:
        """Re-read the text of existing items (interactions are kept); like :meth:`add_items`
        it rebinds attributes. Models that do not read text have nothing to update."""

    # ------------------------------------------------------------------ state for artifacts
    def get_state(self) -> dict[str, np.ndarray]:
        """Fitted arrays by name (what a model directory stores)."""
        self._check_fitted()
        state = {key: np.asarray(getattr(self, key)) for key in self._state_keys}
        state["n_items_"] = np.asarray(self.n_items_)
        state["n_users_"] = np.asarray(self.n_users_)
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> Recommender:
        """Restore fitted arrays saved by :meth:`get_state`."""
        for key, value in state.items():
            setattr(self, key, value.item() if value.ndim == 0 else value)
        return self
