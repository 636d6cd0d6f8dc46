"""Item vectors for similarity-based re-ranking of models without a text side: SVD vectors of
the training matrix (the pipeline gives MMR the model's text embeddings where it has them)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def svd_item_vectors(history: sp.csr_matrix, dim: int = 64, seed: int = 0) -> np.ndarray:
    """Dense item vectors from the training matrix: a truncated SVD of the binary item columns.

    ``V_d * s_d`` of a rank-`dim` SVD of ``X``, so inner products approximate the co-occurrence
    ``X^T X``. Computed with a seeded randomised range finder and two power iterations
    (Halko, Martinsson and Tropp 2011): a few sparse products, deterministic.
    """
    x = sp.csr_matrix(history, dtype=np.float64)
    x.data[:] = 1.0
    n_users, n_items = x.shape
    width = min(dim + 10, n_users, n_items)
    if width < 1:
        return np.zeros((n_items, max(dim, 1)), dtype=np.float32)
    from threadpoolctl import threadpool_limits

    omega = np.random.default_rng(seed).standard_normal((n_items, width))
    with threadpool_limits(1, "blas"):  # small dense steps: threads only contend
        q, _ = np.linalg.qr(x @ omega)
        for _ in range(2):
            q, _ = np.linalg.qr(x @ np.linalg.qr(x.T @ q)[0])
        _, s, vt = np.linalg.svd((x.T @ q).T, full_matrices=False)
    d = min(dim, len(s))
    return (vt[:d].T * s[:d][None, :]).astype(np.float32)
