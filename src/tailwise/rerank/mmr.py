"""Maximal marginal relevance: diversify lists by item-embedding similarity.

Carbonell and Goldstein (1998), *The Use of MMR, Diversity-Based Reranking for Reordering
Documents and Producing Summaries*, SIGIR.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailwise.ranking import normalise_rows
from tailwise.rerank.base import RerankContext, Reranker
from tailwise.rerank.greedy import greedy, minmax

#: candidate vectors gathered at once (floats): bounds the memory of one chunk of users
CHUNK_FLOATS = 1 << 23


class MMR(Reranker):
    r"""Greedy MMR: relevance minus the similarity to the items already chosen.

    Each step adds the candidate maximising

    .. math::

        (1 - \lambda)\, \hat r_{ui} - \lambda \max_{j \in S} \cos(v_i, v_j)

    with :math:`\hat r` the model's scores min-max scaled per user over the candidates and
    ``v`` the context's item vectors (:meth:`RerankContext.vectors`: the model's text
    embeddings where it has a text side, else SVD vectors of the training matrix). The knob
    maps to the diversity weight :math:`\lambda = w`. Vectors are projected on their first
    `dim` principal directions (default 32) so a step costs ``O(n N dim)``.
    """

    name = "mmr"

    def __init__(self, tail_weight: float = 0.5, seed: int = 0, dim: int = 32) -> None:
        super().__init__(tail_weight, seed)
        self.dim = dim

    def _rerank(self, items: np.ndarray, scores: np.ndarray, valid: np.ndarray, rows: sp.csr_matrix, k: int, ctx: RerankContext) -> np.ndarray:
        vectors = projected(ctx, self.dim)
        n, width = items.shape
        step = max(1, CHUNK_FLOATS // max(1, width * vectors.shape[1]))
        out = [self._chunk(items[s : s + step], scores[s : s + step], valid[s : s + step], k, vectors) for s in range(0, n, step)]
        return np.vstack(out)

    def _chunk(self, items, scores, valid, k, vectors) -> np.ndarray:
        lam = np.float32(self.tail_weight)
        rel = minmax(scores, valid).astype(np.float32)
        cand = vectors[np.maximum(items, 0)]  # [n, N, d]
        max_sim = np.zeros(items.shape, dtype=np.float32)
        base = (1.0 - lam) * rel
        rows = np.arange(len(items))

        def gain(available: np.ndarray, step: int) -> np.ndarray:
            return base - lam * max_sim

        def on_pick(live: np.ndarray, pick: np.ndarray) -> None:
            chosen = cand[rows, pick]  # [n, d]
            sims = np.einsum("nkd,nd->nk", cand, chosen)
            np.maximum(max_sim, np.where(live[:, None], sims, max_sim), out=max_sim)

        return greedy(gain, valid, k, on_pick)


def projected(ctx: RerankContext, dim: int) -> np.ndarray:
    """Unit item vectors projected on their top `dim` principal directions (cached per context).

    The projection keeps inner products close to the cosines of the full vectors while making
    each greedy step cheap; rows are re-normalised after projecting.
    """
    cache = getattr(ctx, "_projected", {})
    if dim not in cache:
        v = ctx.vectors()
        if v.shape[1] > dim:  # principal directions from the d x d covariance: cheap
            centred = (v - v.mean(axis=0)).astype(np.float64)
            _, eigvec = np.linalg.eigh(centred.T @ centred)
            v = v @ eigvec[:, ::-1][:, :dim].astype(np.float32)
        cache[dim] = normalise_rows(v)
        ctx._projected = cache
    return cache[dim]
