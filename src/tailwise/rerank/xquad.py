"""xQuAD for popularity: head and tail as the two aspects a list should cover.

Abdollahpouri, Burke and Mobasher (2019), *Managing Popularity Bias in Recommender Systems with
Personalized Re-ranking*, FLAIRS-32, adapting xQuAD (Santos, Macdonald and Ounis 2010, WWW).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailwise.rerank.base import RerankContext, Reranker
from tailwise.rerank.greedy import group_greedy, minmax


class XQuAD(Reranker):
    r"""Greedy xQuAD over the candidates with the head and the tail as aspects.

    Each step adds the candidate maximising

    .. math::

        (1 - \lambda)\, \hat r_{ui} + \lambda \sum_{d \in \{H, T\}} P(d \mid u)\,
        [i \in d]\, \Bigl(1 - \frac{|S \cap d|}{|S|}\Bigr)

    with :math:`\hat r` the model's scores min-max scaled per user over the candidates, ``S``
    the items chosen so far and the paper's "smooth" coverage (an empty ``S`` covers no
    aspect). The knob maps to :math:`\lambda = w`.

    Aspect weights: the paper personalises them as the shares of head and tail in the user's
    history, ``t_u`` for the tail. Here the tail gets ``P(T|u) = max(t_u, tail_floor)`` and the
    head ``1 - P(T|u)``: with the default floor of 1/2 a user's taste for the tail still raises
    its weight, but a user who has only seen the head does not get a head-only list back.
    ``tail_floor=0`` is the paper's exact form. The re-ranker is tail-boosting for every list
    that holds at most ``P(T|u)`` tail items: its tail share never falls below the model's own
    top-k and grows with ``w`` (tested with hypothesis). Lists the model already fills with more
    tail than that are pulled back toward ``P(T|u)``: xQuAD covers both aspects.

    Parameters
    ----------
    tail_weight : float
        The knob ``w`` = :math:`\lambda`.
    seed : int
        Unused (deterministic).
    tail_floor : float
        Least weight of the tail aspect (default 0.5).

    Examples
    --------
    Three candidates, best first; item 2 is the only tail item. At ``w = 0.7`` it moves up:

    >>> import scipy.sparse as sp
    >>> ctx = RerankContext(np.array([9.0, 8.0, 1.0]), np.array([False, False, True]))
    >>> items, scores = np.array([[0, 1, 2]]), np.array([[0.9, 0.8, 0.5]], np.float32)
    >>> XQuAD(0.7).rerank(items, scores, sp.csr_matrix((1, 3)), 2, ctx)[0].tolist()
    [[0, 2]]
    """

    name = "xquad"

    def __init__(self, tail_weight: float = 0.5, seed: int = 0, tail_floor: float = 0.5) -> None:
        super().__init__(tail_weight, seed)
        self.tail_floor = tail_floor

    def _rerank(self, items: np.ndarray, scores: np.ndarray, valid: np.ndarray, rows: sp.csr_matrix, k: int, ctx: RerankContext) -> np.ndarray:
        lam = self.tail_weight
        rel = minmax(scores, valid)
        is_tail = (ctx.tail[np.maximum(items, 0)] & valid).astype(np.int64)
        p_tail = np.maximum(user_tail_share(rows, ctx.tail), self.tail_floor)
        p_head = 1.0 - p_tail
        n_sel = np.zeros(len(items))
        n_tail = np.zeros(len(items))

        def bonus(step: int) -> np.ndarray:  # [n, 2]: adding a head item, a tail item
            share = n_tail / np.maximum(n_sel, 1.0)
            cover_h = np.where(n_sel > 0, share, 1.0)  # 1 - head share of S
            cover_t = np.where(n_sel > 0, 1.0 - share, 1.0)
            return lam * np.stack([p_head * cover_h, p_tail * cover_t], axis=1)

        def on_pick(live: np.ndarray, group: np.ndarray) -> None:
            n_sel[live] += 1
            n_tail[live] += group[live]

        return group_greedy(rel, valid, is_tail, 2, k, 1.0 - lam, bonus, on_pick)

def user_tail_share(rows: sp.csr_matrix, tail: np.ndarray) -> np.ndarray:
    """Share of each user's history that is tail (0 for an empty history).

    Examples
    --------
    >>> rows = sp.csr_matrix(np.array([[1, 1, 0, 1], [0, 0, 0, 0]]))
    >>> user_tail_share(rows, np.array([False, True, True, True])).tolist()
    [0.6666666666666666, 0.0]
    """
    rows = sp.csr_matrix(rows)
    total = np.diff(rows.indptr).astype(np.float64)
    in_tail = np.asarray(rows[:, np.flatnonzero(tail)].getnnz(axis=1), dtype=np.float64)
    return in_tail / np.maximum(total, 1.0)
