"""Shared plumbing of the text-aware models: encode item texts (through the cache) into views."""

from __future__ import annotations

import numpy as np

from tailwise.models.itemfeatures import ItemFeatures, Tfidf, year_scale, years
from tailwise.text.template import truncate_words


class TextSide:
    """Encodes item texts with a named encoder through the on-disk embedding cache.

    Parameters
    ----------
    encoder : str
        Encoder spec for :func:`tailwise.text.encoders.make_encoder` (default ``"use"``).
    max_tokens : int
        Token budget per item text (whitespace tokens; titles come first in item texts).
    cache_dir : str, optional
        Embedding cache folder (default ``$TAILWISE_CACHE`` or ``~/.cache/tailwise/embeddings``).
    progress : bool
        Show a progress bar while encoding.
    """

    def __init__(self, encoder: str = "use", max_tokens: int = 128, cache_dir: str | None = None, progress: bool = True) -> None:
        self.encoder = encoder
        self.max_tokens = max_tokens
        self.cache_dir = cache_dir
        self.progress = progress
        self.last_encoded = 0

    def embed(self, texts: list[str]) -> np.ndarray:
        """L2-normalised float32 embeddings; only texts missing from the cache are encoded."""
        from tailwise.text.cache import EmbeddingCache
        from tailwise.text.encoders import make_encoder

        cache = EmbeddingCache(self.cache_dir)
        encoder = make_encoder(self.encoder)
        if getattr(encoder, "fitted", True) is False:  # TF-IDF learns its vocabulary first
            encoder.fit(texts)
        clipped = [truncate_words(t, self.max_tokens) for t in texts]
        vectors = cache.encode(encoder, clipped, progress=self.progress)
        self.last_encoded = cache.last_encoded
        return np.asarray(vectors, dtype=np.float32)

    def features(self, texts: list[str], tfidf: bool = True, year: bool = True) -> tuple[ItemFeatures, dict[str, np.ndarray]]:
        """The kernel views of `texts`, plus the arrays needed to featurise new items later."""
        emb = self.embed(texts)
        state: dict[str, np.ndarray] = {}
        tf = None
        if tfidf:
            fitted, tf = Tfidf.fit_transform(texts)
            state.update(tfidf_vocab=fitted.vocab, tfidf_idf=fitted.idf)
        yz = None
        scale = year_scale(years(texts)) if year else None
        if scale is not None:
            yz = (years(texts) - scale[0]) / scale[1]
            state["year_scale"] = np.asarray(scale)
        return ItemFeatures(emb, tf, yz), state

    def features_like(self, texts: list[str], state: dict[str, np.ndarray]) -> ItemFeatures:
        """Views of new texts with the vocabulary and year scale fitted earlier."""
        emb = self.embed(texts)
        tf = None
        if "tfidf_vocab" in state:
            tf = Tfidf(state["tfidf_vocab"], state["tfidf_idf"]).transform(texts)
        yz = None
        if "year_scale" in state:
            mean, std = state["year_scale"]
            yz = (years(texts) - mean) / std
        return ItemFeatures(emb, tf, yz)
