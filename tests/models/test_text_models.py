"""Text-aware models: the shared contract (with a fake encoder), then real behaviour."""

from __future__ import annotations

import numpy as np
import pytest

from tailwise.models import Adapter, Content, Hybrid
from tailwise.testing.contract import RecommenderContract, random_dataset


@pytest.mark.usefixtures("fake_text")
class TestContent(RecommenderContract):
    checkerboard = False  # parity is not in the text

    def make(self):
        return Content()


@pytest.mark.usefixtures("fake_text")
class TestContentBestMatch(RecommenderContract):
    checkerboard = False

    def make(self):
        return Content(profile="max")


@pytest.mark.usefixtures("fake_text")
class TestAdapter(RecommenderContract):
    checkerboard = False  # the checkerboard items have no text, and the adapter reads only text

    def make(self):
        return Adapter(factors=8)


@pytest.mark.usefixtures("fake_text")
class TestHybrid(RecommenderContract):
    def make(self):
        return Hybrid(l2=1.0, factors=8, tail_share=0.0)


@pytest.mark.usefixtures("fake_text")
class TestHybridTailSlots(RecommenderContract):
    checkerboard = False  # the tail slots reorder the end of the list on purpose

    def make(self):
        return Hybrid(l2=1.0, factors=8, tail_share=0.5)


@pytest.mark.usefixtures("fake_text")
class TestHybridRRF(RecommenderContract):
    checkerboard = False  # rank fusion gives the text side, blind to parity, an equal vote

    def make(self):
        return Hybrid(l2=1.0, factors=8, fusion="rrf", tail_share=0.0)


def _cold_dataset():
    from tailwise.data.dataset import Dataset

    ds = random_dataset(n_users=60, n_items=30)
    text = {i: t for i, t in zip(ds.items.ids.tolist(), ds.texts())}
    text.update({"new1": "Item new1. space opera", "new2": "Item new2. horror"})
    users = ds.users.ids[ds.user_idx]
    items = ds.items.ids[ds.item_idx]
    return Dataset.from_ids(users, items, item_text=text)


@pytest.mark.usefixtures("fake_text")
@pytest.mark.parametrize("make", [Content, lambda: Adapter(factors=8), lambda: Hybrid(l2=1.0, factors=8)])
def test_items_without_interactions_are_recommendable(make):
    ds = _cold_dataset()
    cold = ds.items.indices(["new1", "new2"])
    assert (ds.item_counts[cold] == 0).all()
    model = make().fit(ds)
    recs = model.recommend(np.arange(ds.n_users), ds.matrix(), k=2, candidates=cold)
    assert set(recs.items.ravel().tolist()) <= set(cold.tolist())
    assert (recs.items >= 0).all() and np.isfinite(recs.scores).all()


@pytest.mark.usefixtures("fake_text")
def test_adapter_places_new_texts_like_their_neighbours():
    ds = _cold_dataset()
    model = Adapter(factors=8).fit(ds)
    new = model.vectors_for_texts(["Item new1. space opera"])
    np.testing.assert_allclose(new[0], model.item_vectors_[ds.items.index("new1")], rtol=1e-4, atol=1e-5)


@pytest.mark.usefixtures("fake_text")
def test_hybrid_gate_trusts_cf_for_known_items():
    from tailwise.models.hybrid import zscore

    ds = random_dataset()
    h = Hybrid(l2=1.0, factors=8, tail_share=0.0, alpha=0.0, evidence=1e-9).fit(ds)
    x = ds.matrix()
    users = np.arange(ds.n_users)
    head = ~h.tail_  # the tail takes its own order (test_tail_fusion_*)
    np.testing.assert_allclose(h._score(users, x)[:, head], zscore(h.ease_._score(users, x), x)[:, head], rtol=1e-4, atol=1e-5)


@pytest.mark.usefixtures("fake_text")
def test_tail_slots_follow_the_users_taste():
    """The hybrid's default exposure: the pipeline gives each list its calibrated tail slots."""
    from tailwise.data.popularity import tail_mask
    from tailwise.pipeline import Pipeline
    from tailwise.rerank import TailSlots

    ds = random_dataset(n_users=80, n_items=40, density=0.25)
    pipe = Pipeline.fit(Hybrid(l2=1.0, factors=8, tail_share=1.0), ds)
    x = ds.matrix()
    recs = pipe.run(np.arange(ds.n_users), x, k=10)
    tail = tail_mask(pipe.model.item_counts_, 0.2)
    t_u = np.asarray(x[:, tail].sum(axis=1)).ravel() / np.asarray(x.sum(axis=1)).ravel()
    m_u = TailSlots(1.0).slots(x, 10, tail)
    np.testing.assert_array_equal(m_u, np.clip(np.rint(10 * t_u), 1, 5))
    n_tail = tail[recs.items].sum(axis=1)
    assert (n_tail >= m_u).all(), "every list holds at least its calibrated number of tail items"
    plain = pipe.model.recommend(np.arange(ds.n_users), x, k=10)  # the model alone: no tail slots
    assert (n_tail >= tail[plain.items].sum(axis=1)).all(), "tail slots never lower the tail share"
    off = Pipeline.fit(Hybrid(l2=1.0, factors=8, tail_share=0.0), ds).run(np.arange(ds.n_users), x, k=10)
    assert np.array_equal(off.items, plain.items)


def test_new_user_from_history_and_from_query(tmp_path):
    """Fold-in without refit, with the real encoder: a few items, or only a free-text query."""
    from tailwise.data.dataset import Dataset
    from tailwise.pipeline import Pipeline

    space = ["Star voyage. A crew travels to a distant galaxy in a spaceship", "Moon base. Astronauts live on the moon",
             "Mars rescue. An astronaut stranded on Mars", "Alien contact. A spaceship meets aliens near Jupiter"]
    food = ["Pasta night. A chef cooks Italian pasta", "Cake wars. Bakers compete making chocolate cakes",
            "Sushi master. A cook perfects sushi in Tokyo", "Street food. Cooking tacos and noodles"]  # fmt: skip
    texts = {f"s{i}": t for i, t in enumerate(space)} | {f"f{i}": t for i, t in enumerate(food)}
    users, items = [], []
    for u in range(30):  # half the users like space, half food
        group = "s" if u % 2 else "f"
        for i in range(4):
            if (u + i) % 4:
                users.append(f"u{u}")
                items.append(f"{group}{i}")
    ds = Dataset.from_ids(users, items, item_text=texts)
    pipe = Pipeline.fit(Hybrid(l2=1.0, factors=4, tail_share=0.0, cache_dir=str(tmp_path)), ds)
    hist = pipe.recommend_history(["s0", "s1"], k=3)
    assert pipe.items.id(hist.items[0, 0]) == "s2"  # s0 and s1 are always liked with s2
    assert not {"s0", "s1"} & {pipe.items.id(i) for i in hist.items[0]}
    query = pipe.recommend_query("astronauts in outer space", k=3, seeds=2)
    assert all(pipe.items.id(i).startswith("s") for i in query.items[0])
