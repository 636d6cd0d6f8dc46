"""Fixtures of the re-ranking tests: a small dataset with the popularity bias of real logs."""

from __future__ import annotations

import numpy as np
import pytest

from tailwise.data.dataset import Dataset


def skewed_dataset(n_users: int = 150, n_items: int = 200, seed: int = 0) -> Dataset:
    """Popularity bias as in real logs: item j is chosen with probability ~ 1 / (j + 1)."""
    rng = np.random.default_rng(seed)
    p = 1.0 / np.arange(1, n_items + 1)
    users, items = [], []
    for u in range(n_users):
        for i in rng.choice(n_items, size=8, replace=False, p=p / p.sum()):
            users.append(f"u{u}")
            items.append(f"i{i}")
    return Dataset.from_ids(users, items, name="skewed")


@pytest.fixture(scope="session")
def skewed() -> Dataset:
    return skewed_dataset()
