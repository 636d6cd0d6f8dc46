"""Stochastic exposure: sample each list from a Plackett-Luce distribution over the scores.

Plackett-Luce ranking policies for fair exposure: Singh and Joachims (2019), *Policy Learning
for Fairness in Ranking*, NeurIPS; Diaz, Mitra, Ekstrand, Biega and Carterette (2020),
*Evaluating Stochastic Rankings with Expected Exposure*, CIKM. Sampling uses the Gumbel-top-k
trick (Kool, van Hoof and Welling 2019, ICML).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailwise.rerank.base import RerankContext, Reranker


class Stochastic(Reranker):
    r"""A seeded Plackett-Luce draw over each user's candidates.

    The list is drawn without replacement with probabilities
    :math:`\propto \exp(z_{ui} / T)`, where ``z`` are the model's scores standardised per user
    over the candidates (mean 0, deviation 1). Drawn with the Gumbel-top-k trick: the k largest
    ``z / T + G``, ``G`` standard Gumbel noise. The knob maps to the temperature ``T = w``:
    small ``w`` keeps the model's order with a little shuffling near the top; ``w = 1`` spreads
    exposure far down the candidates.

    Draws come from a generator seeded with `seed` when the re-ranker is created: the same seed
    gives the same lists, and successive calls on one re-ranker (successive batches, repeated
    requests) draw fresh lists. Vary the seed per request to spread exposure across requests.
    """

    name = "stochastic"

    def __init__(self, tail_weight: float = 0.5, seed: int = 0) -> None:
        super().__init__(tail_weight, seed)
        self._rng = np.random.default_rng(seed)

    def _rerank(self, items: np.ndarray, scores: np.ndarray, valid: np.ndarray, rows: sp.csr_matrix, k: int, ctx: RerankContext) -> np.ndarray:
        z = standardise(scores, valid)
        noise = self._rng.gumbel(size=z.shape).astype(np.float32)
        temp = max(self.tail_weight, 1e-6)
        keys = np.where(valid, z / np.float32(temp) + noise, -np.inf)
        part = np.argpartition(-keys, k - 1, axis=1)[:, :k] if k < keys.shape[1] else np.tile(np.arange(keys.shape[1]), (len(keys), 1))
        order = np.argsort(-np.take_along_axis(keys, part, axis=1), axis=1, kind="stable")
        pos = np.take_along_axis(part, order, axis=1)
        taken = np.take_along_axis(valid, pos, axis=1)
        return np.where(taken, pos, -1)


def standardise(scores: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-row z-scores of the valid scores (0 elsewhere); a constant row becomes 0.

    Examples
    --------
    >>> standardise(np.array([[3.0, 1.0, -np.inf]]), np.array([[1, 1, 0]], bool)).tolist()
    [[1.0, -1.0, 0.0]]
    """
    s = np.where(valid, scores, 0.0).astype(np.float64)
    count = np.maximum(valid.sum(axis=1, keepdims=True), 1)
    mean = s.sum(axis=1, keepdims=True) / count
    std = np.sqrt((np.where(valid, s - mean, 0.0) ** 2).sum(axis=1, keepdims=True) / count)
    z = (s - mean) / np.where(std > 0, std, 1.0)
    return np.where(valid, z, 0.0).astype(np.float32)
