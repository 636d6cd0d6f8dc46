"""Fixtures for model tests: a fast fake text encoder for the contract tests of text models."""

from __future__ import annotations

import zlib

import numpy as np
import pytest


def fake_embed(self, texts: list[str]) -> np.ndarray:
    """Deterministic unit vectors: texts sharing their last word share most of their vector."""
    out = np.empty((len(texts), 32), dtype=np.float32)
    for n, text in enumerate(texts):
        words = text.split() or [""]
        shared = np.random.default_rng(zlib.crc32(words[-1].encode())).standard_normal(32)
        own = np.random.default_rng(zlib.crc32(text.encode())).standard_normal(32)
        v = shared + 0.3 * own
        out[n] = v / np.linalg.norm(v)
    self.last_encoded = len(texts)
    return out


@pytest.fixture
def fake_text(monkeypatch):
    """Replace the real encoder (tested on its own, and end to end elsewhere) by `fake_embed`."""
    from tailwise.text.side import TextSide

    monkeypatch.setattr(TextSide, "embed", fake_embed)
