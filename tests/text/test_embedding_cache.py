"""The embedding cache: encode only what is new, survive crashes, persist across processes."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tailwise.text import EmbeddingCache, default_cache_dir
from tailwise.text.base import EncoderError
from tailwise.text.cache import folder_name

TEXTS = [f"item number {i}: a film about thing {i}" for i in range(50)]


def test_warm_cache_encodes_nothing_and_returns_the_same_vectors(tmp_path, counting_encoder):
    enc = counting_encoder()
    cache = EmbeddingCache(tmp_path)
    first = cache.encode(enc, TEXTS, progress=False)
    assert cache.last_encoded == 50 and cache.last_hits == 0
    np.testing.assert_array_equal(first, enc.encode_items(TEXTS, progress=False))
    enc.encoded.clear()
    again = cache.encode(enc, TEXTS, progress=False)
    assert cache.last_encoded == 0 and cache.last_hits == 50 and enc.encoded == []
    np.testing.assert_array_equal(again, first)
    # a fresh cache object on the same folder (as a new process would be) finds everything
    fresh = EmbeddingCache(tmp_path)
    np.testing.assert_array_equal(fresh.encode(counting_encoder(), TEXTS, progress=False), first)
    assert fresh.last_encoded == 0


def test_new_and_changed_items_encode_only_what_changed(tmp_path, counting_encoder):
    enc = counting_encoder()
    cache = EmbeddingCache(tmp_path)
    cache.encode(enc, TEXTS, progress=False)
    enc.encoded.clear()
    changed = TEXTS[:10] + ["item number 10: now with a plot"] + TEXTS[11:] + ["a brand new item"]
    out = cache.encode(enc, changed, progress=False)
    assert cache.last_encoded == 2 and cache.last_hits == 49
    assert sorted(enc.encoded) == sorted(["item number 10: now with a plot", "a brand new item"])
    np.testing.assert_array_equal(out, enc.encode_items(changed, progress=False))


def test_repeated_texts_are_encoded_once_and_order_is_kept(tmp_path, counting_encoder):
    enc = counting_encoder()
    cache = EmbeddingCache(tmp_path)
    texts = ["b", "a", "b", "", "a", "c"]
    out = cache.encode(enc, texts, progress=False)
    assert cache.last_encoded == 4  # b, a, "", c
    assert sorted(enc.encoded) == ["a", "b", "c"]  # the empty text never reaches the model
    np.testing.assert_array_equal(out[0], out[2])
    assert not out[3].any()
    assert cache.encode(enc, [], progress=False).shape == (0, 8)


def test_each_encoder_id_has_its_own_folder(tmp_path, counting_encoder):
    cache = EmbeddingCache(tmp_path)
    a = cache.encode(counting_encoder(id="fake:a"), TEXTS[:5], progress=False)
    cache.encode(counting_encoder(id="fake:b"), TEXTS[:5], progress=False)
    assert cache.last_encoded == 5
    assert cache.size("fake:a") == cache.size("fake:b") == 5
    assert folder_name("st:a/b") != folder_name("st:a_b")
    assert (cache.folder("fake:a") / "encoder.json").exists()
    cache.clear("fake:a")
    assert cache.size("fake:a") == 0 and cache.size("fake:b") == 5
    np.testing.assert_array_equal(
        cache.encode(counting_encoder(id="fake:a"), TEXTS[:5], progress=False), a
    )


def test_a_crash_mid_write_leaves_earlier_entries_and_no_half_shard(
    tmp_path, counting_encoder, monkeypatch
):
    enc = counting_encoder()
    EmbeddingCache(tmp_path).encode(enc, TEXTS[:20], progress=False)
    folder = EmbeddingCache(tmp_path).folder(enc.id)
    before = sorted(p.name for p in folder.iterdir())

    def crash(*args, **kwargs):
        raise OSError("disk full")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", crash)
        with pytest.raises(OSError, match="disk full"):
            EmbeddingCache(tmp_path).encode(enc, TEXTS, progress=False)
    assert sorted(p.name for p in folder.iterdir()) == before  # no shard, no temp file left
    cache = EmbeddingCache(tmp_path)
    cache.encode(enc, TEXTS, progress=False)
    assert cache.last_encoded == 30


def test_damaged_shards_and_stray_temp_files_are_skipped(tmp_path, counting_encoder, caplog):
    enc = counting_encoder()
    EmbeddingCache(tmp_path).encode(enc, TEXTS[:10], progress=False)
    EmbeddingCache(tmp_path).encode(enc, TEXTS[10:20], progress=False)
    folder = EmbeddingCache(tmp_path).folder(enc.id)
    shards = sorted(folder.glob("shard-*.npz"))
    assert len(shards) == 2
    shards[1].write_bytes(shards[1].read_bytes()[:100])  # damaged outside our control
    (folder / ".shard-crashed.tmp").write_bytes(b"half a shard")
    cache = EmbeddingCache(tmp_path)
    with caplog.at_level(logging.WARNING, logger="tailwise.text.cache"):
        cache.encode(enc, TEXTS[:20], progress=False)
    assert "unreadable embedding-cache shard" in caplog.text
    assert cache.last_encoded == 10  # only the damaged shard's entries are encoded again


def test_shards_are_compacted(tmp_path, counting_encoder):
    enc = counting_encoder()
    cache = EmbeddingCache(tmp_path, compact_after=3)
    for i in range(0, 25, 5):
        cache.encode(enc, TEXTS[i : i + 5], progress=False)
    shards = list(cache.folder(enc.id).glob("shard-*.npz"))
    assert len(shards) <= 3
    fresh = EmbeddingCache(tmp_path)
    fresh.encode(enc, TEXTS[:25], progress=False)
    assert fresh.last_encoded == 0 and fresh.size(enc.id) == 25


def test_an_encoder_changing_dimension_under_one_id_is_an_error(tmp_path, counting_encoder):
    cache = EmbeddingCache(tmp_path)
    cache.encode(counting_encoder(dim=8), ["a"], progress=False)
    with pytest.raises(EncoderError, match="dimension 8"):
        cache.encode(counting_encoder(dim=4), ["b"], progress=False)


def test_default_directory(monkeypatch, tmp_path):
    monkeypatch.setenv("TAILWISE_CACHE", str(tmp_path / "here"))
    assert default_cache_dir() == tmp_path / "here"
    assert EmbeddingCache().directory == tmp_path / "here"
    monkeypatch.delenv("TAILWISE_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "tailwise" / "embeddings"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert default_cache_dir() == Path.home() / ".cache" / "tailwise" / "embeddings"


def test_another_process_reuses_the_cache(tmp_path, counting_encoder):
    code = (
        "import sys, numpy as np\n"
        "from tailwise.text import EmbeddingCache\n"
        "from tailwise.text.base import BatchEncoder\n"
        "class E(BatchEncoder):\n"
        "    id, dim = 'fake:v1', 8\n"
        "    def _encode_batch(self, texts, query):\n"
        "        raise SystemExit('encoded ' + repr(texts))\n"
        "out = EmbeddingCache(sys.argv[1]).encode(E(), sys.argv[2:], progress=False)\n"
        "np.save(sys.argv[1] + '/out.npy', out)\n"
    )
    expected = EmbeddingCache(tmp_path).encode(counting_encoder(), TEXTS[:3], progress=False)
    subprocess.run([sys.executable, "-c", code, str(tmp_path), *TEXTS[:3]], check=True)
    np.testing.assert_array_equal(np.load(tmp_path / "out.npy"), expected)


def test_with_the_real_encoder(tmp_path, use_encoder):
    cache = EmbeddingCache(tmp_path)
    texts = ["a film about space travel", "一部关于太空旅行的电影", ""]
    out = cache.encode(use_encoder, texts, progress=False)
    np.testing.assert_allclose(out, use_encoder.encode_items(texts, progress=False), atol=1e-6)
    assert cache.folder(use_encoder.id).name.startswith("use-m3-")
    cache.encode(use_encoder, texts, progress=False)
    assert cache.last_encoded == 0
