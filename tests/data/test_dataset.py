"""Dataset: construction from external ids, the CSR matrix, counts, subsets and validation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from tailwise.data import Dataset, IdMap


@pytest.fixture
def ds() -> Dataset:
    # u1 rates a twice (2 + 3), u2 rates b, u3 rates a and c
    return Dataset.from_ids(
        ["u1", "u1", "u2", "u3", "u3", "u1"],
        ["a", "b", "b", "a", "c", "a"],
        rating=[2.0, 4.0, 5.0, 1.0, 3.0, 3.0],
        timestamp=[1, 2, 3, 4, 5, 6],
        name="toy",
    )


def test_from_ids_first_seen_order_defines_indices(ds):
    assert ds.users.ids.tolist() == ["u1", "u2", "u3"]
    assert ds.items.ids.tolist() == ["a", "b", "c"]
    assert ds.user_idx.tolist() == [0, 0, 1, 2, 2, 0]
    assert ds.item_idx.tolist() == [0, 1, 1, 0, 2, 0]
    assert (ds.n_users, ds.n_items, ds.n_interactions) == (3, 3, 6)
    assert ds.rating.dtype == np.float32
    assert ds.timestamp.dtype == np.float64
    assert ds.item_text is None
    assert ds.texts() == ["", "", ""]
    assert ds.name == "toy"


def test_from_ids_accepts_numeric_ids_as_strings():
    ds = Dataset.from_ids(np.array([1, 2]), np.array([10, 10]))
    assert ds.users.ids.tolist() == ["1", "2"]
    assert ds.items.index("10") == 0
    assert ds.rating is None and ds.timestamp is None


def test_binary_matrix_binarises_duplicates(ds):
    m = ds.matrix()
    assert sp.issparse(m) and m.format == "csr"
    assert m.dtype == np.float32
    assert m.shape == (3, 3)
    assert m.toarray().tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    assert m.nnz == 5  # the repeated (u1, a) pair is one entry
    assert m.has_sorted_indices


def test_rating_matrix_sums_duplicates(ds):
    m = ds.matrix("rating")
    assert m.dtype == np.float32
    assert m.toarray().tolist() == [[5, 4, 0], [0, 5, 0], [1, 0, 3]]  # u1,a = 2 + 3


def test_matrix_is_cached(ds):
    assert ds.matrix() is ds.matrix()
    assert ds.matrix("rating") is ds.matrix("rating")


def test_matrix_errors(ds):
    with pytest.raises(ValueError, match="'binary' or 'rating'"):
        ds.matrix("counts")
    no_rating = Dataset.from_ids(["u"], ["i"], name="plain")
    with pytest.raises(ValueError, match="'plain' has no ratings"):
        no_rating.matrix("rating")


def test_item_and_user_counts_count_distinct_pairs(ds):
    assert ds.item_counts.tolist() == [2, 2, 1]
    assert ds.user_counts.tolist() == [2, 1, 2]
    assert ds.item_counts.dtype == np.int64
    assert ds.user_counts.dtype == np.int64


def test_subset_keeps_the_catalogue_and_users(ds):
    mask = np.array([True, False, False, False, True, False])
    sub = ds.subset(mask, name="part")
    assert sub.name == "part"
    assert sub.users == ds.users and sub.items == ds.items
    assert (sub.n_users, sub.n_items, sub.n_interactions) == (3, 3, 2)
    assert sub.rating.tolist() == [2.0, 3.0]
    assert sub.timestamp.tolist() == [1.0, 5.0]
    assert sub.item_counts.tolist() == [1, 0, 1]
    assert sub.user_counts.tolist() == [1, 0, 1]
    assert sub.matrix().shape == (3, 3)
    assert ds.subset(mask).name == "toy"
    assert ds.n_interactions == 6  # the original is untouched


def test_subset_keeps_item_text():
    ds = Dataset.from_ids(["u", "v"], ["a", "b"], item_text={"a": "A", "b": "B"})
    sub = ds.subset(np.array([True, False]))
    assert sub.texts() == ["A", "B"]


def test_cold_items_from_item_text_have_zero_counts():
    ds = Dataset.from_ids(
        ["u1", "u2"], ["a", "b"], item_text={"b": "Bee", "cold": "Cold one", "a": "Ay"}
    )
    assert ds.items.ids.tolist() == ["a", "b", "cold"]
    assert ds.texts() == ["Ay", "Bee", "Cold one"]
    assert ds.item_counts.tolist() == [1, 1, 0]
    assert ds.matrix().shape == (2, 3)
    d = ds.describe()
    assert d["items"] == 3 and d["items_with_interactions"] == 2 and d["items_with_text"] == 3


def test_items_missing_from_item_text_get_empty_text():
    ds = Dataset.from_ids(["u1", "u1"], ["a", "b"], item_text={"a": "Ay"})
    assert ds.texts() == ["Ay", ""]
    assert ds.describe()["items_with_text"] == 1


def test_describe(ds):
    d = ds.describe()
    assert d == {
        "name": "toy",
        "users": 3,
        "items": 3,
        "items_with_interactions": 3,
        "interactions": 6,
        "density": pytest.approx(5 / 9),
        "items_with_text": 0,
        "has_rating": True,
        "has_timestamp": True,
    }


def _maps():
    return IdMap(["u1", "u2"]), IdMap(["a", "b", "c"])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"user_idx": [0, 1], "item_idx": [0]}, "same length"),
        ({"rating": [1.0]}, "rating must have one entry per interaction"),
        ({"timestamp": [1.0, 2.0, 3.0]}, "timestamp must have one entry per interaction"),
        ({"item_text": ["a", "b"]}, "item_text must have one entry per item"),
        ({"user_idx": [0, 2]}, "user_idx out of range"),
        ({"user_idx": [-1, 0]}, "user_idx out of range"),
        ({"item_idx": [0, 3]}, "item_idx out of range"),
        ({"item_idx": [-1, 0]}, "item_idx out of range"),
    ],
)
def test_validation_errors(kwargs, message):
    users, items = _maps()
    args = {"user_idx": [0, 1], "item_idx": [0, 2]} | kwargs
    args = {k: np.asarray(v) for k, v in args.items()}
    with pytest.raises(ValueError, match=message):
        Dataset(users=users, items=items, **args)


def test_valid_direct_construction_and_empty_dataset():
    users, items = _maps()
    ds = Dataset(users, items, np.array([1], dtype=np.int64), np.array([2], dtype=np.int64))
    assert ds.matrix().toarray().tolist() == [[0, 0, 0], [0, 0, 1]]
    empty = Dataset(users, items, np.array([], dtype=np.int64), np.array([], dtype=np.int64))
    assert empty.n_interactions == 0
    assert empty.item_counts.tolist() == [0, 0, 0]
    assert empty.matrix().nnz == 0
