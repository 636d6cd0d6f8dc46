"""The hybrid's factor backbone: fused dot products equal the gated z-score formula, the
backbone choice follows the memory budget, and large catalogues go through a vector index."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tailwise.errors import MemoryBudgetError
from tailwise.models import Hybrid
from tailwise.models.adapter import spectral_factors
from tailwise.models.base import is_vector_model
from tailwise.models.fusion import FusedVectors, Moments, zscore
from tailwise.models.fusion import fused_dim
from tailwise.testing.contract import RecommenderContract, random_dataset


@pytest.mark.usefixtures("fake_text")
class TestHybridFactors(RecommenderContract):
    checkerboard = False  # a low-rank ridge smooths the parity pattern away

    def make(self):
        return Hybrid(backbone="factors", factor_dim=8, tail_share=0.0)


def test_moments_give_each_users_mean_and_deviation_outside_the_history():
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((50, 6)).astype(np.float32)
    users = rng.standard_normal((4, 6)).astype(np.float32)
    rows = sp.random(4, 50, density=0.2, random_state=1, format="csr", dtype=np.float32)
    rows.data[:] = 1.0
    mean, std = Moments.of(vectors).user_stats(users, rows, vectors)
    scores = users @ vectors.T
    for u in range(4):
        keep = np.ones(50, bool)
        keep[rows[u].indices] = False
        assert mean[u] == pytest.approx(scores[u, keep].mean(), rel=1e-5, abs=1e-6)
        assert std[u] == pytest.approx(scores[u, keep].std(), rel=1e-4)


def test_fused_dot_product_equals_the_gated_zscores():
    rng = np.random.default_rng(1)
    cf, lm = rng.standard_normal((2, 40, 5)).astype(np.float32)
    a_cf, a_lm = rng.standard_normal((2, 3, 5)).astype(np.float32)
    w = rng.random(40).astype(np.float32)
    rows = sp.csr_matrix((np.ones(4, np.float32), ([0, 0, 1, 2], [3, 7, 7, 39])), shape=(3, 40))
    fused = FusedVectors.build(cf, lm, w)
    got = fused.queries(a_cf, a_lm, rows) @ fused.items().T
    want = w * zscore(a_cf @ cf.T, rows) + (1 - w) * zscore(a_lm @ lm.T, rows)
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_spectral_factors_from_sparse_products_span_the_dense_eigenvectors():
    train = random_dataset(n_users=60, n_items=30, density=0.3, seed=2).matrix()
    dense, vals_dense = spectral_factors(train, 5, 0.25, seed=0)
    sparse_v, vals_sparse = spectral_factors(train, 5, 0.25, seed=0, sparse=True)
    np.testing.assert_allclose(vals_sparse, vals_dense, rtol=1e-3)
    # the same directions up to sign
    np.testing.assert_allclose(np.abs(np.sum(dense * sparse_v, axis=0)), 1.0, atol=1e-3)


def test_fused_dim_halves_for_large_catalogues():
    assert fused_dim(512, 10_000) == 512
    assert fused_dim(512, 1_000_000) == 128
    assert fused_dim(64, 100_000_000) == 32


@pytest.mark.usefixtures("fake_text")
def test_auto_backbone_follows_the_memory_budget():
    ds = random_dataset(n_users=80, n_items=40, density=0.2, seed=3)
    roomy = Hybrid(factors=8, factor_dim=8).fit(ds)
    assert roomy.backbone_ == "ease" and roomy.fit_info()["backbone"] == "ease"
    tight = Hybrid(factors=8, factor_dim=8).fit(ds, memory_budget=1000)
    assert tight.backbone_ == "factors" and "above the memory budget" in tight.fit_info()["why"]
    assert tight.ease_ is None and is_vector_model(tight) and not is_vector_model(roomy)
    with pytest.raises(MemoryBudgetError, match="backbone=factors"):
        Hybrid(factors=8, backbone="ease").fit(ds, memory_budget=1000)


@pytest.mark.usefixtures("fake_text")
def test_factor_backbone_through_an_ann_index_matches_exact_scoring(tmp_path):
    pytest.importorskip("faiss")
    from tailwise.index import pipeline_index
    from tailwise.pipeline import Pipeline

    ds = random_dataset(n_users=120, n_items=300, density=0.05, seed=4)
    pipe = Pipeline.fit(Hybrid(backbone="factors", factor_dim=8, tail_share=0.0), ds)
    assert pipe.index is None  # a small catalogue scores every item
    users = np.arange(ds.n_users)
    exact = pipe.run(users, pipe.history, k=10)
    pipe.index = pipeline_index(pipe.model, kind="ann")
    assert pipe.index is not None
    approx = pipe.run(users, pipe.history, k=10)
    overlap = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact.items, approx.items)])
    assert overlap >= 0.95
    # the index is saved with the model directory and found again on load
    pipe.save(tmp_path / "m")
    loaded = Pipeline.load(tmp_path / "m")
    assert loaded.model.backbone_ == "factors" and loaded.index is not None
    np.testing.assert_array_equal(loaded.run(users, loaded.history, k=10).items, approx.items)
