"""The embedding cache on large jobs: worker processes, shards written while encoding, resuming
after ``kill -9``, compaction at the end of a job."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import tailwise
from tailwise.text import EmbeddingCache, make_encoder
from tailwise.text.encoders import HashEncoder

TEXTS = [f"product {i}: a {i % 7} colour widget, size {i % 13}" for i in range(1000)]


def shard_keys(folder: Path) -> set[bytes]:
    keys: set[bytes] = set()
    for path in folder.glob("shard-*.npz"):
        with np.load(path) as data:
            keys.update(row.tobytes() for row in data["keys"])
    return keys


class ShardWatcher(HashEncoder):
    """A hash encoder that notes how many shards are on disk each time it is called."""

    def __init__(self, folder: Path) -> None:
        super().__init__(8)
        self.folder = folder
        self.seen: list[int] = []

    def encode_items(self, texts, batch_size=64, progress=True):
        self.seen.append(len(list(self.folder.glob("shard-*.npz"))))
        return super().encode_items(texts, batch_size, progress)


def test_worker_processes_encode_what_one_process_does(tmp_path):
    encoder = make_encoder("hash:16")
    assert encoder.spec == "hash:16"
    cache = EmbeddingCache(tmp_path, workers=2, parallel_min=100, shard_size=300)
    texts = TEXTS[:700] + TEXTS[:50]  # repeats are encoded once
    out = cache.encode(encoder, texts, progress=False)
    assert cache.last_workers == 2 and cache.last_encoded == 700
    np.testing.assert_array_equal(out, HashEncoder(16).encode_items(texts, progress=False))
    again = EmbeddingCache(tmp_path, workers=2, parallel_min=100)
    np.testing.assert_array_equal(again.encode(encoder, texts, progress=False), out)
    assert again.last_encoded == 0


def test_workers_that_cannot_start_leave_the_job_to_this_process(tmp_path, caplog):
    encoder = HashEncoder(8)
    encoder.spec = "no-such-encoder"  # every worker fails to build it
    cache = EmbeddingCache(tmp_path, workers=2, parallel_min=100, shard_size=100)
    with caplog.at_level(logging.WARNING, logger="tailwise.text.cache"):
        out = cache.encode(encoder, TEXTS[:300], progress=False)
    assert "worker processes failed" in caplog.text and "unknown text encoder" in caplog.text
    assert cache.last_encoded == 300
    np.testing.assert_array_equal(out, HashEncoder(8).encode_items(TEXTS[:300], progress=False))


def test_workers_never_write_vectors_of_another_encoder(tmp_path, caplog):
    encoder = HashEncoder(8)
    encoder.spec = "hash:16"  # builds hash:16 in the workers, not hash:8
    cache = EmbeddingCache(tmp_path, workers=2, parallel_min=100, shard_size=100)
    with caplog.at_level(logging.WARNING, logger="tailwise.text.cache"):
        out = cache.encode(encoder, TEXTS[:300], progress=False)
    assert "builds encoder 'hash:16', not 'hash:8'" in caplog.text
    np.testing.assert_array_equal(out, HashEncoder(8).encode_items(TEXTS[:300], progress=False))


def test_encoders_without_a_spec_stay_in_process(tmp_path, counting_encoder):
    cache = EmbeddingCache(tmp_path, workers=2, parallel_min=1)
    cache.encode(counting_encoder(), TEXTS[:300], progress=False)
    assert cache.last_workers == 1 and cache.last_encoded == 300
    tfidf = make_encoder("tfidf:16")
    assert not hasattr(tfidf, "spec")  # fitted on the catalogue: no worker could rebuild it


def test_a_large_job_writes_shards_while_it_encodes(tmp_path):
    cache = EmbeddingCache(tmp_path, shard_size=100, compact_after=100)
    encoder = ShardWatcher(cache.folder("hash:8"))
    out = cache.encode(encoder, TEXTS, progress=False)
    assert encoder.seen == list(range(10))  # one more shard on disk before each chunk
    assert len(list(cache.folder("hash:8").glob("shard-*.npz"))) == 10
    np.testing.assert_array_equal(out, HashEncoder(8).encode_items(TEXTS, progress=False))


def test_shards_are_also_written_on_a_clock(tmp_path):
    cache = EmbeddingCache(tmp_path, shard_size=150, flush_s=0.0, compact_after=100)
    encoder = ShardWatcher(cache.folder("hash:8"))
    cache.encode(encoder, TEXTS[:300], batch_size=16, progress=False)
    assert encoder.seen == [0, 1] and len(list(cache.folder("hash:8").glob("shard-*"))) == 2
    cache = EmbeddingCache(tmp_path, shard_size=150, flush_s=0.0, compact_after=100)
    cache.encode(ShardWatcher(cache.folder("hash:8")), TEXTS[:600], batch_size=16, progress=False)
    assert cache.last_encoded == 300


def test_compaction_waits_for_the_end_of_the_job_and_keeps_big_shards(tmp_path):
    cache = EmbeddingCache(tmp_path, shard_size=100, compact_after=4)
    encoder = ShardWatcher(cache.folder("hash:8"))
    cache.encode(encoder, TEXTS, progress=False)
    assert max(encoder.seen) == 9  # nothing was merged during the job
    folder = cache.folder("hash:8")
    assert len(list(folder.glob("shard-*.npz"))) <= 4
    big = {p.name for p in folder.glob("shard-*.npz")}
    for i in range(5):  # small jobs: their shards are merged, the big one is left alone
        cache.encode(encoder, [f"new text {i}"], progress=False)
    after = {p.name for p in folder.glob("shard-*.npz")}
    assert len(after) <= 4 and len(big & after) >= 1
    fresh = EmbeddingCache(tmp_path)
    out = fresh.encode(HashEncoder(8), TEXTS, progress=False)
    assert fresh.last_encoded == 0 and fresh.size("hash:8") == 1005
    np.testing.assert_array_equal(out, HashEncoder(8).encode_items(TEXTS, progress=False))


def test_a_cache_forgets_shards_compacted_by_another(tmp_path):
    a, b = EmbeddingCache(tmp_path, compact_after=2), EmbeddingCache(tmp_path, compact_after=2)
    for i in range(2):
        a.encode(HashEncoder(8), TEXTS[i * 10 : i * 10 + 10], progress=False)
    assert b.size("hash:8") == 20
    a.encode(HashEncoder(8), TEXTS[20:30], progress=False)  # 3 shards > 2: merged
    assert len(list(a.folder("hash:8").glob("shard-*.npz"))) == 1
    assert b.size("hash:8") == 30
    store = b._stores["hash:8"]
    assert sum(len(s.keys) for s in store._shards) == 30  # no stale copies held in memory


_KILLED_JOB = """
import sys, time
from tailwise.text import EmbeddingCache
from tailwise.text.encoders import HashEncoder

class Slow(HashEncoder):
    def _encode_batch(self, texts, query):
        time.sleep(0.03)
        return super()._encode_batch(texts, query)

texts = [f"short text {i}" for i in range(3000)]
EmbeddingCache(sys.argv[1], shard_size=200).encode(Slow(8), texts, progress=False)
print("finished")
"""


def test_a_job_killed_mid_way_resumes_with_what_is_missing(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(Path(tailwise.__file__).parents[1]))
    proc = subprocess.Popen([sys.executable, "-c", _KILLED_JOB, str(tmp_path)], env=env)
    folder = EmbeddingCache(tmp_path).folder("hash:8")
    try:
        deadline = time.monotonic() + 60
        while not list(folder.glob("shard-*.npz")) and time.monotonic() < deadline:
            assert proc.poll() is None, "the job ended before it could be killed"
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    written = len(shard_keys(folder))
    assert 0 < written < 3000
    texts = [f"short text {i}" for i in range(3000)]
    cache = EmbeddingCache(tmp_path, shard_size=200)
    out = cache.encode(HashEncoder(8), texts, progress=False)
    assert cache.last_encoded == 3000 - written and cache.last_hits == written
    np.testing.assert_allclose(out, HashEncoder(8).encode_items(texts, progress=False), atol=1e-5)


@pytest.mark.slow
def test_worker_processes_with_the_real_encoder(tmp_path, use_encoder):
    texts = [
        f"{adj} {thing} for the {room}, model {m}"
        for m in (1, 2)
        for adj in ("red", "large", "quiet", "smart")
        for thing in ("lamp", "chair", "desk", "kettle", "rug")
        for room in ("kitchen", "office", "garden", "hall", "study")
    ]
    cache = EmbeddingCache(tmp_path, workers=2, parallel_min=100, shard_size=50)
    out = cache.encode(make_encoder("use"), texts, progress=False)
    assert cache.last_workers == 2 and cache.last_encoded == 200
    np.testing.assert_allclose(out, use_encoder.encode_items(texts, progress=False), atol=1e-5)


@pytest.mark.parametrize(
    ("cores", "load", "expected"), [(2, 1.0, 2), (2, 0.0, 2), (2, 5.9, 1), (16, 4.2, 13)]
)
def test_default_workers_leave_busy_cores_alone(monkeypatch, cores, load, expected):
    from tailwise.text import parallel

    monkeypatch.setattr(parallel.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(parallel.os, "getloadavg", lambda: (load, load, load))
    assert parallel.default_workers() == expected


def test_the_progress_bar_counts_texts_per_second():
    from types import SimpleNamespace

    from tailwise.text.base import progress_bar, rate_column

    rendered = rate_column().render(SimpleNamespace(finished_speed=None, speed=1812.4))
    assert str(rendered) == "1,812 texts/s"
    assert str(rate_column().render(SimpleNamespace(finished_speed=None, speed=None))) == ""
    with progress_bar(10, "Encoding", enabled=True) as advance:
        advance(10)
