"""What the hybrid shares to fit faster: one Gram matrix for both sides, the cached text kernel."""

from __future__ import annotations

import io
import logging
import zipfile

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


def test_the_anchor_columns_of_a_cached_kernel_are_read_block_by_block(tmp_path, monkeypatch, caplog):
    ds = random_dataset(30, 25, seed=8)
    side = textside.TextSide(cache_dir=str(tmp_path), progress=False)
    columns = np.array([0, 3, 4, 17, 24])
    _, _, fresh = side.features_and_kernel(ds.texts(), columns=columns)  # computed, then cut
    monkeypatch.setattr(textside, "KERNEL_READ_ROWS", 4)  # several blocks of rows, the last short
    feats, _, full = side.features_and_kernel(ds.texts())
    _, _, cached = side.features_and_kernel(ds.texts(), columns=columns)
    np.testing.assert_array_equal(full, feats.kernel(feats))
    np.testing.assert_array_equal(cached, full[:, columns])
    np.testing.assert_array_equal(fresh, cached)
    (path,) = (tmp_path / "kernels").glob("*.npz")
    raw = path.read_bytes()  # a kernel cut short inside the zip (its directory still readable)
    with zipfile.ZipFile(path, "w") as zf:
        with np.load(io.BytesIO(raw)) as z:
            for key in z.files:
                arr = z[key][:10] if key == "kernel" else z[key]
                zf.writestr(f"{key}.npy", _npy_bytes(arr, shape=z[key].shape if key == "kernel" else None))
    with caplog.at_level(logging.WARNING, logger="tailwise.text.side"):
        _, _, again = side.features_and_kernel(ds.texts(), columns=columns)
    assert "truncated" in caplog.text
    np.testing.assert_array_equal(again, cached)


def _npy_bytes(arr: np.ndarray, shape: tuple | None = None) -> bytes:
    """`arr` as .npy bytes; with `shape`, a header that claims that (larger) shape."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, arr, allow_pickle=False)
    if shape is None:
        return buf.getvalue()
    head = io.BytesIO()
    np.lib.format.write_array_header_1_0(head, {"descr": np.lib.format.dtype_to_descr(arr.dtype), "fortran_order": False, "shape": shape})
    return head.getvalue() + arr.tobytes()


def test_the_blocked_kernel_equals_the_whole_matrix_arithmetic(monkeypatch):
    """The TF-IDF and year views are added a block of rows at a time; the values are those of
    the whole-matrix formula, to the bit."""
    import tailwise.text.features as features

    rng = np.random.default_rng(2)
    texts = [f"Film {i} ({1950 + i % 60}) {' '.join(rng.choice(['war', 'love', 'space', 'heist', 'noir'], 3))}" for i in range(70)]
    side = textside.TextSide(encoder="tfidf", progress=False)
    feats, _ = side._views(texts, rng.standard_normal((70, 16)).astype(np.float32), True, True)
    other = feats.subset(np.arange(0, 70, 3))
    sim = feats.embeddings @ other.embeddings.T
    sim += (feats.tfidf @ other.tfidf.T).toarray()
    diff = (feats.year[:, None] - other.year[None, :]) / feats.year_width
    sim += np.nan_to_num(np.exp(-0.5 * diff**2), nan=0.0).astype(np.float32)
    sim /= 3
    sim += 1.0
    monkeypatch.setattr(features, "KERNEL_ROWS", 8)
    np.testing.assert_array_equal(feats.kernel(other), np.square(sim))
