"""Item texts embedded once, for free-text queries: ``scores(query)`` is the cosine of every
item's text with the query, by the same encoder (and cache) as the model's text side."""

from __future__ import annotations

import numpy as np

from tailwise.text.side import TextSide


class TextIndex:
    """The catalogue's text embeddings, grown (not rebuilt) when items are added or changed.

    Parameters
    ----------
    side : TextSide
        Encoder, token budget and cache (a model's :meth:`text_side`).
    texts : list of str
        Item texts, item ``i`` at position ``i``.
    """

    def __init__(self, side: TextSide, texts: list[str], emb: np.ndarray | None = None) -> None:
        self.side = side
        self.emb = side.embed(list(texts)) if emb is None else emb

    def grown(self, texts: list[str], changed: np.ndarray) -> TextIndex:
        """The index of a grown catalogue `texts`: only `changed` and new items are embedded."""
        n_old = len(self.emb)
        redo = np.union1d(np.asarray(changed, dtype=np.int64), np.arange(n_old, len(texts)))
        emb = np.zeros((len(texts), self.emb.shape[1]), dtype=np.float32)
        emb[:n_old] = self.emb[: len(texts)]
        if len(redo):
            emb[redo] = self.side.embed([texts[i] for i in redo])
        return TextIndex(self.side, texts, emb)

    def scores(self, query: str) -> np.ndarray:
        """Cosine (float32) of every item's text with the query text."""
        return (self.emb @ self.side.encode_queries([query])[0]).astype(np.float32)
