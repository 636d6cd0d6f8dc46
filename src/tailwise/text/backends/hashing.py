"""A deterministic, model-free encoder for tests and benchmarks of the plumbing (spec ``hash``)."""

from __future__ import annotations

import hashlib

import numpy as np

from tailwise.text.base import BatchEncoder


class HashEncoder(BatchEncoder):
    """Vectors drawn from a random generator seeded by a hash of each text: the same text
    always gets the same vector, in any process, and no two texts are similar.

    It understands nothing; it exists so that tests and benchmarks of the embedding cache, the
    worker processes and the models' text side run in milliseconds (``make_encoder("hash:8")``
    builds it, also in a worker process).

    Parameters
    ----------
    dim : int
        Length of each vector.
    """

    def __init__(self, dim: int = 8) -> None:
        self.dim = dim

    @property
    def id(self) -> str:  # type: ignore[override]
        return f"hash:{self.dim}"

    def _encode_batch(self, texts: list[str], query: bool) -> np.ndarray:
        rows = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            seed = hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest()
            rows[i] = np.random.default_rng(int.from_bytes(seed, "little")).standard_normal(
                self.dim
            )
        return rows

    def __repr__(self) -> str:
        return f"HashEncoder(dim={self.dim})"
