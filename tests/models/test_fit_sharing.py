"""What the hybrid shares to fit faster: one Gram matrix for both sides, the cached text kernel."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from tailwise.models import EASE, Adapter, Hybrid
from tailwise.text import side as textside
from tailwise.models.adapter import spectral_factors
from tailwise.models.ease import item_gram
from tailwise.text.features import ItemFeatures
from tailwise.testing.contract import random_dataset

pytestmark = pytest.mark.usefixtures("fake_text")


def test_hybrid_ease_side_equals_plain_ease():
    ds = random_dataset(60, 40, seed=3)
    hybrid = Hybrid(l2=2.0, factors=8, cache_dir=None, text_weight=0.0).fit(ds)
    ease = EASE(l2=2.0, l2_item=hybrid.l2_item).fit(ds)
    np.testing.assert_array_equal(hybrid.ease_.active_, ease.active_)
    np.testing.assert_allclose(hybrid.ease_.weights_, ease.weights_, rtol=1e-5, atol=1e-6)


def test_behaviour_factors_same_with_a_shared_gram():
    train = random_dataset(60, 40, seed=4).matrix()
    active, gram = item_gram(train)
    copy = gram.copy()
    a = spectral_factors(train, 8, 0.5, 1)[0]
    b = spectral_factors(train, 8, 0.5, 1, (active, gram))[0]
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(gram, copy)  # only read


def test_refit_reads_the_cached_kernel(tmp_path, monkeypatch):
    ds = random_dataset(60, 40, seed=5)
    first = Adapter(factors=8, cache_dir=str(tmp_path)).fit(ds)
    files = list((tmp_path / "kernels").glob("*.npz"))
    assert len(files) == 1

    def no_kernel(self, other):  # a warm refit must not compute the kernel again
        raise AssertionError("kernel recomputed")

    original = ItemFeatures.kernel
    monkeypatch.setattr(ItemFeatures, "kernel", no_kernel)
    second = Adapter(factors=8, cache_dir=str(tmp_path)).fit(ds)
    np.testing.assert_allclose(second.item_vectors_, first.item_vectors_, rtol=1e-5, atol=1e-6)
    texts = ["Item 3. horror", "a brand new item"]  # new items still place through the anchors
    monkeypatch.setattr(ItemFeatures, "kernel", original)
    np.testing.assert_allclose(second.vectors_for_texts(texts), first.vectors_for_texts(texts), rtol=1e-5, atol=1e-6)


def test_cached_kernel_matches_a_fresh_one_and_damage_is_recomputed(tmp_path, caplog):
    ds = random_dataset(30, 25, seed=6)
    side = textside.TextSide(cache_dir=str(tmp_path), progress=False)
    feats, _, kernel = side.features_and_kernel(ds.texts())
    np.testing.assert_allclose(kernel, feats.kernel(feats), rtol=1e-6)
    (path,) = (tmp_path / "kernels").glob("*.npz")
    path.write_bytes(b"not an npz")
    with caplog.at_level(logging.WARNING, logger="tailwise.text.side"):
        _, _, again = side.features_and_kernel(ds.texts())
    assert "unreadable text-kernel cache" in caplog.text
    np.testing.assert_allclose(again, kernel, rtol=1e-6)


def test_changed_text_gets_a_new_kernel_and_large_catalogues_none(tmp_path, monkeypatch):
    ds = random_dataset(30, 25, seed=7)
    side = textside.TextSide(cache_dir=str(tmp_path), progress=False)
    texts = ds.texts()
    side.features_and_kernel(texts)
    side.features_and_kernel(texts[:-1] + ["something else entirely"])
    assert len(list((tmp_path / "kernels").glob("*.npz"))) == 2
    monkeypatch.setattr(textside, "KERNEL_CACHE_MAX_ITEMS", 10)
    _, _, kernel = side.features_and_kernel(texts)
    assert kernel is None
