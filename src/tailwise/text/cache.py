"""An on-disk embedding cache keyed by encoder id and a hash of each text.

Layout under the cache directory::

    <encoder-folder>/            one per encoder id: the id made filesystem-safe + a short hash
        encoder.json             {"id": ..., "dim": ...}, for people reading the folder
        shard-<time>-<pid>-<rand>.npz
                                 keys (uint8 [n, 16]: BLAKE2b-128 of the UTF-8 text) and
                                 vectors (float32 [n, dim]) of texts encoded together

Each shard is written to a hidden temporary file in the same folder and renamed into place
(``os.replace``), so a reader sees a whole shard or none, and a crash mid-write leaves earlier
shards untouched (a stray ``.shard-*.tmp`` is ignored and cleaned up later). A large job writes
a shard every ``shard_size`` texts (or every ``flush_s`` seconds) while it encodes, so a job
that is interrupted, even by ``kill -9``, keeps what it had written, and running it again
encodes only the rest. Jobs of at least ``parallel_min`` new texts are encoded in worker
processes, one per idle core (:mod:`tailwise.text.parallel`), when the encoder can be rebuilt from
its spec. At the end of a job, once a folder holds more than ``compact_after`` shards, the
smallest are merged into one (:meth:`ShardStore.compact`: the new shard is in place before the
old ones are removed, so a crash between leaves duplicates, never gaps). Several processes may
use the cache one after another; concurrent writers do not corrupt it either, but may each
encode the same texts.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from tailwise.text.base import EncoderError, TextEncoder, check_texts, progress_bar
from tailwise.text.shards import KEY_BYTES, ShardStore, key_array

logger = logging.getLogger(__name__)

#: texts per shard written while a large job encodes (about 40 MB of 512-d vectors)
SHARD_SIZE = 20_000
#: jobs with at least this many new texts are encoded in worker processes (if workers > 1)
PARALLEL_MIN = 20_000
#: texts per task handed to the encoder (or to a worker) within a large job
_CHUNK = 1_000


def default_cache_dir() -> Path:
    """``$TAILWISE_CACHE`` when set, else ``$XDG_CACHE_HOME/tailwise/embeddings`` (``~/.cache``)."""
    env = os.environ.get("TAILWISE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base).expanduser() / "tailwise" / "embeddings"


def text_key(text: str) -> bytes:
    """The 16-byte BLAKE2b digest of the UTF-8 text: the cache key of one text."""
    return hashlib.blake2b(text.encode("utf-8"), digest_size=KEY_BYTES).digest()


def folder_name(encoder_id: str) -> str:
    """A filesystem-safe, collision-free folder name for an encoder id.

    Examples
    --------
    >>> folder_name("st:sentence-transformers/all-MiniLM-L6-v2")[:-9]
    'st_sentence-transformers_all-MiniLM-L6-v2'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", encoder_id).strip("._")[:80] or "encoder"
    return f"{safe}-{hashlib.blake2b(encoder_id.encode('utf-8'), digest_size=4).hexdigest()}"


class EmbeddingCache:
    """Embeddings on disk, so that unchanged item texts are encoded once.

    Parameters
    ----------
    directory : str or Path, optional
        Where the cache lives; :func:`default_cache_dir` when None.
    compact_after : int
        At the end of a job, merge an encoder's smallest shards once it has more than this many.
    workers : int, optional
        Worker processes for jobs of at least `parallel_min` new texts; when None, one per core
        that other work leaves idle (:func:`tailwise.text.parallel.default_workers`); 1 encodes
        in the calling process. Only encoders with a ``spec`` (see
        :mod:`tailwise.text.encoders`) use them; the others always encode in the calling process.
    shard_size : int
        Texts per shard written while a large job encodes: the most work an interruption loses.
    flush_s : float
        Also write a shard when this many seconds passed since the last one.
    parallel_min : int
        Jobs with fewer new texts are encoded in the calling process (starting the workers and
        loading a model in each costs a few seconds).

    Attributes
    ----------
    last_encoded : int
        How many distinct texts the last :meth:`encode` sent to the encoder (0 = all cached).
    last_hits : int
        How many of the last call's texts were served from the cache.
    last_workers : int
        How many processes encoded them (1 = the calling process).

    Examples
    --------
    .. code-block:: python

        cache = EmbeddingCache()                      # $TAILWISE_CACHE or ~/.cache/tailwise/embeddings
        vectors = cache.encode(make_encoder("use"), ds.texts())
        vectors = cache.encode(make_encoder("use"), ds.texts())
        assert cache.last_encoded == 0                # the second call encoded nothing
    """

    def __init__(
        self,
        directory: str | Path | None = None,
        compact_after: int = 16,
        workers: int | None = None,
        shard_size: int = SHARD_SIZE,
        flush_s: float = 30.0,
        parallel_min: int = PARALLEL_MIN,
    ) -> None:
        if shard_size < 1:
            raise ValueError(f"shard_size must be at least 1, not {shard_size}")
        self.directory = default_cache_dir() if directory is None else Path(directory)
        self.compact_after = compact_after
        self.workers = workers
        self.shard_size = shard_size
        self.flush_s = flush_s
        self.parallel_min = parallel_min
        self.last_encoded = 0
        self.last_hits = 0
        self.last_workers = 1
        self._stores: dict[str, ShardStore] = {}

    def folder(self, encoder_id: str) -> Path:
        """The folder holding one encoder's vectors."""
        return self.directory / folder_name(encoder_id)

    def _store(self, encoder_id: str) -> ShardStore:
        if encoder_id not in self._stores:
            self._stores[encoder_id] = ShardStore(self.folder(encoder_id), encoder_id)
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
            Show a progress bar (count, texts/s, time left) while encoding the missing texts.
        batch_size : int
            Passed to ``encoder.encode_items``.

        Returns
        -------
        ndarray of float32, shape (n, dim)
            Rows in input order, exactly what ``encoder.encode_items`` gives.
        """
        texts = check_texts(texts)
        store = self._store(encoder.id)
        keys = key_array([text_key(t) for t in texts])
        rows = store.rows_of(keys)
        self.last_hits = int((rows >= 0).sum())
        self.last_workers = 1
        absent = np.flatnonzero(rows < 0)
        _, first = np.unique(keys[absent], return_index=True)
        new = absent[np.sort(first)]  # the first occurrence of each missing text, in input order
        self.last_encoded = len(new)
        if len(new):
            missing = [texts[i] for i in new]
            self._encode_missing(encoder, store, keys[new], missing, progress, batch_size)
            store.compact(self.compact_after)  # at the end of a job, not after each shard
            rows = store.rows_of(keys)
        if not texts:
            return np.zeros(
                (0, store.dim if store.dim is not None else int(encoder.dim)), dtype=np.float32
            )
        return store.gather(rows)

    def _workers_for(self, encoder: TextEncoder, n: int) -> int:
        spec = getattr(encoder, "spec", None)
        if n < self.parallel_min or not spec or getattr(encoder, "fitted", True) is False:
            return 1
        from tailwise.text.parallel import default_workers

        return max(1, self.workers if self.workers is not None else default_workers())

    def _encode_missing(
        self,
        encoder: TextEncoder,
        store: ShardStore,
        keys: np.ndarray,
        texts: list[str],
        progress: bool,
        batch_size: int,
    ) -> None:
        """Encode `texts` and write them to `store`: one shard for a small job; for a large one
        a shard every `shard_size` texts or `flush_s` seconds, from worker processes or not."""
        workers = self._workers_for(encoder, len(texts))
        if workers == 1 and len(texts) <= self.shard_size:  # as ever: one call, one shard
            vectors = encoder.encode_items(texts, batch_size=batch_size, progress=progress)
            store.add(keys, self._checked(encoder, store, vectors, len(texts)))
            return
        self.last_workers = workers
        chunk = max(batch_size, min(self.shard_size, _CHUNK))
        chunks = _chunks(encoder, texts, workers, chunk, batch_size)
        pending: list[tuple[int, np.ndarray]] = []
        last = time.monotonic()

        def flush() -> None:
            nonlocal last
            if pending:
                at = np.concatenate([np.arange(s, s + len(v)) for s, v in pending])
                store.add(keys[at], np.concatenate([v for _, v in pending]))
                pending.clear()
            last = time.monotonic()

        label = f"Encoding items ({encoder.id}, {workers} process{'es' if workers > 1 else ''})"
        with progress_bar(len(texts), label, progress) as advance:
            try:
                for start, vectors in chunks:
                    size = min(chunk, len(texts) - start)
                    vectors = self._checked(encoder, store, vectors, size, pending)
                    pending.append((start, vectors))
                    advance(size)
                    if (
                        sum(len(v) for _, v in pending) >= self.shard_size
                        or time.monotonic() - last >= self.flush_s
                    ):
                        flush()
            except BaseException:
                with contextlib.suppress(Exception):  # keep what was encoded before the failure
                    flush()
                raise
            finally:
                with contextlib.suppress(Exception):
                    chunks.close()  # type: ignore[union-attr]
            flush()

    @staticmethod
    def _checked(
        encoder: TextEncoder,
        store: ShardStore,
        vectors: object,
        n: int,
        pending: Sequence[tuple[int, np.ndarray]] = (),
    ) -> np.ndarray:
        out = np.asarray(vectors, dtype=np.float32)
        dim = store.dim if store.dim is not None or not pending else pending[0][1].shape[1]
        if out.ndim != 2 or len(out) != n or (dim not in (None, out.shape[1])):
            raise EncoderError(
                f"encoder {encoder.id!r} returned shape {out.shape} for {n} texts"
                + (f" (the cache holds dimension {store.dim})" if store.dim is not None else "")
            )
        return out

    def size(self, encoder_id: str) -> int:
        """How many texts are cached for an encoder id."""
        return len(self._store(encoder_id))

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


def _chunks(
    encoder: TextEncoder, texts: list[str], workers: int, chunk: int, batch_size: int
) -> Iterator[tuple[int, np.ndarray]]:
    """``(start, vectors)`` for each chunk of `texts`, from worker processes when `workers` > 1.

    When the workers cannot start or die (a main script without ``if __name__ ==
    "__main__":``, too little memory), the chunks they had not finished are encoded here.
    """
    starts = range(0, len(texts), chunk)
    done: set[int] = set()
    if workers > 1:
        from concurrent.futures import BrokenExecutor

        from tailwise.text.parallel import WorkerError, encode_chunks

        spec = str(getattr(encoder, "spec", ""))
        logger.info("encoding %d texts in %d worker processes (%s)", len(texts), workers, spec)
        try:
            for start, vectors in encode_chunks(
                spec, texts, workers, chunk, batch_size, encoder.id
            ):
                done.add(start)
                yield start, vectors
        except (BrokenExecutor, OSError, WorkerError) as exc:
            logger.warning("worker processes failed (%s): encoding in this process instead", exc)
    for start in starts:
        if start not in done:
            part = texts[start : start + chunk]
            yield start, encoder.encode_items(part, batch_size=batch_size, progress=False)
