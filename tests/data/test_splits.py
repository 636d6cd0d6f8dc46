"""Splits: every split partitions the interactions exactly, shares the id maps and is seeded."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from tailwise.data import Dataset, load_demo
from tailwise.data.splits import (
    SPLITS,
    Split,
    cold_items,
    k_fold,
    leave_last_out,
    make_split,
    random_holdout,
    temporal,
)


# ---------------------------------------------------------------------------------- helpers
def synthetic(seed: int = 0, n_users: int = 40, n_items: int = 30, time: bool = True) -> Dataset:
    """Users with 1..20 interactions (users 0, 1, 2 have exactly 1, 2, 3), repeated pairs and
    tied timestamps; `rating` holds the row number, so every row is identifiable."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 21, n_users)
    counts[:3] = [1, 2, 3]
    users = np.repeat(np.arange(n_users), counts)
    perm = rng.permutation(len(users))  # interleave users in row order
    users = users[perm]
    items = rng.integers(0, n_items, len(users))
    ts = rng.integers(0, 60, len(users)).astype(float) if time else None
    return Dataset.from_ids(
        [f"u{u}" for u in users],
        [f"i{i}" for i in items],
        rating=np.arange(len(users), dtype=np.float32),
        timestamp=ts,
        name="synthetic",
    )


def tags(ds: Dataset) -> set[int]:
    return set(ds.rating.astype(np.int64).tolist())


def rows(ds: Dataset) -> Counter:
    """The interactions as a multiset of (user, item, timestamp, rating) tuples."""
    ts = ds.timestamp if ds.timestamp is not None else np.zeros(ds.n_interactions)
    rating = ds.rating if ds.rating is not None else np.zeros(ds.n_interactions)
    return Counter(zip(ds.user_idx.tolist(), ds.item_idx.tolist(), ts.tolist(), rating.tolist()))


def assert_partition(ds: Dataset, split: Split) -> None:
    """Train and test are disjoint, together exactly `ds`, and share its id maps and text."""
    train, test = split.train, split.test
    assert train.n_interactions + test.n_interactions == ds.n_interactions
    assert rows(train) + rows(test) == rows(ds)
    if ds.rating is not None and len(np.unique(ds.rating)) == ds.n_interactions:
        assert not tags(train) & tags(test)
        assert tags(train) | tags(test) == tags(ds)
    for side in (train, test):
        assert side.users is ds.users and side.items is ds.items
        assert side.item_text is ds.item_text
        # each side keeps the original row order
        order = side.rating if ds.rating is not None else None
        if order is not None and len(np.unique(ds.rating)) == ds.n_interactions:
            assert (np.diff(order) > 0).all()


def per_user(ds: Dataset) -> np.ndarray:
    return np.bincount(ds.user_idx, minlength=ds.n_users)


def held_out(split: Split) -> set[int]:
    return tags(split.test)




@pytest.fixture
def ds() -> Dataset:
    return synthetic()


# ---------------------------------------------------------------------------------- random
def test_random_holdout_partitions(ds):
    assert_partition(ds, random_holdout(ds, 0.2, seed=1))


def test_random_holdout_per_user_counts(ds):
    split = random_holdout(ds, 0.2, seed=1)
    n_u = per_user(ds)
    n_test = per_user(split.test)
    n_train = per_user(split.train)
    expected = np.array([min(round(0.2 * n), n - 1) for n in n_u])
    np.testing.assert_array_equal(n_test, expected)
    assert (n_train >= 1).all()
    one = ds.users.index("u0")  # the single-interaction user stays in train
    assert n_u[one] == 1 and n_test[one] == 0 and n_train[one] == 1
    assert split.name == "random-0.2"


def test_random_holdout_fraction_near_one_keeps_one_train_row(ds):
    split = random_holdout(ds, 0.95, seed=3)
    assert (per_user(split.train) == 1).all()
    assert_partition(ds, split)


def test_random_holdout_is_seeded(ds):
    a, b = random_holdout(ds, seed=7), random_holdout(ds, seed=7)
    assert held_out(a) == held_out(b)
    assert held_out(a) != held_out(random_holdout(ds, seed=8))


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_random_holdout_bad_fraction(ds, fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        random_holdout(ds, fraction)


def test_random_holdout_without_timestamps():
    ds = synthetic(time=False)
    assert_partition(ds, random_holdout(ds))


# ---------------------------------------------------------------------------------- temporal
def test_temporal_partitions_and_cuts_in_time(ds):
    split = temporal(ds, 0.2)
    assert_partition(ds, split)
    assert split.test.n_interactions > 0
    assert split.test.timestamp.min() > split.train.timestamp.max()
    assert split.test.n_interactions <= round(0.2 * ds.n_interactions) + 1


def test_temporal_exact_size_with_distinct_times():
    rng = np.random.default_rng(5)
    n = 100
    ts = rng.permutation(n).astype(float)
    ds = Dataset.from_ids(
        [f"u{x}" for x in rng.integers(0, 10, n)],
        [f"i{x}" for x in rng.integers(0, 20, n)],
        rating=np.arange(n),
        timestamp=ts,
    )
    split = temporal(ds, 0.2)
    assert_partition(ds, split)
    assert split.test.n_interactions == 20
    assert sorted(split.test.timestamp.tolist()) == list(range(80, 100))


def test_temporal_is_deterministic(ds):
    assert held_out(temporal(ds)) == held_out(temporal(ds))


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2, 1.5])
def test_temporal_bad_fraction(ds, fraction):
    with pytest.raises(ValueError):
        temporal(ds, fraction)


# ---------------------------------------------------------------------------------- leave last
def test_leave_last_out(ds):
    split = leave_last_out(ds)
    assert_partition(ds, split)
    n_u = per_user(ds)
    n_test = per_user(split.test)
    np.testing.assert_array_equal(n_test, (n_u > 1).astype(int))
    one = ds.users.index("u0")  # the single-interaction user has no test
    assert n_u[one] == 1 and n_test[one] == 0
    for u in np.flatnonzero(n_test):
        t = split.test.timestamp[split.test.user_idx == u][0]
        assert t == ds.timestamp[ds.user_idx == u].max()
        assert t >= split.train.timestamp[split.train.user_idx == u].max()


def test_leave_last_out_ties_go_to_first_row():
    # u1: two rows tied at the latest time -> the first of them (row 1) is the test row
    ds = Dataset.from_ids(
        ["u1", "u1", "u1", "u2"], ["a", "b", "c", "a"], rating=[0, 1, 2, 3], timestamp=[1, 5, 5, 2]
    )
    split = leave_last_out(ds)
    assert split.test.rating.tolist() == [1.0]


def test_leave_last_n(ds):
    split = leave_last_out(ds, n_last=2)
    assert_partition(ds, split)
    n_u = per_user(ds)
    np.testing.assert_array_equal(per_user(split.test), np.where(n_u > 2, 2, 0))


# ---------------------------------------------------------------------------------- cold items
def test_cold_items(ds):
    split = cold_items(ds, 0.1, seed=3)
    assert_partition(ds, split)
    cold = split.cold_items
    active = np.flatnonzero(np.bincount(ds.item_idx, minlength=ds.n_items) > 0)
    assert len(cold) == max(1, round(0.1 * len(active)))
    assert (np.diff(cold) > 0).all()  # sorted, no duplicates
    assert set(cold.tolist()) <= set(active.tolist())
    assert not np.isin(split.train.item_idx, cold).any()
    assert np.isin(split.test.item_idx, cold).all()
    assert split.test.n_interactions == np.isin(ds.item_idx, cold).sum()


def test_cold_items_keeps_text_and_catalogue():
    base = synthetic()
    text = {f"i{i}": f"item {i}" for i in range(35)}  # five more items than have interactions
    ds = Dataset.from_ids(
        base.users.ids[base.user_idx],
        base.items.ids[base.item_idx],
        rating=base.rating,
        item_text=text,
    )
    split = cold_items(ds, 0.2, seed=0)
    assert_partition(ds, split)
    assert split.train.n_items == ds.n_items == 35
    assert split.train.texts() == ds.texts()
    # items without interactions are never chosen as cold items
    assert (np.bincount(ds.item_idx, minlength=ds.n_items)[split.cold_items] > 0).all()


def test_cold_items_is_seeded(ds):
    a, b = cold_items(ds, seed=1), cold_items(ds, seed=1)
    np.testing.assert_array_equal(a.cold_items, b.cold_items)
    assert held_out(a) == held_out(b)
    c1, c2 = cold_items(ds, 0.3, seed=1).cold_items, cold_items(ds, 0.3, seed=2).cold_items
    assert not np.array_equal(c1, c2)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_cold_items_bad_fraction(ds, fraction):
    with pytest.raises(ValueError):
        cold_items(ds, fraction)


# ---------------------------------------------------------------------------------- k-fold
def test_k_fold(ds):
    folds = list(k_fold(ds, n_folds=4, seed=2))
    assert [f.name for f in folds] == [f"fold-{i}-of-4" for i in range(1, 5)]
    seen = Counter()
    for f in folds:
        assert_partition(ds, f)
        seen.update(tags(f.test))
    assert set(seen) == tags(ds)
    assert set(seen.values()) == {1}  # each interaction is test in exactly one fold
    sizes = np.stack([per_user(f.test) for f in folds])  # [fold, user]
    assert (sizes.max(axis=0) - sizes.min(axis=0) <= 1).all()
    np.testing.assert_array_equal(sizes.sum(axis=0), per_user(ds))


def test_k_fold_is_seeded(ds):
    def folds(seed):
        return [held_out(f) for f in k_fold(ds, 3, seed=seed)]

    assert folds(4) == folds(4)
    assert folds(4) != folds(5)


def test_k_fold_needs_two_folds(ds):
    with pytest.raises(ValueError, match="n_folds"):
        list(k_fold(ds, n_folds=1))


# ---------------------------------------------------------------------------------- make_split
def test_make_split_dispatches(ds):
    pairs = {
        "random": random_holdout(ds, 0.3, seed=9),
        "temporal": temporal(ds, 0.3),
        "leave-last": leave_last_out(ds),
        "cold-item": cold_items(ds, 0.3, seed=9),
    }
    assert set(pairs) == set(SPLITS)
    for name, direct in pairs.items():
        made = make_split(ds, name, test_fraction=0.3, seed=9)
        assert_partition(ds, made)
        assert made.name == direct.name
        assert held_out(made) == held_out(direct)


def test_make_split_unknown_name(ds):
    with pytest.raises(ValueError, match="unknown split 'nope'"):
        make_split(ds, "nope")


@pytest.mark.parametrize("name", ["temporal", "leave-last"])
def test_time_splits_need_timestamps(name):
    ds = synthetic(time=False)
    with pytest.raises(ValueError, match="needs timestamps.*use the random split"):
        make_split(ds, name)


def test_time_splits_need_timestamps_direct():
    ds = synthetic(time=False)
    for fn in (temporal, leave_last_out):
        with pytest.raises(ValueError, match="'synthetic' has none"):
            fn(ds)


# ---------------------------------------------------------------------------------- demo
@pytest.fixture(scope="module")
def demo() -> Dataset:
    return load_demo()


@pytest.mark.parametrize("name", SPLITS)
def test_demo_splits(demo, name):
    split = make_split(demo, name, seed=42)
    assert_partition(demo, split)
    train, test = split.train, split.test
    n_u = per_user(demo)
    if name == "random":
        expected = np.minimum(np.rint(0.2 * n_u), n_u - 1)
        np.testing.assert_array_equal(per_user(test), expected)
    elif name == "temporal":
        assert test.timestamp.min() > train.timestamp.max()
        assert abs(test.n_interactions - 0.2 * demo.n_interactions) < 0.01 * demo.n_interactions
    elif name == "leave-last":
        np.testing.assert_array_equal(per_user(test), (n_u > 1).astype(int))
        latest = np.full(demo.n_users, -np.inf)
        np.maximum.at(latest, demo.user_idx, demo.timestamp)
        np.testing.assert_array_equal(test.timestamp, latest[test.user_idx])
    else:
        active = (demo.item_counts > 0).sum()
        assert len(split.cold_items) == round(0.2 * active)
        assert not np.isin(train.item_idx, split.cold_items).any()
        assert train.item_counts[split.cold_items].sum() == 0
