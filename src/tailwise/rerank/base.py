"""The re-ranking contract: a second stage over each user's top-N candidates.

A :class:`Reranker` receives every user's candidate list (best first, ``-1`` padded) with the
model's scores, the users' histories and a :class:`RerankContext` (item popularity, the tail
mask, item vectors), and returns the final top-k. Re-rankers are vectorised over users: a greedy
selection is ``k`` steps, each a NumPy operation over the whole ``[n_users, N]`` batch.

One knob, ``tail_weight`` in ``[0, 1]``, drives every re-ranker (0 = no re-ranking); each
re-ranker documents how it maps the knob onto its own parameter.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import ClassVar

import numpy as np
import scipy.sparse as sp

from tailwise.data.popularity import tail_mask
from tailwise.ranking import normalise_rows
from tailwise.rerank.vectors import svd_item_vectors

log = logging.getLogger(__name__)


class RerankContext:
    """What re-rankers know about the catalogue: popularity, the tail, item vectors.

    Parameters
    ----------
    item_pop : array [n_items]
        Training interactions per item.
    tail : bool array [n_items]
        Tail items (see :func:`tailwise.data.popularity.tail_mask`).
    item_vectors : array [n_items, d], optional
        Item vectors for similarity-based re-rankers (MMR); rows are L2-normalised here.
    loader : callable, optional
        Called once, on first use, when `item_vectors` is None and a re-ranker needs vectors
        (so a context costs nothing until MMR asks for them).
    """

    def __init__(
        self,
        item_pop: np.ndarray,
        tail: np.ndarray,
        item_vectors: np.ndarray | None = None,
        loader: Callable[[], np.ndarray] | None = None,
    ) -> None:
        self.item_pop = np.asarray(item_pop, dtype=np.float64)
        self.tail = np.asarray(tail, dtype=bool)
        if self.tail.shape != self.item_pop.shape:
            raise ValueError(f"tail has shape {self.tail.shape}, item_pop {self.item_pop.shape}")
        self._vectors = None if item_vectors is None else normalise_rows(item_vectors)
        self._loader = loader
        self._groups: np.ndarray | None = None

    @classmethod
    def from_history(
        cls,
        history: sp.csr_matrix,
        head_share: float = 0.2,
        item_vectors: np.ndarray | None = None,
    ) -> RerankContext:
        """Context from the training user-item matrix: popularity = interactions per item.

        Without `item_vectors`, MMR gets the SVD item vectors of `history`
        (:func:`svd_item_vectors`), computed on first use.
        """
        history = sp.csr_matrix(history)
        item_pop = np.asarray((history > 0).sum(axis=0), dtype=np.float64).ravel()
        return cls(item_pop, tail_mask(item_pop, head_share), item_vectors, loader=lambda: svd_item_vectors(history))

    def tail_for(self, head_share: float | None = None) -> np.ndarray:
        """The tail mask for another head share (None or the context's own: :attr:`tail`);
        computed once per share."""
        if head_share is None:
            return self.tail
        cache = self.__dict__.setdefault("_tails", {})
        if head_share not in cache:
            cache[head_share] = tail_mask(self.item_pop, head_share)
        return cache[head_share]

    @property
    def item_vectors(self) -> np.ndarray | None:
        """The L2-normalised item vectors: given at construction or loaded by :meth:`vectors`;
        None until then (so ``item_vectors is not None`` tells whether they are loaded)."""
        return self._vectors

    @property
    def n_items(self) -> int:
        return len(self.item_pop)

    def vectors(self) -> np.ndarray:
        """L2-normalised item vectors ``[n_items, d]``, loading them on first use."""
        if self._vectors is None:
            if self._loader is None:
                raise ValueError("this re-ranker needs item vectors; build the RerankContext with item_vectors")
            self._vectors = normalise_rows(self._loader())
        if len(self._vectors) != self.n_items:
            raise ValueError(f"item_vectors has {len(self._vectors)} rows for {self.n_items} items")
        return self._vectors

    def groups(self) -> np.ndarray:
        """Popularity group per item: 0 head, 1 mid, 2 tail (Abdollahpouri et al. 2021).

        Head is the context's head (``~tail``). The tail items are split by interaction mass:
        the most popular ones holding half of the tail's interactions are *mid*, the rest (the
        far tail, including items without interactions) stay *tail*.

        Examples
        --------
        >>> ctx = RerankContext(np.array([50, 9, 6, 3, 1, 0]), np.array([0, 1, 1, 1, 1, 1], bool))
        >>> ctx.groups().tolist()
        [0, 1, 1, 2, 2, 2]
        """
        if self._groups is None:
            groups = np.where(self.tail, 2, 0).astype(np.int8)
            idx = np.flatnonzero(self.tail)
            if len(idx):
                order = idx[np.lexsort((idx, -self.item_pop[idx]))]
                mass = np.cumsum(self.item_pop[order])
                total = mass[-1] if len(mass) else 0.0
                if total > 0:  # an item is mid while the mass before it is under half
                    groups[order[(mass - self.item_pop[order]) < 0.5 * total]] = 1
            self._groups = groups
        return self._groups



class Reranker:
    """Base class: subclasses set ``name`` and implement :meth:`_rerank`.

    Parameters
    ----------
    tail_weight : float
        The one knob in ``[0, 1]``; each subclass documents its mapping.
    seed : int
        Seed of any random choice (only the stochastic re-ranker draws).
    """

    name: ClassVar[str] = "base"

    def __init__(self, tail_weight: float = 0.5, seed: int = 0) -> None:
        check_weight(tail_weight)
        self.tail_weight = float(tail_weight)
        self.seed = seed

    def __repr__(self) -> str:
        return f"{type(self).__name__}(tail_weight={self.tail_weight}, seed={self.seed})"

    def candidate_pools(self, k: int, n_candidates: int, ctx: RerankContext) -> tuple[int, np.ndarray | None, int]:
        """What the candidate stage hands this re-ranker: ``(n_top, pool, n_pool)``, each
        user's `n_top` best items by score plus, when `pool` (a bool mask over items) is given,
        the `n_pool` best items within it. By default the top ``max(k, n_candidates)``."""
        return max(k, n_candidates), None, 0

    def rerank(
        self,
        items: np.ndarray,
        scores: np.ndarray,
        rows: sp.csr_matrix,
        k: int,
        ctx: RerankContext,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Pick each user's final k items from their candidates.

        Parameters
        ----------
        items : int64 array [n, N]
            Candidates, best first, ``-1`` padded.
        scores : float32 array [n, N]
            The model's scores of the candidates (``-inf`` where padded).
        rows : csr_matrix [n, n_items]
            The users' histories (for the user's own popularity mix).
        k : int
            Final list length.
        ctx : RerankContext

        Returns
        -------
        items, scores : arrays [n, k]
            Chosen items in their new order (``-1`` padded) with their original model scores.
        """
        items = np.asarray(items, dtype=np.int64)
        scores = np.asarray(scores, dtype=np.float32)
        if items.shape != scores.shape:
            raise ValueError(f"items {items.shape} and scores {scores.shape} must have the same shape")
        if rows.shape[0] != len(items):
            raise ValueError(f"rows has {rows.shape[0]} users, items {len(items)}")
        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        valid = (items >= 0) & np.isfinite(scores)
        if len(items) == 0:
            return np.empty((0, k), np.int64), np.empty((0, k), np.float32)
        pos = self._rerank(items, scores, valid, sp.csr_matrix(rows), min(k, items.shape[1]), ctx)
        return gather(items, scores, pos, k)

    def _rerank(self, items: np.ndarray, scores: np.ndarray, valid: np.ndarray, rows: sp.csr_matrix, k: int, ctx: RerankContext) -> np.ndarray:
        """Positions (into each row of `items`) of the chosen items, in order; -1 = none."""
        raise NotImplementedError


def check_weight(tail_weight: float) -> None:
    """Raise ValueError unless ``0 <= tail_weight <= 1``."""
    if not (0.0 <= float(tail_weight) <= 1.0):
        raise ValueError(f"tail_weight must be in [0, 1], not {tail_weight}")


def gather(items: np.ndarray, scores: np.ndarray, pos: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Items and scores at positions `pos` [n, <=k] (``-1`` = empty), padded to k columns."""
    n = len(items)
    out_i = np.full((n, k), -1, dtype=np.int64)
    out_s = np.full((n, k), -np.inf, dtype=np.float32)
    ok = pos >= 0
    safe = np.maximum(pos, 0)
    width = pos.shape[1]
    out_i[:, :width] = np.where(ok, np.take_along_axis(items, safe, axis=1), -1)
    out_s[:, :width] = np.where(ok, np.take_along_axis(scores, safe, axis=1), -np.inf)
    return out_i, out_s
