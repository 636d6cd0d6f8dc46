"""Model directories: atomic writes, manifest errors and the Pipeline save/load round trip."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from tailwise import artifacts
from tailwise.artifacts import (
    FORMAT_VERSION,
    atomic_write_text,
    read_arrays,
    read_manifest,
    write_dir,
)
from tailwise.data import Dataset
from tailwise.errors import DataError
from tailwise.models import EASE
from tailwise.pipeline import Pipeline
from tailwise.testing.contract import random_dataset


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------------------------- atomic file
def test_atomic_write_text_creates_and_replaces(tmp_path):
    path = tmp_path / "deep" / "er" / "out.txt"
    atomic_write_text(path, "first\n")
    assert path.read_text(encoding="utf-8") == "first\n"
    atomic_write_text(path, "zweite Zeile ✓\r\n")
    assert path.read_bytes() == "zweite Zeile ✓\r\n".encode()  # no newline translation
    assert names(path.parent) == ["out.txt"]


def test_atomic_write_text_failure_keeps_old_file(tmp_path, monkeypatch):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old")

    def broken_replace(src, dst):
        raise OSError("disk on fire")

    monkeypatch.setattr(artifacts.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk on fire"):
        atomic_write_text(path, "new")
    assert path.read_text(encoding="utf-8") == "old"
    assert names(tmp_path) == ["out.txt"]


def test_atomic_write_text_failure_while_writing(tmp_path):
    path = tmp_path / "out.txt"
    atomic_write_text(path, "old")
    with pytest.raises(UnicodeEncodeError):
        atomic_write_text(path, "bad \udc80 surrogate")
    assert path.read_text(encoding="utf-8") == "old"
    assert names(tmp_path) == ["out.txt"]


# ---------------------------------------------------------------------------------- atomic dir
def _write(target: Path, value: int, texts: dict | None = None) -> Path:
    return write_dir(
        target,
        {"model": "test", "value": value},
        {"arrays": {"x": np.arange(value)}},
        texts if texts is not None else {"items.json": ["a", "b"]},
    )


def test_write_dir_creates_and_replaces(tmp_path):
    target = tmp_path / "model"
    assert _write(target, 3) == target
    assert names(target) == ["arrays.npz", "items.json", "manifest.json"]
    _write(target, 5)
    assert read_manifest(target)["value"] == 5
    np.testing.assert_array_equal(read_arrays(target / "arrays.npz")["x"], np.arange(5))
    assert names(tmp_path) == ["model"]  # neither the temp dir nor the old one is left


def test_write_dir_unserialisable_text_keeps_old_dir(tmp_path):
    target = tmp_path / "model"
    _write(target, 3)
    before = {p.name: p.read_bytes() for p in target.iterdir()}
    with pytest.raises(TypeError):
        _write(target, 7, {"items.json": ["fine"], "bad.json": {"x": object()}})
    assert {p.name: p.read_bytes() for p in target.iterdir()} == before
    assert names(tmp_path) == ["model"]


def test_write_dir_failed_swap_keeps_old_dir(tmp_path, monkeypatch):
    """The new directory cannot be moved into place: the old one must still be there."""
    target = tmp_path / "model"
    _write(target, 3)
    real_replace = os.replace
    failed = []

    def replace(src, dst):
        if Path(dst) == target and not failed:
            failed.append(src)
            raise OSError("swap failed")
        return real_replace(src, dst)

    monkeypatch.setattr(artifacts.os, "replace", replace)
    with pytest.raises(OSError, match="swap failed"):
        _write(target, 7)
    assert failed
    assert read_manifest(target)["value"] == 3
    np.testing.assert_array_equal(read_arrays(target / "arrays.npz")["x"], np.arange(3))
    assert names(tmp_path) == ["model"]


def test_write_dir_failure_without_old_dir_leaves_nothing(tmp_path):
    with pytest.raises(TypeError):
        _write(tmp_path / "model", 2, {"bad.json": {1, 2}})
    assert names(tmp_path) == []


# ---------------------------------------------------------------------------------- manifest
def test_read_manifest_missing_dir(tmp_path):
    with pytest.raises(DataError, match="no manifest.json"):
        read_manifest(tmp_path / "nowhere")


def test_read_manifest_missing_manifest(tmp_path):
    (tmp_path / "model.npz").write_bytes(b"")
    with pytest.raises(DataError, match="not a tailwise model directory") as info:
        read_manifest(tmp_path)
    assert isinstance(info.value, ValueError)


def test_read_manifest_invalid_json(tmp_path):
    bad = '{\n  "format": 1,\n  "model": oops\n}\n'  # line 3 is broken
    (tmp_path / "manifest.json").write_text(bad, encoding="utf-8")
    with pytest.raises(DataError, match="not valid JSON") as info:
        read_manifest(tmp_path)
    assert info.value.line == 3
    assert info.value.path.endswith("manifest.json")
    assert "line 3" in str(info.value)


@pytest.mark.parametrize("version", [FORMAT_VERSION + 1, None, "1"])
def test_read_manifest_unsupported_format(tmp_path, version):
    manifest = {"model": "ease"} if version is None else {"format": version, "model": "ease"}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(DataError, match="is not supported") as info:
        read_manifest(tmp_path)
    assert info.value.field == "format"


def test_load_unknown_model_name(tmp_path):
    pipe = Pipeline.fit(EASE(l2=10.0), random_dataset())
    pipe.save(tmp_path / "model")
    path = tmp_path / "model" / "manifest.json"
    manifest = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**manifest, "model": "nonesuch"}), encoding="utf-8")
    with pytest.raises(DataError, match="unknown model 'nonesuch'"):
        Pipeline.load(tmp_path / "model")


# ---------------------------------------------------------------------------------- pipeline
@pytest.fixture(scope="module")
def dataset() -> Dataset:
    """random_dataset() with item text (unicode, empty strings) and two cold catalogue items."""
    ds = random_dataset()
    ids = ds.items.ids.tolist()
    text = {item: (f"Ítem {n} — «{item}» ✓" if n % 3 else "") for n, item in enumerate(ids)}
    text.update({"cold-1": "never seen", "cold-2": "漢字"})
    users, items = ds.users.ids[ds.user_idx], ds.items.ids[ds.item_idx]
    return Dataset.from_ids(users, items, item_text=text, name="random")


@pytest.fixture(scope="module")
def saved(dataset, tmp_path_factory) -> tuple[Pipeline, Path]:
    pipe = Pipeline.fit(EASE(l2=20.0), dataset)
    directory = tmp_path_factory.mktemp("artifacts") / "ease"
    assert pipe.save(directory) == directory
    return pipe, directory


def test_save_load_reproduces_recommendations(saved, dataset):
    pipe, directory = saved
    loaded = Pipeline.load(directory)
    users = dataset.users.ids.tolist()
    for kw in ({"k": 10}, {"k": 7, "candidates": np.array([0, 3, 5, 8, 13, 21, 31])}):
        a, b = pipe.recommend(users, **kw), loaded.recommend(users, **kw)
        np.testing.assert_array_equal(a.items, b.items)
        np.testing.assert_array_equal(a.scores, b.scores)
        assert a.known.all() and b.known.all()
    assert loaded.item_text == pipe.item_text == dataset.texts()
    assert loaded.users == dataset.users and loaded.items == dataset.items
    assert (loaded.history != pipe.history).nnz == 0
    assert loaded.model.get_params() == {"l2": 20.0, "l2_item": 0.0}
    np.testing.assert_array_equal(loaded.model.weights_, pipe.model.weights_)


def test_saved_files_need_no_pickle(saved):
    _, directory = saved
    expected = ["history.npz", "ids.npz", "items.json", "lexical.npz", "manifest.json", "model.npz"]
    assert names(directory) == expected
    for npz in directory.glob("*.npz"):
        with np.load(npz, allow_pickle=False) as data:
            for key in data.files:
                assert data[key].dtype != object, (npz.name, key)
    ids = read_arrays(directory / "ids.npz")
    assert ids["items"].dtype.kind == "U" and ids["users"].dtype.kind == "U"
    assert ids["items"].tolist()[-2:] == ["cold-1", "cold-2"]  # cold catalogue items survive


def test_manifest_contents(saved, dataset):
    _, directory = saved
    manifest = read_manifest(directory)
    assert manifest["format"] == FORMAT_VERSION
    assert set(manifest["versions"]) == {"tailwise", "numpy", "python"}
    assert manifest["versions"]["numpy"] == np.__version__
    assert manifest["model"] == "ease"
    assert manifest["params"] == {"l2": 20.0, "l2_item": 0.0}
    assert manifest["dataset"]["users"] == dataset.n_users
    assert manifest["dataset"]["items"] == dataset.n_items
    assert manifest["fit_seconds"] >= 0
    assert "created" in manifest


def popularity_order(pipe: Pipeline) -> tuple[np.ndarray, np.ndarray]:
    """Items by training popularity (ties: lower index first) and the counts themselves."""
    counts = np.asarray(pipe.history.sum(axis=0)).ravel()
    return np.lexsort((np.arange(len(counts)), -counts)), counts


@pytest.mark.parametrize("reload", [False, True])
def test_unknown_users_get_popularity_fallback(saved, dataset, reload):
    pipe, directory = saved
    if reload:
        pipe = Pipeline.load(directory)
    known_id = dataset.users.id(4)
    out = pipe.recommend(["nobody", known_id, "also-nobody"], k=6)
    assert out.user_ids == ["nobody", known_id, "also-nobody"]
    assert out.known.tolist() == [False, True, False]
    order, counts = popularity_order(pipe)
    for row in (0, 2):
        np.testing.assert_array_equal(out.items[row], order[:6])
        np.testing.assert_array_equal(out.scores[row], counts[order[:6]].astype(np.float32))
    assert (np.diff(counts[order[:6]]) <= 0).all()
    # the known user gets the model's list, with training items excluded
    seen = set(pipe.history[4].indices.tolist())
    assert not seen & set(out.items[1].tolist())


def test_unknown_users_respect_candidates(saved):
    pipe, _ = saved
    order, counts = popularity_order(pipe)
    candidates = np.sort(order[[1, 4, 9]])  # three items, not the most popular one
    out = pipe.recommend(["nobody"], k=5, candidates=candidates)
    expected = [c for c in order.tolist() if c in set(candidates.tolist())]
    assert out.items[0].tolist() == expected + [-1, -1]
    assert np.isneginf(out.scores[0, 3:]).all()
    np.testing.assert_array_equal(out.scores[0, :3], counts[expected].astype(np.float32))



def test_fallback_reasons_and_lists_never_longer_than_the_catalogue(saved, dataset):
    pipe, _ = saved
    known_id = dataset.users.id(4)
    out = pipe.recommend(["nobody", known_id], k=10**9)  # cut to the catalogue: no huge arrays
    assert out.items.shape == (2, dataset.n_items)
    assert out.fallback == ("unknown user", "")
    cold = pipe.items.indices(["cold-1", "cold-2"])
    recs, seeds = pipe.fold_in(cold, None, k=5)  # the service's path: popularity, not index order
    order, _ = popularity_order(pipe)
    np.testing.assert_array_equal(recs.items[0], order[:5])
    assert not len(seeds)
    hist = pipe.recommend_history(["cold-1", "cold-2"], k=5)
    assert hist.fallback == ("none of its items has training interactions, so the model scores every item alike",)
    assert pipe.recommend_history([dataset.items.id(0)], k=5).fallback == ("",)


def test_damaged_npz_names_the_file(tmp_path):
    path = tmp_path / "model.npz"
    path.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(DataError, match="model.npz: cannot read the arrays") as info:
        read_arrays(path)
    assert info.value.path == str(path)


def test_manifest_must_be_an_object(tmp_path):
    (tmp_path / "manifest.json").write_text("[1, 2]")
    with pytest.raises(DataError, match="must be a JSON object, not a list"):
        read_manifest(tmp_path)


def test_atomic_write_gives_normal_file_permissions(tmp_path, monkeypatch):
    monkeypatch.setattr(artifacts, "_UMASK", 0o022)
    target = tmp_path / "report.html"
    atomic_write_text(target, "<p>shared</p>")
    assert target.stat().st_mode & 0o777 == 0o644  # not the 0o600 of a temporary file


# ---------------------------------------------------------------------------------- leftovers
def dead_pid() -> int:
    """The PID of a process that has exited (and been reaped)."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True, check=True)
    return int(proc.stdout)


def leftover(folder: Path, name: str, size: int = 1000) -> Path:
    """A hidden directory as a killed writer leaves it: some files inside."""
    path = folder / name
    path.mkdir()
    (path / "model.npz").write_bytes(b"x" * size)
    return path


def test_the_next_write_removes_leftovers_of_killed_writers(tmp_path):
    target = tmp_path / "model"
    _write(target, 3)
    pid = dead_pid()
    leftover(tmp_path, f".model.tmp-{pid}-abc123_x")  # killed while filling
    leftover(tmp_path, f".model.old-{pid}")  # killed while deleting the replaced directory
    _write(target, 4)
    assert names(tmp_path) == ["model"] and read_manifest(target)["value"] == 4


def test_leftovers_of_a_running_writer_are_kept_until_stale(tmp_path):
    target = tmp_path / "model"
    _write(target, 3)
    mine = [leftover(tmp_path, f".model.tmp-{os.getpid()}-abc123_x"), leftover(tmp_path, f".model.old-{os.getpid()}")]
    legacy = leftover(tmp_path, ".model.k2j4_x9q")  # tempfile.mkdtemp's name, no PID: by age only
    _write(target, 4)
    assert all(p.exists() for p in [*mine, legacy])  # a concurrent writer is not harmed
    done = artifacts.clean_leftovers(target, stale_after=0.0)  # older than the threshold: removed
    assert sorted(done.removed) == sorted([*mine, legacy]) and done.restored is None
    assert names(tmp_path) == ["model"]


def test_only_this_directorys_leftovers_are_touched(tmp_path):
    pid = dead_pid()
    _write(tmp_path / "model", 1)
    _write(tmp_path / "model.v2", 1)
    others = [
        leftover(tmp_path, f".model.v2.tmp-{pid}-abc"),  # another directory's (model.v2) leftover
        leftover(tmp_path, ".model.notes"),  # not a name tailwise writes
        leftover(tmp_path, f".modelx.old-{pid}"),
    ]
    (tmp_path / f".model.old-{pid}.tmp").write_text("a file, not a directory")
    _write(tmp_path / "model", 2)
    assert all(p.exists() for p in others) and (tmp_path / f".model.old-{pid}.tmp").exists()


def test_a_directory_lost_between_the_two_renames_is_put_back(tmp_path):
    """Killed after moving the old directory aside and before moving the new one in: the old
    copy is the model, so the next run puts it back before anything else."""
    target = tmp_path / "model"
    _write(target, 3)
    pid = dead_pid()
    os.replace(target, tmp_path / f".model.old-{pid}")
    leftover(tmp_path, f".model.tmp-{pid}-half")
    done = artifacts.clean_leftovers(target)
    assert done.restored == tmp_path / f".model.old-{pid}" and len(done.removed) == 1
    assert names(tmp_path) == ["model"] and read_manifest(target)["value"] == 3
