"""The vectors of one encoder id in the embedding cache: shard files on disk, big arrays in memory.

Each shard is one ``.npz`` with ``keys`` (uint8 ``[n, 16]``: BLAKE2b-128 of the UTF-8 text) and
``vectors`` (float32 ``[n, dim]``). In memory a :class:`ShardStore` keeps each shard's two arrays
as loaded, plus one sorted array of all keys (``S16``) with each key's global row, built lazily
on the first look-up after a change. A million cached 512-dimensional vectors cost their 2 GB
and about 40 bytes a key, not a Python object per row, and loading fifty shards is fifty
``np.load`` calls and one sort.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tailwise.artifacts import atomic_write, atomic_write_text

logger = logging.getLogger(__name__)

KEY_BYTES = 16
_STALE_TMP_S = 3600.0


@dataclass
class _Shard:
    name: str
    keys: np.ndarray  # S16 [n]
    vectors: np.ndarray  # float32 [n, dim]


def key_array(keys: list[bytes]) -> np.ndarray:
    """Keys as one ``S16`` array (sorts and compares as raw bytes)."""
    return np.frombuffer(b"".join(keys), dtype=f"S{KEY_BYTES}").copy()


def _shard_name() -> str:
    return f"shard-{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(3)}.npz"


class ShardStore:
    """The cached vectors of one encoder id (see the module docstring)."""

    def __init__(self, folder: Path, encoder_id: str) -> None:
        self.folder = folder
        self.encoder_id = encoder_id
        self.dim: int | None = None
        self._shards: list[_Shard] = []
        self._seen: set[str] = set()
        self._sorted: np.ndarray | None = None  # S16 [m], unique keys, sorted
        self._rows: np.ndarray | None = None  # int64 [m], global row of each sorted key
        self._offsets = np.zeros(1, dtype=np.int64)  # shard i holds global rows offsets[i:i+1]

    # ---- reading -------------------------------------------------------------------------
    def shard_paths(self) -> list[Path]:
        return sorted(self.folder.glob("shard-*.npz")) if self.folder.is_dir() else []

    def refresh(self) -> None:
        """Load shards written since the last look, and forget shards removed by a compaction
        elsewhere (their rows are in the merged shard, which is written before they go)."""
        paths = self.shard_paths()
        present = {p.name for p in paths}
        kept = [s for s in self._shards if s.name in present]
        if len(kept) != len(self._shards):
            self._shards = kept
            self._invalidate()
        for path in paths:
            if path.name not in self._seen:
                self._seen.add(path.name)
                self._load(path)

    def _load(self, path: Path) -> None:
        try:
            with np.load(path, allow_pickle=False) as data:
                keys, vectors = data["keys"], data["vectors"]
            if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != KEY_BYTES:
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
        keys = np.ascontiguousarray(keys).view(f"S{KEY_BYTES}").reshape(len(keys))
        self._append(_Shard(path.name, keys, vectors.astype(np.float32, copy=False)))

    def _append(self, shard: _Shard) -> None:
        self._shards.append(shard)
        self._invalidate()

    def _invalidate(self) -> None:
        self._sorted = self._rows = None

    def _index(self) -> tuple[np.ndarray, np.ndarray]:
        if self._sorted is None or self._rows is None:
            sizes = [len(s.keys) for s in self._shards]
            self._offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)])
            if self._shards:
                every = np.concatenate([s.keys for s in self._shards])
                self._sorted, first = np.unique(every, return_index=True)
                self._rows = first.astype(np.int64)
            else:
                self._sorted = np.empty(0, dtype=f"S{KEY_BYTES}")
                self._rows = np.empty(0, dtype=np.int64)
        return self._sorted, self._rows

    def rows_of(self, keys: np.ndarray) -> np.ndarray:
        """The global row of each key (``S16`` array), -1 where it is not cached."""
        sorted_keys, rows = self._index()
        if not len(sorted_keys):
            return np.full(len(keys), -1, dtype=np.int64)
        pos = np.minimum(np.searchsorted(sorted_keys, keys), len(sorted_keys) - 1)
        return np.where(sorted_keys[pos] == keys, rows[pos], -1)

    def gather(self, rows: np.ndarray) -> np.ndarray:
        """The vectors at global `rows` (all cached), as one float32 ``[len(rows), dim]``."""
        self._index()
        assert self.dim is not None
        out = np.empty((len(rows), self.dim), dtype=np.float32)
        shard_of = np.searchsorted(self._offsets, rows, side="right") - 1
        for i in np.unique(shard_of):
            at = np.flatnonzero(shard_of == i)
            local = rows[at] - self._offsets[i]
            if at[-1] - at[0] + 1 == len(at):  # one run of output rows: no temporary copy
                np.take(
                    self._shards[i].vectors, local, axis=0, out=out[at[0] : at[-1] + 1], mode="clip"
                )
            else:
                out[at] = self._shards[i].vectors[local]
        return out

    def __len__(self) -> int:
        return len(self._index()[0])

    # ---- writing -------------------------------------------------------------------------
    def add(self, keys: np.ndarray, vectors: np.ndarray) -> None:
        """Write one new shard atomically, then index it (`keys` as ``S16``)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        meta = self.folder / "encoder.json"
        if not meta.exists():
            atomic_write_text(
                meta, json.dumps({"id": self.encoder_id, "dim": int(vectors.shape[1])}) + "\n"
            )
        name = _shard_name()
        self._write(self.folder / name, keys, vectors)
        self._seen.add(name)
        self.dim = int(vectors.shape[1])
        self._append(_Shard(name, keys, vectors))

    def _write(self, path: Path, keys: np.ndarray, vectors: np.ndarray) -> None:
        raw = keys.view(np.uint8).reshape(len(keys), KEY_BYTES)
        atomic_write(path, lambda fh: np.savez(fh, keys=raw, vectors=vectors), prefix=".shard-")

    def compact(self, max_shards: int) -> None:
        """Merge the smallest shards into one until at most ``max(1, max_shards // 2)`` remain,
        when more than `max_shards` are on disk (tiered: big shards are rarely rewritten).

        The merged shard lands before the old ones go, so a crash between leaves duplicates,
        never gaps.
        """
        if len(self._shards) <= max(max_shards, 1):
            self._clean_tmp()
            return
        keep = max(1, max_shards // 2)
        by_size = sorted(self._shards, key=lambda s: len(s.keys))
        merge, rest = by_size[: len(by_size) - keep + 1], by_size[len(by_size) - keep + 1 :]
        keys = np.concatenate([s.keys for s in merge])
        vectors = np.concatenate([s.vectors for s in merge])
        _, first = np.unique(keys, return_index=True)
        if len(first) < len(keys):  # the same text in two shards (concurrent writers)
            first.sort()
            keys, vectors = keys[first], vectors[first]
        name = _shard_name()
        self._write(self.folder / name, keys, vectors)
        self._seen.add(name)
        for shard in merge:
            (self.folder / shard.name).unlink(missing_ok=True)
        self._shards = [*rest, _Shard(name, keys, vectors)]
        self._invalidate()
        self._clean_tmp()

    def _clean_tmp(self) -> None:
        now = time.time()
        for tmp in self.folder.glob(".shard-*.tmp") if self.folder.is_dir() else []:
            try:  # left by a crash long ago
                if now - tmp.stat().st_mtime > _STALE_TMP_S:
                    tmp.unlink()
            except OSError:
                pass
