"""Calibrated popularity: each user's list mirrors the user's own head/mid/tail mix.

Steck (2018), *Calibrated Recommendations*, RecSys; applied to popularity groups by
Abdollahpouri, Mansoury, Burke, Mobasher and Malthouse (2021), *User-centered Evaluation of
Popularity Bias in Recommender Systems*, UMAP.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailwise.rerank.base import RerankContext, Reranker
from tailwise.rerank.greedy import group_greedy, minmax

#: mixing weight of the target into the list's distribution, so the divergence stays finite
SMOOTH = 0.01


class Calibrated(Reranker):
    r"""Greedy calibration of each list's popularity-group mix to the user's history.

    Items fall into three popularity groups ``g`` (head, mid, tail; see
    :meth:`RerankContext.groups`). ``p_u(g)`` is the user's history mix and ``q(g | S)`` the mix
    of the items chosen so far. Each step adds the candidate maximising (Steck 2018, Eq. 4)

    .. math::

        (1 - \lambda) \sum_{j \in S \cup \{i\}} \hat r_{uj}
        - \lambda\, \mathrm{KL}\bigl(p_u \,\|\, \tilde q(\cdot \mid S \cup \{i\})\bigr),
        \qquad \tilde q = (1 - \alpha)\, q + \alpha\, p_u,\ \alpha = 0.01

    with :math:`\hat r` the model's scores min-max scaled per user over the candidates. The
    knob maps to the calibration strength :math:`\lambda = w`.

    Users without history get the catalogue's interaction mix as ``p_u``. Calibration pulls
    lists toward the user's own mix in both directions: it raises the tail share of a list that
    under-serves a user's taste for the tail (the usual case: models favour the head), and
    lowers it for a user who only watches blockbusters.
    """

    name = "calibrated"

    def _rerank(self, items: np.ndarray, scores: np.ndarray, valid: np.ndarray, rows: sp.csr_matrix, k: int, ctx: RerankContext) -> np.ndarray:
        lam = self.tail_weight
        rel = minmax(scores, valid)
        groups = ctx.groups()
        g = np.where(valid, groups[np.maximum(items, 0)], 0)
        p = user_mix(rows, groups, ctx.item_pop)  # [n, 3]
        counts = np.zeros_like(p)
        eye = np.eye(3)

        def bonus(step: int) -> np.ndarray:
            # the divergence after adding one item of each group, [n, 3]; the relevance of S is
            # the same for every candidate, so only the new item's relevance enters the choice
            q = (counts[:, None, :] + eye[None, :, :]) / (step + 1.0)
            q = (1.0 - SMOOTH) * q + SMOOTH * p[:, None, :]
            return -lam * kl_divergence(p[:, None, :], q)

        def on_pick(live: np.ndarray, picked: np.ndarray) -> None:
            counts[np.flatnonzero(live), picked[live]] += 1.0

        return group_greedy(rel, valid, g, 3, k, 1.0 - lam, bonus, on_pick)

def user_mix(rows: sp.csr_matrix, groups: np.ndarray, item_pop: np.ndarray) -> np.ndarray:
    """Each user's share of history items per group ``[n, 3]``; the catalogue's mix when empty.

    Examples
    --------
    >>> rows = sp.csr_matrix(np.array([[1, 1, 0, 1], [0, 0, 0, 0]]))
    >>> user_mix(rows, np.array([0, 1, 2, 2]), np.array([3.0, 1.0, 0.0, 0.0])).tolist()
    [[0.3333333333333333, 0.3333333333333333, 0.3333333333333333], [0.75, 0.25, 0.0]]
    """
    rows = sp.csr_matrix(rows)
    onehot = sp.csr_matrix((np.ones(len(groups)), (np.arange(len(groups)), groups)), shape=(len(groups), 3))
    binary = rows.copy()
    binary.data[:] = 1.0
    counts = np.asarray((binary @ onehot).todense(), dtype=np.float64)
    total = counts.sum(axis=1, keepdims=True)
    prior = np.bincount(groups, weights=item_pop, minlength=3).astype(np.float64)
    prior = prior / prior.sum() if prior.sum() > 0 else np.full(3, 1.0 / 3)
    return np.where(total > 0, counts / np.maximum(total, 1.0), prior[None, :])


def kl_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """``sum_g p log(p / q)`` over the last axis, with ``0 log 0 = 0``."""
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(p / q), 0.0)
    return terms.sum(axis=-1)
