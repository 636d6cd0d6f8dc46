"""The TF-IDF + SVD encoder: fitting, the id, and its state saved as plain arrays."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("sklearn", reason="the TF-IDF encoder needs scikit-learn (extra 'tfidf')")

from tailwise.errors import NotFittedError
from tailwise.text import TfidfEncoder

DOCS = [
    "space travel film about astronauts in a rocket",
    "astronauts fly a rocket to mars in this space film",
    "chocolate cake recipe with butter and sugar",
    "baking a chocolate cake with butter and cream",
    "crime thriller about a bank robbery in los angeles",
    "a detective hunts a thief after a bank robbery",
] * 3 + [f"filler document number {i} about topic {i % 7}" for i in range(40)]


@pytest.fixture(scope="module")
def fitted() -> TfidfEncoder:
    return TfidfEncoder(dim=16).fit(DOCS)


def test_fit_encode_shape_norm_and_meaning(fitted):
    v = fitted.encode_items(DOCS[:6], progress=False)
    assert v.shape == (6, 16) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]
    assert v[2] @ v[3] > v[2] @ v[4]
    q = fitted.encode_queries(["chocolate cake", "", "words never seen"])
    assert q[0] @ v[2] > q[0] @ v[0]
    assert not q[1].any() and not q[2].any()  # empty and out-of-vocabulary texts: zero rows


def test_not_fitted_is_a_clear_error():
    enc = TfidfEncoder()
    with pytest.raises(NotFittedError, match="fit"):
        enc.encode_items(["a"], progress=False)
    with pytest.raises(NotFittedError):
        _ = enc.id
    with pytest.raises(ValueError, match="non-empty"):
        enc.fit(["", "  "])


def test_id_hashes_the_fitted_state(fitted):
    assert fitted.id.startswith("tfidf:")
    assert TfidfEncoder(dim=16).fit(DOCS).id == fitted.id  # refit on the same texts: same id
    assert TfidfEncoder(dim=16).fit(DOCS + ["a new item arrives"]).id != fitted.id
    assert TfidfEncoder(dim=8).fit(DOCS).id != fitted.id


def test_state_round_trip_through_npz_without_pickle(fitted, tmp_path):
    state = fitted.get_state()
    assert set(state) == {"vocabulary", "idf", "components", "params"}
    assert all(a.dtype != object for a in state.values())
    np.savez(tmp_path / "tfidf.npz", **state)
    with np.load(tmp_path / "tfidf.npz", allow_pickle=False) as data:
        loaded = TfidfEncoder.from_state({k: data[k] for k in data.files})
    assert loaded.id == fitted.id and loaded.dim == fitted.dim
    np.testing.assert_allclose(
        loaded.encode_items(DOCS, progress=False),
        fitted.encode_items(DOCS, progress=False),
        atol=1e-6,
    )
    with pytest.raises(ValueError, match="lacks"):
        TfidfEncoder.from_state({"idf": state["idf"]})


def test_small_vocabulary_is_padded_to_dim():
    enc = TfidfEncoder(dim=50).fit(["red apple", "green apple", "red car"])
    v = enc.encode_items(["red apple", "car"], progress=False)
    assert v.shape == (2, 50)
    assert not v[:, 4:].any()  # four terms: the rest is padding
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-6)
