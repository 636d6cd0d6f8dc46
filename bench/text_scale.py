"""The embedding cache at scale: encoding rate with 1 and 2 worker processes, and the cost of
loading a large cache (time and peak memory).

    python bench/text_scale.py rate [N]        # N synthetic product titles (default 20,000), USE
    python bench/text_scale.py make DIR [N]    # a cache of N (default 200,000) 512-d vectors
    python bench/text_scale.py load DIR [N]    # load it and look every text up; time and RSS

``make`` writes shards of 20,000 rows in the cache's own format, so ``load`` can be run against
an older tailwise too (put its ``src`` first on ``PYTHONPATH``) to compare the in-memory store.
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
import time

import numpy as np

WORDS = [
    "red",
    "blue",
    "green",
    "black",
    "white",
    "steel",
    "wooden",
    "cotton",
    "leather",
    "compact",
    "large",
    "small",
    "portable",
    "wireless",
    "smart",
    "classic",
    "modern",
    "vintage",
    "premium",
    "organic",
    "kitchen",
    "garden",
    "office",
    "travel",
    "lamp",
    "chair",
    "desk",
    "kettle",
    "rug",
    "speaker",
    "headphones",
    "jacket",
    "boots",
    "backpack",
    "bottle",
    "blender",
    "for",
    "with",
    "and",
    "set",
    "of",
    "pack",
    "pro",
    "mini",
    "max",
    "edition",
    "home",
    "outdoor",
    "kids",
    "women",
    "men",
]


def titles(n: int, seed: int = 0) -> list[str]:
    """`n` distinct synthetic product titles of 8-12 words."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        words = rng.choice(WORDS, size=int(rng.integers(7, 12)))
        out.append(" ".join(words) + f" {i}")
    return out


def rate(n: int) -> None:
    from tailwise.text import EmbeddingCache, make_encoder

    texts = titles(n)
    results = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as folder:
            cache = EmbeddingCache(folder, workers=workers)
            start = time.perf_counter()
            cache.encode(make_encoder("use"), texts, progress=False)
            seconds = time.perf_counter() - start
            assert cache.last_encoded == n and cache.last_workers == workers
        results[workers] = {"seconds": round(seconds, 2), "texts_per_s": round(n / seconds)}
        print(f"{workers} worker(s): {n} texts in {seconds:.1f} s, {n / seconds:.0f} texts/s")
    print(json.dumps(results))


class _Cached:
    """An encoder that must never be called: everything is in the cache."""

    id, dim = "bench:512", 512

    def encode_items(self, texts, batch_size=64, progress=True):
        raise SystemExit(f"asked to encode {len(texts)} texts")


def make(folder: str, n: int) -> None:
    import hashlib
    from pathlib import Path

    from tailwise.text.cache import EmbeddingCache

    target = Path(EmbeddingCache(folder).folder(_Cached.id))
    target.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for start in range(0, n, 20_000):
        part = [f"cached text {i}" for i in range(start, min(n, start + 20_000))]
        digests = b"".join(hashlib.blake2b(t.encode(), digest_size=16).digest() for t in part)
        keys = np.frombuffer(digests, dtype=np.uint8).reshape(len(part), 16)
        vectors = rng.standard_normal((len(part), 512)).astype(np.float32)
        np.savez(target / f"shard-{start:020d}-0-000000.npz", keys=keys, vectors=vectors)


def load(folder: str, n: int) -> None:
    from tailwise.text.cache import EmbeddingCache

    texts = [f"cached text {i}" for i in range(n)]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    start, cpu = time.perf_counter(), time.process_time()
    out = EmbeddingCache(folder).encode(_Cached(), texts, progress=False)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    assert out.shape == (n, 512)
    result = {
        "seconds": round(seconds, 2),
        "cpu_s": round(cpu, 2),
        "rss_before_mb": round(before),
        "peak_rss_mb": round(peak),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    command, args = sys.argv[1], sys.argv[2:]
    if command == "rate":
        rate(int(args[0]) if args else 20_000)
    elif command == "make":
        make(args[0], int(args[1]) if len(args) > 1 else 200_000)
    elif command == "load":
        load(args[0], int(args[1]) if len(args) > 1 else 200_000)
    else:
        raise SystemExit(__doc__)
