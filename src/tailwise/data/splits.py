"""Train/test splits, all seeded: random holdout, temporal, leave-last-out, cold-item, k-fold.

Every split returns :class:`Split` objects whose train and test Datasets share the full catalogue
and user maps, so indices mean the same thing on both sides.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from tailwise.data.dataset import Dataset

SPLITS = ("random", "temporal", "leave-last", "cold-item")


@dataclass(frozen=True)
class Split:
    """A train/test pair; ``cold_items`` lists items held out whole (cold-item split only)."""

    train: Dataset
    test: Dataset
    name: str
    cold_items: np.ndarray | None = None


def _order_within_users(ds: Dataset, key: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Interactions sorted by (user, key); returns the order and each row's rank in its user."""
    order = np.lexsort((np.arange(ds.n_interactions), key, ds.user_idx))
    users = ds.user_idx[order]
    starts = np.r_[0, np.flatnonzero(np.diff(users)) + 1]
    counts = np.diff(np.r_[starts, len(users)])
    rank = np.arange(len(users)) - np.repeat(starts, counts)
    return order, rank


def _split(ds: Dataset, test_mask: np.ndarray, name: str, cold=None) -> Split:
    return Split(ds.subset(~test_mask, f"{ds.name}:train"), ds.subset(test_mask, f"{ds.name}:test"), name, cold)


def random_holdout(ds: Dataset, test_fraction: float = 0.2, seed: int = 42, min_train: int = 1) -> Split:
    """Per user, a random `test_fraction` of interactions goes to test.

    Each user keeps at least `min_train` training interactions; a user with fewer than
    ``min_train + 1`` interactions stays entirely in train. The number held out per user is
    ``round(test_fraction * n_u)``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), not {test_fraction}")
    rng = np.random.default_rng(seed)
    order, rank = _order_within_users(ds, rng.random(ds.n_interactions))
    n_u = ds.user_counts_all()[ds.user_idx[order]]
    n_test = np.minimum(np.rint(test_fraction * n_u), np.maximum(n_u - min_train, 0))
    mask = np.zeros(ds.n_interactions, dtype=bool)
    mask[order[rank < n_test]] = True
    return _split(ds, mask, f"random-{test_fraction:g}")


def temporal(ds: Dataset, test_fraction: float = 0.2) -> Split:
    """Global time cut: the latest `test_fraction` of all interactions go to test.

    Users who appear only after the cut have no training history; evaluation skips them
    (or serves them the unknown-user fallback).
    """
    _check_fraction("test_fraction", test_fraction)
    ts = _require_time(ds, "temporal")
    cut = np.quantile(ts, 1.0 - test_fraction, method="lower")
    return _split(ds, ts > cut, f"temporal-{test_fraction:g}")


def leave_last_out(ds: Dataset, n_last: int = 1) -> Split:
    """Per user, the last `n_last` interactions by time go to test (users keep at least one)."""
    ts = _require_time(ds, "leave-last-out")
    order, rank = _order_within_users(ds, -ts)  # rank 0 = latest
    n_u = ds.user_counts_all()[ds.user_idx[order]]
    mask = np.zeros(ds.n_interactions, dtype=bool)
    mask[order[(rank < n_last) & (n_u > n_last)]] = True
    return _split(ds, mask, f"leave-last-{n_last}")


def cold_items(ds: Dataset, item_fraction: float = 0.1, seed: int = 42) -> Split:
    """A random `item_fraction` of the items with interactions is held out with all of them.

    The cold items stay in the catalogue (with their text) but have no training interaction;
    evaluate by ranking among ``split.cold_items`` (the ``candidates`` whitelist).
    """
    _check_fraction("item_fraction", item_fraction)
    rng = np.random.default_rng(seed)
    active = np.flatnonzero(np.bincount(ds.item_idx, minlength=ds.n_items) > 0)
    n_cold = max(1, int(round(item_fraction * len(active))))
    cold = np.sort(rng.choice(active, size=n_cold, replace=False))
    is_cold = np.zeros(ds.n_items, dtype=bool)
    is_cold[cold] = True
    return _split(ds, is_cold[ds.item_idx], f"cold-item-{item_fraction:g}", cold)


def k_fold(ds: Dataset, n_folds: int = 5, seed: int = 42) -> Iterator[Split]:
    """Per user, interactions are dealt at random into `n_folds` folds; fold f is test in turn.

    Every interaction is in exactly one test fold.
    """
    if n_folds < 2:
        raise ValueError(f"n_folds must be at least 2, not {n_folds}")
    rng = np.random.default_rng(seed)
    order, rank = _order_within_users(ds, rng.random(ds.n_interactions))
    offset = rng.integers(0, n_folds, size=ds.n_users)[ds.user_idx[order]]
    fold = np.empty(ds.n_interactions, dtype=np.int64)
    fold[order] = (rank + offset) % n_folds
    for f in range(n_folds):
        yield _split(ds, fold == f, f"fold-{f + 1}-of-{n_folds}")


def _check_fraction(label: str, value: float) -> None:
    if not 0.0 < value < 1.0:
        raise ValueError(f"{label} must be in (0, 1), not {value}")


def _require_time(ds: Dataset, what: str) -> np.ndarray:
    if ds.timestamp is None:
        raise ValueError(
            f"the {what} split needs timestamps, and dataset {ds.name!r} has none; "
            "use the random split instead"
        )
    return ds.timestamp


def make_split(ds: Dataset, name: str, test_fraction: float = 0.2, seed: int = 42) -> Split:
    """A split by name: ``random``, ``temporal``, ``leave-last`` or ``cold-item``."""
    if name == "random":
        return random_holdout(ds, test_fraction, seed)
    if name == "temporal":
        return temporal(ds, test_fraction)
    if name == "leave-last":
        return leave_last_out(ds)
    if name == "cold-item":
        return cold_items(ds, test_fraction, seed)
    raise ValueError(f"unknown split {name!r}; choose from {', '.join(SPLITS)}")
