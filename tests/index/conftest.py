"""Fixtures of the index tests: random vectors (the hardest case for a graph index), their
exact answers, one ANN index built once, and ALS fitted on the bundled ml-latest-small."""

from __future__ import annotations

import numpy as np
import pytest

N_ITEMS, DIM, N_QUERIES, K = 20_000, 32, 100, 20


@pytest.fixture(scope="session")
def vectors() -> np.ndarray:
    return np.random.default_rng(7).standard_normal((N_ITEMS, DIM)).astype(np.float32)


@pytest.fixture(scope="session")
def queries() -> np.ndarray:
    return np.random.default_rng(8).standard_normal((N_QUERIES, DIM)).astype(np.float32)


@pytest.fixture(scope="session")
def exact(vectors):
    from tailwise.index import ExactIndex

    return ExactIndex().build(vectors)


@pytest.fixture(scope="session")
def ann(vectors):
    pytest.importorskip("faiss")
    from tailwise.index import ANNIndex

    return ANNIndex(connectivity=16, ef_construction=40, progress=False).build(vectors)


@pytest.fixture(scope="session")
def demo():
    from tailwise.data import load_demo

    return load_demo()


@pytest.fixture(scope="session")
def als(demo):
    pytest.importorskip("implicit")
    from tailwise.models import ALS

    return ALS(factors=32, iterations=5).fit(demo)


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    hits = [len(set(f[f >= 0]) & set(t[t >= 0])) / max(1, (t >= 0).sum()) for f, t in zip(found, truth)]
    return float(np.mean(hits))


@pytest.fixture(scope="session")
def recall():
    """``recall(found, truth)``: mean share of each true list found (``-1`` never counts)."""
    return _recall
