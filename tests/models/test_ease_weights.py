"""EASE's weights stored as one triangle plus the other's last bits (models/ease_weights.py):
bit for bit the fitted weights, half the bytes, older dense directories still load, damaged
packed arrays named."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

from tailwise import artifacts
from tailwise.errors import DataError
from tailwise.models.ease import EASE
from tailwise.models.ease_weights import pack_weights, packable, unpack_weights
from tailwise.pipeline import Pipeline
from tailwise.testing.contract import random_dataset


def _bits(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.int32)


@pytest.fixture(scope="module")
def fitted():
    ds = random_dataset(n_users=80, n_items=300, density=0.08, seed=3)
    return ds, Pipeline.fit(EASE(l2=5.0), ds)


def test_the_packed_weights_unpack_to_the_same_bits(fitted):
    _, pipe = fitted
    model = pipe.model
    state = model.get_state()
    assert "weights_" not in state and state["weights_upper_"].dtype == np.float32
    n = len(model.active_)
    assert len(state["weights_upper_"]) == len(state["weights_lower_ulps_"]) == n * (n - 1) // 2
    assert state["weights_lower_ulps_"].dtype == np.int8  # rounding: a few units at most
    # the lower triangle is not the rescaled upper one to the bit: the distances are needed
    assert np.count_nonzero(state["weights_lower_ulps_"]) > 0
    restored = EASE(l2=5.0).set_state(state)
    np.testing.assert_array_equal(_bits(restored.weights_), _bits(model.weights_))
    assert restored.weights_.flags.c_contiguous and restored.check_state() == []


def test_any_values_round_trip_and_wide_distances_widen_the_type():
    rng = np.random.default_rng(7)
    n = 600  # more than one block of rows
    w = rng.standard_normal((n, n)).astype(np.float32)
    w[np.diag_indices(n)] = 0
    d = rng.uniform(0.5, 2.0, n).astype(np.float32)  # nothing like w's own scale: large distances
    assert packable(w, d)
    upper, ulps = pack_weights(w, d)
    assert ulps.dtype == np.int32
    np.testing.assert_array_equal(_bits(unpack_weights(upper, ulps, d)), _bits(w))
    for empty in (0, 1):
        z = np.zeros((empty, empty), np.float32)
        up, ul = pack_weights(z, np.ones(empty, np.float32))
        assert unpack_weights(up, ul, np.ones(empty, np.float32)).shape == (empty, empty)


def test_weights_that_cannot_be_packed_are_stored_dense(fitted):
    _, pipe = fitted
    model = pipe.model
    w, d = model.weights_, model.inverse_diag_
    assert not packable(w.astype(np.float64), d)
    diagonal = w.copy()
    diagonal[0, 0] = 1.0
    assert not packable(diagonal, d) and not packable(w, None) and not packable(w, d[:-1])
    older = EASE(l2=5.0).set_state({k: np.asarray(getattr(model, k)) for k in ("weights_", "active_", "n_items_", "n_users_")})
    state = older.get_state()  # a model loaded from a dense directory has no inverse_diag_
    assert "weights_" in state and "weights_upper_" not in state


def test_a_saved_directory_is_packed_deflated_and_reproduces_every_score(fitted, tmp_path):
    ds, pipe = fitted
    target = pipe.save(tmp_path / "m")
    with zipfile.ZipFile(target / "model.npz") as zf:
        infos = {i.filename: i for i in zf.infolist()}
    assert "weights_.npy" not in infos and "weights_upper_.npy" in infos
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos.values())
    assert infos["weights_lower_ulps_.npy"].compress_size < infos["weights_lower_ulps_.npy"].file_size / 2
    loaded = Pipeline.load(target)
    np.testing.assert_array_equal(_bits(loaded.model.weights_), _bits(pipe.model.weights_))
    users = ds.users.ids.tolist()
    a, b = pipe.recommend(users, k=15), loaded.recommend(users, k=15)
    np.testing.assert_array_equal(a.items, b.items)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_a_directory_with_dense_weights_still_loads(fitted, tmp_path):
    """Directories written before the packing hold ``weights_`` dense, uncompressed."""
    ds, pipe = fitted
    target = pipe.save(tmp_path / "m")
    state = artifacts.read_arrays(target / "model.npz")
    dense = {k: v for k, v in state.items() if k not in ("weights_upper_", "weights_lower_ulps_", "inverse_diag_")}
    np.savez(target / "model.npz", **dense, weights_=pipe.model.weights_)
    loaded = Pipeline.load(target)
    np.testing.assert_array_equal(_bits(loaded.model.weights_), _bits(pipe.model.weights_))
    users = ds.users.ids.tolist()
    np.testing.assert_array_equal(pipe.recommend(users, k=10).items, loaded.recommend(users, k=10).items)
    again = loaded.save(tmp_path / "again")  # and it is written back dense: no inverse_diag_ to pack with
    assert "weights_" in artifacts.read_arrays(again / "model.npz")


def _damage(target, change) -> None:
    state = artifacts.read_arrays(target / "model.npz")
    np.savez(target / "model.npz", **change(state))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda s: {**s, "weights_upper_": s["weights_upper_"][:-1]}, r"'weights_upper_' holds .* it should hold"),
        (lambda s: {**s, "weights_lower_ulps_": s["weights_lower_ulps_"][1:]}, r"'weights_lower_ulps_' holds"),
        (lambda s: {**s, "weights_lower_ulps_": s["weights_lower_ulps_"].astype(np.float32)}, r"'weights_lower_ulps_' must be a vector of integers"),
        (lambda s: {**s, "inverse_diag_": s["inverse_diag_"].astype(np.float64)}, r"'inverse_diag_' must be a float32 vector"),
        (lambda s: {k: v for k, v in s.items() if k != "inverse_diag_"}, r"the array 'inverse_diag_' is missing"),
        (lambda s: {k: v for k, v in s.items() if k != "weights_lower_ulps_"}, r"the array 'weights_lower_ulps_' is missing"),
        (lambda s: {**s, "weights_upper_": s["weights_upper_"] * np.nan}, r"'weights_' has .* NaN"),
        (lambda s: {**s, "inverse_diag_": s["inverse_diag_"][:-1], "weights_upper_": s["weights_upper_"][: -(len(s["inverse_diag_"]) - 1)],
                    "weights_lower_ulps_": s["weights_lower_ulps_"][: -(len(s["inverse_diag_"]) - 1)]}, r"'weights_' has shape"),
    ],
    ids=["upper-short", "ulps-short", "ulps-float", "diag-float64", "diag-missing", "ulps-missing", "nan", "one-item-less"],
)
def test_damaged_packed_weights_name_the_file_and_the_array(fitted, tmp_path, change, message):
    _, pipe = fitted
    target = pipe.save(tmp_path / "m")
    _damage(target, change)
    with pytest.raises(DataError, match=message) as err:
        Pipeline.load(target)
    assert "model.npz" in str(err.value)


def test_a_truncated_deflated_model_file_is_named(fitted, tmp_path):
    _, pipe = fitted
    target = pipe.save(tmp_path / "m")
    raw = (target / "model.npz").read_bytes()
    (target / "model.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="model.npz.*damaged"):
        Pipeline.load(target)
