"""An on-disk embedding cache keyed by encoder id and a hash of each text.

Layout under the cache directory::

    <encoder-folder>/            one per encoder id: the id made filesystem-safe + a short hash
        encoder.json             {"id": ..., "dim": ...}, for people reading the folder
        shard-<time>-<pid>-<rand>.npz
                                 keys (uint8 [n, 16]: BLAKE2b-128 of the UTF-8 text) and
                                 vectors (float32 [n, dim]) of one batch of new texts

Each shard is written to a hidden temporary file in the same folder and renamed into place
(``os.replace``), so a reader sees a whole shard or none, and a crash mid-write leaves earlier
shards untouched (a stray ``.shard-*.tmp`` is ignored and cleaned up later). Shards are merged on
load; once a folder holds more than ``compact_after`` shards they are rewritten as one (the new
shard is in place before the old ones are removed, so a crash between leaves duplicates, never
gaps). Several processes may use the cache one after another; concurrent writers do not corrupt
it either, but may each encode the same texts.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tailwise.artifacts import atomic_write, atomic_write_text
from tailwise.text.base import EncoderError, TextEncoder, check_texts

logger = logging.getLogger(__name__)

_KEY_BYTES = 16
_STALE_TMP_S = 3600.0


def default_cache_dir() -> Path:
    """``$TAILWISE_CACHE`` when set, else ``$XDG_CACHE_HOME/tailwise/embeddings`` (``~/.cache``)."""
    env = os.environ.get("TAILWISE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tailwise" / "embeddings"


def text_key(text: str) -> bytes:
    """The 16-byte BLAKE2b digest of the UTF-8 text: the cache key of one text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=_KEY_BYTES).digest()


def folder_name(encoder_id: str) -> str:
    """A filesystem-safe, collision-free folder name for an encoder id.

    Examples
    --------
    >>> folder_name("st:sentence-transformers/all-MiniLM-L6-v2")[:-9]
    'st_sentence-transformers_all-MiniLM-L6-v2'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder_id).strip("._")[:80] or "encoder"
    return f"{safe}-{hashlib.blake2b(encoder_id.encode('utf-8'), digest_size=4).hexdigest()}"


class _Store:
    """The vectors of one encoder id: shards on disk merged into an in-memory dict."""

    def __init__(self, folder: Path, encoder_id: str) -> None:
        self.folder = folder
        self.encoder_id = encoder_id
        self.rows: dict[bytes, np.ndarray] = {}
        self.dim: int | None = None
        self.seen: set[str] = set()

    def shards(self) -> list[Path]:
        return sorted(self.folder.glob("shard-*.npz")) if self.folder.is_dir() else []

    def refresh(self) -> None:
        """Load shards written since the last look (by this or another process)."""
        for path in self.shards():
            if path.name not in self.seen:
                self.seen.add(path.name)
                self._load(path)

    def _load(self, path: Path) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
            if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != _KEY_BYTES:
                raise ValueError(f"keys have shape {keys.shape} and dtype {keys.dtype}")
            if vectors.ndim != 2 or len(vectors) != len(keys):
                raise ValueError(f"vectors have shape {vectors.shape} for {len(keys)} keys")
        except Exception as exc:  # noqa: BLE001 - a damaged shard costs its entries, never the cache
            logger.warning("skipping unreadable embedding-cache shard %s: %s", path, exc)
            return
        if self.dim is not None and vectors.shape[1] != self.dim:
            logger.warning(
                "skipping embedding-cache shard %s: dimension %d, expected %d",
                path,
                vectors.shape[1],
                self.dim,
            )
            return
        self.dim = int(vectors.shape[1])
        vectors = vectors.astype(np.float32, copy=False)
        for key, row in zip(keys, vectors):
            self.rows[key.tobytes()] = row

    def add(self, keys: list[bytes], vectors: np.ndarray) -> None:
        """Write one new shard atomically, then index it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "encoder.json"
        if not meta.exists():
            atomic_write_text(
                meta, json.dumps({"id": self.encoder_id, "dim": int(vectors.shape[1])}) + "\n"
            )
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), _KEY_BYTES)
        name = f"shard-{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(3)}.npz"
        self._write(self.folder / name, key_array, vectors)
        self.seen.add(name)
        self.dim = int(vectors.shape[1])
        for key, row in zip(keys, vectors):
            self.rows[key] = row

    def _write(self, path: Path, keys: np.ndarray, vectors: np.ndarray) -> None:
        atomic_write(path, lambda fh: np.savez(fh, keys=keys, vectors=vectors), prefix=".shard-")

    def compact(self) -> None:
        """Rewrite all shards as one: the merged shard lands before the old ones go."""
        old = [p for p in self.shards() if p.name in self.seen]
        if len(old) < 2 or not self.rows:
            return
        keys = list(self.rows)
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), _KEY_BYTES)
        vectors = np.stack([self.rows[k] for k in keys])
        name = f"shard-{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(3)}.npz"
        self._write(self.folder / name, key_array, vectors)
        self.seen.add(name)
        for path in old:
            path.unlink(missing_ok=True)
        now = time.time()
        for tmp in self.folder.glob(".shard-*.tmp"):  # left by a crash long ago
            try:
                if now - tmp.stat().st_mtime > _STALE_TMP_S:
                    tmp.unlink()
            except OSError:
                pass


class EmbeddingCache:
    """Embeddings on disk, so that unchanged item texts are encoded once.

    Parameters
    ----------
    directory : str or Path, optional
        Where the cache lives; :func:`default_cache_dir` when None.
    compact_after : int
        Merge an encoder's shards into one once it has more than this many.

    Attributes
    ----------
    last_encoded : int
        How many distinct texts the last :meth:`encode` sent to the encoder (0 = all cached).
    last_hits : int
        How many of the last call's texts were served from the cache.

    Examples
    --------
    .. code-block:: python

        cache = EmbeddingCache()                      # $TAILWISE_CACHE or ~/.cache/tailwise/embeddings
        vectors = cache.encode(make_encoder("use"), ds.texts())
        vectors = cache.encode(make_encoder("use"), ds.texts())
        assert cache.last_encoded == 0                # the second call encoded nothing
    """

    def __init__(self, directory: str | Path | None = None, compact_after: int = 16) -> None:
        self.directory = default_cache_dir() if directory is None else Path(directory)
        self.compact_after = compact_after
        self.last_encoded = 0
        self.last_hits = 0
        self._stores: dict[str, _Store] = {}

    def folder(self, encoder_id: str) -> Path:
        """The folder holding one encoder's vectors."""
        return self.directory / folder_name(encoder_id)

    def _store(self, encoder_id: str) -> _Store:
        if encoder_id not in self._stores:
            self._stores[encoder_id] = _Store(self.folder(encoder_id), encoder_id)
        store = self._stores[encoder_id]
        store.refresh()
        return store

    def encode(
        self,
        encoder: TextEncoder,
        texts: Sequence[str],
        progress: bool = True,
        batch_size: int = 64,
    ) -> np.ndarray:
        """Embeddings of `texts`, encoding only the texts not cached yet.

        Parameters
        ----------
        encoder : TextEncoder
            Its ``id`` selects the cache folder; a fitted encoder (TF-IDF) must be fitted first.
        texts : sequence of str
            Texts to embed; repeated texts are encoded once.
        progress : bool
            Show the encoder's progress bar while encoding the missing texts.
        batch_size : int
            Passed to ``encoder.encode_items``.

        Returns
        -------
        ndarray of float32, shape (n, dim)
            Rows in input order, exactly what ``encoder.encode_items`` gives.
        """
        texts = check_texts(texts)
        store = self._store(encoder.id)
        keys = [text_key(t) for t in texts]
        missing: dict[bytes, str] = {}
        for key, text in zip(keys, texts):
            if key not in store.rows and key not in missing:
                missing[key] = text
        self.last_encoded = len(missing)
        self.last_hits = sum(key in store.rows for key in keys)
        if missing:
            vectors = np.asarray(
                encoder.encode_items(
                    list(missing.values()), batch_size=batch_size, progress=progress
                ),
                dtype=np.float32,
            )
            if (
                vectors.ndim != 2
                or len(vectors) != len(missing)
                or (store.dim not in (None, vectors.shape[1]))
            ):
                raise EncoderError(
                    f"encoder {encoder.id!r} returned shape {vectors.shape} for {len(missing)} texts"
                    + (f" (the cache holds dimension {store.dim})" if store.dim is not None else "")
                )
            store.add(list(missing), vectors)
            if len(store.shards()) > self.compact_after:
                store.compact()
        if not texts:
            return np.zeros(
                (0, store.dim if store.dim is not None else int(encoder.dim)), dtype=np.float32
            )
        return np.stack([store.rows[k] for k in keys])

    def size(self, encoder_id: str) -> int:
        """How many texts are cached for an encoder id."""
        return len(self._store(encoder_id).rows)

    def clear(self, encoder_id: str | None = None) -> None:
        """Delete one encoder's cached vectors, or the whole cache directory when None."""
        if encoder_id is None:
            self._stores.clear()
            shutil.rmtree(self.directory, ignore_errors=True)
        else:
            self._stores.pop(encoder_id, None)
            shutil.rmtree(self.folder(encoder_id), ignore_errors=True)

    def __repr__(self) -> str:
        return f"EmbeddingCache({str(self.directory)!r})"
