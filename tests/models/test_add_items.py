"""New items known only by their text (cold start while serving): the models' add_items and
update_item_texts hooks, and Pipeline.add_items. A fast fake encoder stands in for the real one
(tests/service runs the real encoder end to end)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from tailwise.models import EASE, Adapter, Content, Hybrid, ItemKNN, Popular, make_model
from tailwise.models.base import ColdStartError
from tailwise.pipeline import Pipeline
from tailwise.testing.contract import random_dataset

pytestmark = pytest.mark.usefixtures("fake_text")

TEXT_MODELS = {
    "content": lambda: Content(),
    "adapter": lambda: Adapter(factors=8),
    "hybrid": lambda: Hybrid(l2=1.0, factors=8),
}
NEW = ["Item new1. space opera", "Item new2. horror"]


@pytest.fixture(params=sorted(TEXT_MODELS))
def fitted(request):
    ds = random_dataset(n_users=60, n_items=30)
    return TEXT_MODELS[request.param]().fit(ds), ds


def test_new_items_are_scored_at_once_and_the_original_is_untouched(fitted):
    model, ds = fitted
    before = model.recommend(np.arange(ds.n_users), ds.matrix(), k=5)
    grown = copy.copy(model)
    grown.add_items(NEW)
    assert grown.n_items_ == ds.n_items + 2 and model.n_items_ == ds.n_items
    rows = ds.matrix()
    wide = type(rows)((rows.data, rows.indices, rows.indptr), shape=(rows.shape[0], ds.n_items + 2))
    cold = np.arange(ds.n_items, ds.n_items + 2)
    recs = grown.recommend(np.arange(ds.n_users), wide, k=2, candidates=cold)
    assert set(recs.items.ravel().tolist()) == set(cold.tolist()) and np.isfinite(recs.scores).all()
    # the space-opera user base prefers the space-opera newcomer to the horror one
    space_fans = [u for u in range(ds.n_users) if sum("space opera" in ds.texts()[i] for i in rows[u].indices) >= 2]
    first = recs.items[space_fans, 0]
    assert (first == ds.n_items).mean() > 0.5
    after = model.recommend(np.arange(ds.n_users), ds.matrix(), k=5)  # the original still serves
    np.testing.assert_array_equal(before.items, after.items)


def test_grown_model_saves_and_loads(fitted, tmp_path):
    model, ds = fitted
    model.add_items(NEW)
    again = make_model(model.name, **model.get_params()).set_state(model.get_state())
    rows = ds.matrix()
    wide = type(rows)((rows.data, rows.indices, rows.indptr), shape=(rows.shape[0], ds.n_items + 2))
    a = model.recommend(np.arange(ds.n_users), wide, k=5)
    b = again.recommend(np.arange(ds.n_users), wide, k=5)
    np.testing.assert_array_equal(a.items, b.items)


def test_updating_a_text_moves_only_that_item(fitted):
    model, ds = fitted
    j = ds.items.index("i4")  # a horror film
    users = np.flatnonzero(ds.matrix()[:, j].toarray().ravel() == 0)[:3]  # (its text is not in their profile)
    rows = ds.matrix()[users]
    old = model._score(users, rows).copy()
    grown = copy.copy(model)
    grown.update_item_texts(np.array([j]), ["Item 4. space opera"])
    new = grown._score(users, rows)
    assert not np.allclose(old[:, j], new[:, j])
    if model.name != "hybrid":  # (the hybrid z-scores per user, so every score shifts a little)
        np.testing.assert_allclose(np.delete(old, j, axis=1), np.delete(new, j, axis=1), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(model._score(users, rows), old)  # original kept


def test_hybrid_gives_new_items_no_cf_weight_and_shares_the_ease_matrix():
    ds = random_dataset(n_users=60, n_items=30)
    model = Hybrid(l2=1.0, factors=8, tail_share=0.0).fit(ds)
    grown = copy.copy(model)
    grown.add_items(NEW)
    assert grown.ease_.weights_ is model.ease_.weights_  # no copy of the EASE matrix
    assert grown.item_counts_[-2:].tolist() == [0.0, 0.0]
    rows = ds.matrix()[:5]
    wide = type(rows)((rows.data, rows.indices, rows.indptr), shape=(5, ds.n_items + 2))
    cf = grown.ease_._score(np.arange(5), wide)
    assert (cf[:, -2:] == 0).all()  # scored like items without interactions at fit time


@pytest.mark.parametrize("make", [Popular, EASE, lambda: ItemKNN(neighbours=5)])
def test_models_without_text_refuse_new_items(make):
    model = make().fit(random_dataset())
    with pytest.raises(ColdStartError, match="cannot score new items"):
        model.add_items(["a new item"])
    model.update_item_texts(np.array([0]), ["new text"])  # harmless: they do not read text


def test_pipeline_add_items_grows_ids_history_and_texts():
    ds = random_dataset(n_users=40, n_items=20)
    pipe = Pipeline.fit(Hybrid(l2=1.0, factors=8), ds)
    original = copy.copy(pipe)
    row_before = pipe.history[3].toarray().copy()
    added, updated = pipe.add_items(["new1", "i3", "new2", "new1"], ["Item new1. first", "Item 3. horror", "Item new2. x", "Item new1. space opera"])
    assert (added, updated) == (2, 1)
    assert pipe.items.ids[-2:].tolist() == ["new1", "new2"] and len(pipe.items) == 22
    assert pipe.history.shape == (40, 22) and pipe.model.n_items_ == 22
    assert pipe.item_text[-2] == "Item new1. space opera" and pipe.item_text[pipe.items.index("i3")] == "Item 3. horror"
    np.testing.assert_array_equal(pipe.history[3].toarray()[:, :20], row_before)  # interactions kept
    assert len(original.items) == 20 and original.model.n_items_ == 20  # the copy it came from is intact
    lists = pipe.recommend_history(["i0", "new1"], k=5)
    assert (lists.items >= 0).all() and pipe.items.index("new1") not in lists.items[0]


def test_pipeline_add_items_is_all_or_nothing():
    ds = random_dataset(n_users=40, n_items=20)
    pipe = Pipeline.fit(EASE(l2=1.0), ds)
    with pytest.raises(ColdStartError):
        pipe.add_items(["i1", "brand-new"], ["Item 1. new text", "Item brand-new"])
    assert len(pipe.items) == 20 and pipe.item_text == ds.texts()
    assert pipe.add_items(["i1"], ["Item 1. new text"]) == (0, 1)  # updates alone are fine
    assert pipe.item_text[pipe.items.index("i1")] == "Item 1. new text"


@pytest.mark.slow
def test_twotower_places_new_items_with_its_item_tower():
    pytest.importorskip("torch")
    from tailwise.models.twotower import TwoTower

    ds = random_dataset(n_users=40, n_items=20)
    model = TwoTower(dim=8, hidden=16, epochs=3, batch_size=64, progress=False, device="cpu").fit(ds)
    counts = np.diff(ds.matrix().tocsc().indptr)
    warm = np.flatnonzero(counts > 0)[0]
    gq = model.item_vectors_[warm] - model._item_tower(model.embeddings_[warm : warm + 1])[0]
    assert np.linalg.norm(gq) > 0  # the id embedding counts for an item with evidence
    grown = copy.copy(model)
    grown.add_items(NEW)
    np.testing.assert_allclose(grown.item_vectors_[-2:], grown._item_tower(grown.embeddings_[-2:]), rtol=1e-6)
    assert grown.context_vectors_.shape == (22, 8) and not grown.context_vectors_[-2:].any()
    grown.update_item_texts(np.array([warm]), ["Item x. space opera"])
    gq_after = grown.item_vectors_[warm] - grown._item_tower(grown.embeddings_[warm : warm + 1])[0]
    np.testing.assert_allclose(gq_after, gq, rtol=1e-4, atol=1e-5)  # the evidence part stays
    assert model.n_items_ == 20 and len(model.item_vectors_) == 20
