"""Shared plumbing of the text-aware models: encode item texts (through the cache) into views.

Besides the embeddings, the item-item kernel over the text views of a whole catalogue (up to
``KERNEL_CACHE_MAX_ITEMS`` items) is kept in the cache folder under ``kernels/``, keyed by a
hash of the encoder, the view settings and every text: a refit on the same catalogue (the same
texts, whatever the interactions) neither re-tokenises nor recomputes the kernel.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.lib.format as npformat
import scipy.sparse as sp

from tailwise.errors import ColdStartError
from tailwise.text.features import ItemFeatures, Tfidf, year_scale, years
from tailwise.text.template import truncate_words

log = logging.getLogger(__name__)

#: catalogues up to this size get their text kernel cached (n^2 float32: 400 MB at 10,000)
KERNEL_CACHE_MAX_ITEMS = 10_000
#: rows of a cached kernel read at a time (20 MB at 10,000 items)
KERNEL_READ_ROWS = 512

# encoders and embedding caches kept loaded while a long-running process holds them (the service)
_resident: dict[tuple[str, str | None], tuple[Any, Any, threading.Lock]] = {}
_holders = 0
_resident_lock = threading.Lock()


@contextlib.contextmanager
def keep_loaded() -> Iterator[None]:
    """Within the block, every :class:`TextSide` reuses one loaded encoder and one embedding
    cache per (encoder, cache folder) instead of building them per call.

    A long-running process (the HTTP service) holds this for its lifetime, so that placing a new
    item or encoding a query costs milliseconds, not the seconds of loading a model. Encoders
    that are fitted on the texts they see (TF-IDF) are never kept. Calls that encode through a
    kept encoder are serialised by a lock. Blocks nest; the last one to leave frees everything.
    """
    global _holders
    with _resident_lock:
        _holders += 1
    try:
        yield
    finally:
        with _resident_lock:
            _holders -= 1
            if _holders == 0:
                _resident.clear()


def _resources(spec: str, cache_dir: str | None) -> tuple[Any, Any, contextlib.AbstractContextManager]:
    """(embedding cache, encoder, lock to hold while encoding) for one encoder spec."""
    from tailwise.text.cache import EmbeddingCache
    from tailwise.text.encoders import make_encoder

    with _resident_lock:
        if _holders and (spec, cache_dir) in _resident:
            return _resident[(spec, cache_dir)]
        cache, encoder = EmbeddingCache(cache_dir), make_encoder(spec)
        if _holders and getattr(encoder, "fitted", True) is not False:
            _resident[(spec, cache_dir)] = (cache, encoder, threading.Lock())
            return _resident[(spec, cache_dir)]
    return cache, encoder, contextlib.nullcontext()


def needs_catalogue(spec: str) -> bool:
    """True for encoders fitted on the catalogue's texts (TF-IDF): new texts cannot be placed
    in their space without a refit."""
    from tailwise.text.encoders import make_encoder

    return getattr(make_encoder(spec), "fitted", True) is False


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
        cache, encoder, lock = _resources(self.encoder, self.cache_dir)
        if getattr(encoder, "fitted", True) is False:  # TF-IDF learns its vocabulary first
            encoder.fit(texts)
        clipped = [truncate_words(t, self.max_tokens) for t in texts]
        with lock:
            vectors = cache.encode(encoder, clipped, progress=self.progress)
            self.last_encoded = cache.last_encoded
        return np.asarray(vectors, dtype=np.float32)

    def embed_new(self, texts: list[str]) -> np.ndarray:
        """:meth:`embed` for items added after the fit.

        Raises
        ------
        ColdStartError
            When the encoder is fitted on the catalogue (TF-IDF): new texts need a refit.
        """
        self.require_placeable()
        return self.embed(texts)

    def require_placeable(self) -> None:
        """Raise :class:`~tailwise.errors.ColdStartError` when new item texts cannot be placed
        without a refit (encoders fitted on the catalogue, such as TF-IDF)."""
        if needs_catalogue(self.encoder):
            raise ColdStartError(f"the {self.encoder!r} encoder is fitted on the catalogue: new item texts need a refit")

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """Query embeddings (not cached), comparable with :meth:`embed`'s item embeddings."""
        _, encoder, lock = _resources(self.encoder, self.cache_dir)
        with lock:
            return np.asarray(encoder.encode_queries(texts), dtype=np.float32)

    def features(self, texts: list[str], tfidf: bool = True, year: bool = True) -> tuple[ItemFeatures, dict[str, np.ndarray]]:
        """The kernel views of `texts`, plus the arrays needed to featurise new items later."""
        return self._views(texts, self.embed(texts), tfidf, year)

    @staticmethod
    def _views(texts: list[str], emb: np.ndarray, tfidf: bool, year: bool) -> tuple[ItemFeatures, dict[str, np.ndarray]]:
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

    def features_and_kernel(
        self, texts: list[str], tfidf: bool = True, year: bool = True, columns: np.ndarray | None = None
    ) -> tuple[ItemFeatures, dict[str, np.ndarray], np.ndarray | None]:
        """:meth:`features` plus the kernel of every item against every item (or None above
        ``KERNEL_CACHE_MAX_ITEMS``), read from the cache folder when this catalogue was seen.

        With `columns` (item indices) only those columns of the kernel come back,
        ``kernel[:, columns]``; a cached kernel is then read a block of rows at a time, so the
        whole ``n x n`` matrix is never in memory (the adapter needs its anchors' columns only).

        The cache key hashes the embeddings themselves with the texts and view settings, so a
        changed encoder or text can never be served a stale kernel.
        """
        if len(texts) > KERNEL_CACHE_MAX_ITEMS:
            return (*self.features(texts, tfidf, year), None)
        from tailwise.artifacts import atomic_write
        from tailwise.text.cache import EmbeddingCache

        emb = self.embed(texts)
        digest = hashlib.blake2b(f"{tfidf}|{year}|{len(texts)}|v1".encode(), digest_size=16)
        digest.update(np.ascontiguousarray(emb).tobytes())
        for text in texts:
            digest.update(hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest())
        path = Path(EmbeddingCache(self.cache_dir).directory) / "kernels" / f"{digest.hexdigest()}.npz"
        if path.exists():
            try:
                return _read_views(path, emb, columns)
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:  # a damaged entry is recomputed
                log.warning("ignoring unreadable text-kernel cache %s: %s", path.name, exc)
        feats, state = self._views(texts, emb, tfidf, year)
        kernel = feats.kernel(feats)
        arrays = {"kernel": kernel, **{f"state_{k}": v for k, v in state.items()}}
        if feats.tfidf is not None:
            t = feats.tfidf
            arrays.update(tf_data=t.data, tf_indices=t.indices, tf_indptr=t.indptr, tf_shape=np.asarray(t.shape))
        if feats.year is not None:
            arrays["year"] = feats.year
        atomic_write(path, lambda fh: np.savez(fh, **arrays))
        return feats, state, kernel if columns is None else kernel[:, columns]

    def features_like(self, texts: list[str], state: dict[str, np.ndarray]) -> ItemFeatures:
        """Views of new texts with the vocabulary and year scale fitted earlier."""
        return self.views_like(texts, self.embed(texts), state)

    @staticmethod
    def views_like(texts: list[str], emb: np.ndarray, state: dict[str, np.ndarray]) -> ItemFeatures:
        """:meth:`features_like` for texts already embedded (`emb`, e.g. by Spark executors)."""
        tf = None
        if "tfidf_vocab" in state:
            tf = Tfidf(state["tfidf_vocab"], state["tfidf_idf"]).transform(texts)
        yz = None
        if "year_scale" in state:
            mean, std = state["year_scale"]
            yz = (years(texts) - mean) / std
        return ItemFeatures(emb, tf, yz)


def _read_views(path: Path, emb: np.ndarray, columns: np.ndarray | None) -> tuple[ItemFeatures, dict[str, np.ndarray], np.ndarray]:
    arrays = {}
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            with zf.open(name) as fh:
                key = name.removesuffix(".npy")
                arrays[key] = _read_kernel(fh, columns) if key == "kernel" else npformat.read_array(fh, allow_pickle=False)
    tf = None
    if "tf_data" in arrays:
        parts = (arrays["tf_data"], arrays["tf_indices"], arrays["tf_indptr"])
        tf = sp.csr_matrix(parts, shape=tuple(arrays["tf_shape"]))
    state = {k[6:]: v for k, v in arrays.items() if k.startswith("state_")}
    return ItemFeatures(emb, tf, arrays.get("year")), state, arrays["kernel"]


def _read_kernel(fh: BinaryIO, columns: np.ndarray | None) -> np.ndarray:
    """The cached kernel's `columns` (all when None), read from its ``.npy`` stream
    :data:`KERNEL_READ_ROWS` rows at a time (no copy of the whole file in memory)."""
    version = npformat.read_magic(fh)
    readers = {(1, 0): npformat.read_array_header_1_0, (2, 0): npformat.read_array_header_2_0}
    if version not in readers:
        raise ValueError(f"unexpected .npy format version {version}")
    shape, fortran, dtype = readers[version](fh)
    if fortran or len(shape) != 2 or dtype != np.dtype(np.float32):
        raise ValueError(f"the kernel is not a C-ordered float32 matrix ({dtype}, shape {shape})")
    n_rows, n_cols = shape
    out = np.empty((n_rows, n_cols if columns is None else len(columns)), np.float32)
    for start in range(0, n_rows, KERNEL_READ_ROWS):
        stop = min(start + KERNEL_READ_ROWS, n_rows)
        raw = fh.read((stop - start) * n_cols * 4)
        if len(raw) != (stop - start) * n_cols * 4:
            raise ValueError("the kernel is truncated")
        block = np.frombuffer(raw, np.float32).reshape(stop - start, n_cols)
        out[start:stop] = block if columns is None else block[:, columns]
    return out
