"""Item vectors for similarity-based re-ranking: the model's text embeddings or SVD vectors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.sparse as sp


def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Float32 rows scaled to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)


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


def item_vector_loader(model: object, item_text: list[str], history: sp.csr_matrix) -> Callable[[], np.ndarray]:
    """A loader of item vectors for MMR: the model's text embeddings when it reads item text
    (it has an ``encoder`` parameter: content, adapter, hybrid, twotower; the embedding cache
    makes this cheap), else SVD vectors of the training matrix (:func:`svd_item_vectors`)."""

    def load() -> np.ndarray:
        spec = getattr(model, "encoder", None)
        if isinstance(spec, str) and any(item_text):
            from tailwise.models.textside import TextSide

            side = TextSide(spec, getattr(model, "max_tokens", 128), getattr(model, "cache_dir", None), progress=False)
            return side.embed(item_text)
        return svd_item_vectors(history)

    return load
