"""Calibrated tail slots: a share of each list goes to the user's best tail items.

After Steck (2018), *Calibrated Recommendations*: the list's tail share follows the user's own.
Of the k slots, ``m_u = round(w * k * t_u)`` (clipped to at least one and at most half the list)
go to tail items, where ``t_u`` is the tail share of the user's history and the knob ``w`` is
the hybrid's ``tail_share``. The top-k by score is kept except that, when it holds fewer than
``m_u`` tail items, the best-scored missing tail items replace its lowest-scored head items; the
list stays sorted by score. This is the hybrid's default exposure stage.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailwise.ranking import tail_slot_counts, tail_slot_positions
from tailwise.rerank.base import RerankContext, Reranker


class TailSlots(Reranker):
    """Guaranteed tail slots in each top-k list (see the module docstring).

    Parameters
    ----------
    tail_weight : float
        The share ``w`` in ``m_u = round(w * k * t_u)``.
    seed : int
        Unused (no random choice); kept for the common signature.
    head_share : float, optional
        Share of items counted as head; None: the context's tail.
    """

    name = "tailslots"

    def __init__(self, tail_weight: float = 0.5, seed: int = 0, head_share: float | None = None) -> None:
        super().__init__(tail_weight, seed)
        self.head_share = head_share

    def candidate_pools(self, k: int, n_candidates: int, ctx: RerankContext) -> tuple[int, np.ndarray | None, int]:
        """The top-k by score plus the k best tail items: all the stage can choose from."""
        return k, ctx.tail_for(self.head_share), k

    def slots(self, rows: sp.csr_matrix, k: int, tail: np.ndarray) -> np.ndarray:
        """How many of each user's k slots go to the tail: ``round(w * k * t_u)``, clipped."""
        return tail_slot_counts(rows, tail, self.tail_weight, k)

    def _rerank(self, items: np.ndarray, scores: np.ndarray, valid: np.ndarray, rows: sp.csr_matrix, k: int, ctx: RerankContext) -> np.ndarray:
        # candidates are sorted by score (ties: lower item first) and hold the top-k overall,
        # so the first k are the plain top-k and later tail candidates are the best tail items
        tail = ctx.tail_for(self.head_share)
        is_tail = valid & tail[np.maximum(items, 0)]
        return tail_slot_positions(items, valid, is_tail, self.slots(rows, k, tail), k)
