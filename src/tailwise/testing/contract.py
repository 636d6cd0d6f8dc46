"""Contract tests every recommender passes; a model's test file reuses them in three lines::

    class TestEASE(RecommenderContract):
        def make(self):
            return EASE(l2=1.0)

The checks: fit returns self, refit is deterministic, batch equals single, seen items are
excluded, the whitelist is respected, k larger than the catalogue pads with -1, saved and loaded
models give identical lists, unknown users are scored from their history, and (unless the model
sets ``checkerboard = False``) the checkerboard: user u must get item u first.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from tailwise.data.dataset import Dataset
from tailwise.models.base import Recommender


def random_dataset(n_users: int = 40, n_items: int = 30, density: float = 0.2, seed: int = 0) -> Dataset:
    """A small random dataset where every user has at least two interactions."""
    rng = np.random.default_rng(seed)
    mask = rng.random((n_users, n_items)) < density
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    mask[np.arange(n_users), rng.integers(0, n_items, n_users)] = True
    u, i = np.nonzero(mask)
    genres = ["space opera", "romantic comedy", "crime drama", "nature documentary", "horror"]
    text = {f"i{x}": f"Item {x}. {genres[x % len(genres)]}" for x in range(n_items)}
    return Dataset.from_ids([f"u{x}" for x in u], [f"i{x}" for x in i], item_text=text, name="random")


def checkerboard(n: int = 20) -> Dataset:
    """User u has every item of its own parity except item u, so item u is its best unseen item."""
    u, i = np.nonzero((np.add.outer(np.arange(n), np.arange(n)) % 2 == 0) & ~np.eye(n, dtype=bool))
    users = [f"u{x}" for x in range(n)] + [f"u{x}" for x in u]
    items = [f"i{x}" for x in range(n)] + [f"i{x}" for x in i]
    ds = Dataset.from_ids(users, items, name="checkerboard")  # fixes index order to 0..n-1
    return ds.subset(np.arange(ds.n_interactions) >= n)


class RecommenderContract:
    """Mix-in of contract tests; subclasses implement :meth:`make`."""

    checkerboard = True
    fold_in = True

    def make(self) -> Recommender:
        raise NotImplementedError

    def _fitted(self, ds: Dataset | None = None) -> tuple[Recommender, Dataset]:
        ds = ds or random_dataset()
        return self.make().fit(ds), ds

    def _all(self, model: Recommender, ds: Dataset, k: int = 5, **kw):
        return model.recommend(np.arange(ds.n_users), ds.matrix(), k=k, **kw)

    def test_fit_returns_self(self) -> None:
        model = self.make()
        assert model.fit(random_dataset()) is model

    def test_refit_is_deterministic(self) -> None:
        ds = random_dataset()
        a = self._all(self.make().fit(ds), ds)
        b = self._all(self.make().fit(ds), ds)
        np.testing.assert_array_equal(a.items, b.items)
        np.testing.assert_allclose(a.scores, b.scores, rtol=1e-5)

    def test_batch_equals_single(self) -> None:
        model, ds = self._fitted()
        batch = self._all(model, ds)
        x = ds.matrix()
        for u in range(ds.n_users):
            one = model.recommend(np.array([u]), x[u], k=5)
            np.testing.assert_array_equal(one.items[0], batch.items[u])

    def test_small_batches_equal_one_batch(self) -> None:
        model, ds = self._fitted()
        np.testing.assert_array_equal(
            self._all(model, ds).items, self._all(model, ds, batch_size=7).items
        )

    def test_excludes_seen_items(self) -> None:
        model, ds = self._fitted()
        recs = self._all(model, ds, k=10)
        x = ds.matrix().toarray()
        for u, row in enumerate(recs.items):
            row = row[row >= 0]
            assert not x[u, row].any(), f"user {u} was recommended an item seen in training"
            assert len(set(row.tolist())) == len(row)

    def test_can_include_seen_items(self) -> None:
        model, ds = self._fitted()
        recs = self._all(model, ds, k=ds.n_items, exclude_seen=False)
        assert (recs.items >= 0).all()

    def test_whitelist(self) -> None:
        model, ds = self._fitted()
        allowed = np.array([1, 3, 5, 7, 11])
        recs = self._all(model, ds, k=10, candidates=allowed)
        assert set(recs.items[recs.items >= 0].tolist()) <= set(allowed.tolist())
        assert (recs.items[:, 5:] == -1).all()

    def test_k_larger_than_catalogue(self) -> None:
        model, ds = self._fitted()
        recs = self._all(model, ds, k=ds.n_items + 10)
        assert recs.items.shape == (ds.n_users, ds.n_items + 10)
        seen = np.diff(ds.matrix().indptr)
        np.testing.assert_array_equal((recs.items >= 0).sum(axis=1), ds.n_items - seen)
        assert np.isneginf(recs.scores[recs.items < 0]).all()

    def test_scores_are_sorted(self) -> None:
        model, ds = self._fitted()
        s = self._all(model, ds, k=10).scores
        assert (np.diff(s, axis=1) <= 0).all()

    def test_save_load_identity(self, tmp_path: Path) -> None:
        from tailwise.pipeline import Pipeline

        ds = random_dataset()
        pipe = Pipeline.fit(self.make(), ds)
        pipe.save(tmp_path / "model")
        loaded = Pipeline.load(tmp_path / "model")
        users = ds.users.ids.tolist()
        a, b = pipe.recommend(users, k=8), loaded.recommend(users, k=8)
        np.testing.assert_array_equal(a.items, b.items)
        np.testing.assert_array_equal(a.scores, b.scores)
        assert loaded.model.get_params() == pipe.model.get_params()

    def test_unknown_user_scored_from_history(self) -> None:
        if not self.fold_in:
            return
        model, ds = self._fitted()
        x = ds.matrix()
        known = model.recommend(np.array([0]), x[0], k=5)
        folded = model.recommend(np.array([-1]), x[0], k=5)
        assert (folded.items >= 0).all()
        assert not set(folded.items[0].tolist()) & set(x[0].indices.tolist())
        assert len(set(folded.items[0].tolist()) & set(known.items[0].tolist())) >= 2

    def test_checkerboard(self) -> None:
        if not self.checkerboard:
            return
        ds = checkerboard()
        model = self.make().fit(ds)
        recs = self._all(model, ds, k=1)
        np.testing.assert_array_equal(recs.items[:, 0], np.arange(ds.n_users))

    def test_unfitted_model_raises(self) -> None:
        from tailwise.errors import NotFittedError

        try:
            self.make().recommend(np.array([0]), sp.csr_matrix((1, 3)), k=1)
        except NotFittedError:
            return
        raise AssertionError("recommend before fit must raise NotFittedError")
