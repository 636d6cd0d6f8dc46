"""Model directories: a JSON manifest plus NumPy arrays (no pickle), written atomically.

Layout of a model directory::

    manifest.json   format version, tailwise/numpy/python versions, model name and parameters,
                    dataset summary, fit time
    model.npz       the model's fitted arrays
    ids.npz         external user and item ids (string arrays)
    history.npz     the training user-item matrix in CSR form (to exclude seen items)
    items.json      item text, in item-index order
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import tempfile
import zipfile
import zlib
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np

FORMAT_VERSION = 1


def _read_umask() -> int:
    mask = os.umask(0)  # reading the umask means setting it: put it straight back
    os.umask(mask)
    return mask


_UMASK = _read_umask()  # read once at import, before any thread could be creating files


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object], prefix: str | None = None, mode: int | None = None) -> None:
    """Write a file through `write(fh)` so that readers see the old content or the new, never a
    half-written file: a temporary file beside it, flushed to disk, then renamed over it.

    The file gets the permissions a plain ``open(path, "w")`` would give (``0o666`` less the
    umask), not the private ``0o600`` of a temporary file, so reports and tables can be shared;
    `mode` sets them instead (e.g. ``0o600`` for a file only its owner may read)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=prefix or f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o666 & ~_UMASK if mode is None else mode)
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    """:func:`atomic_write` of UTF-8 text."""
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")))


def versions() -> dict[str, str]:
    """Versions recorded in every manifest."""
    from tailwise import __version__

    return {"tailwise": __version__, "numpy": np.__version__, "python": platform.python_version()}


def write_dir(target: str | Path, manifest: dict, arrays: dict[str, dict[str, np.ndarray]], texts: dict[str, object]) -> Path:
    """Write a whole directory atomically: build it beside `target`, then swap it in.

    `arrays` maps a file stem to the arrays of one ``.npz``; `texts` maps a file name to a
    JSON-serialisable object. An existing directory at `target` is replaced only once the new
    one is complete.
    """

    def fill(tmp: Path) -> None:
        for stem, group in arrays.items():
            np.savez(tmp / f"{stem}.npz", **group)
        for name, obj in texts.items():
            (tmp / name).write_text(json.dumps(obj, ensure_ascii=False), encoding="utf-8")
        full = {
            "format": FORMAT_VERSION,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "versions": versions(),
            **manifest,
        }
        (tmp / "manifest.json").write_text(json.dumps(full, indent=2), encoding="utf-8")

    return swap_dir(target, fill)


def swap_dir(target: str | Path, fill: Callable[[Path], None]) -> Path:
    """Build a directory with ``fill(tmp)`` in a hidden folder beside `target`, then swap it in.

    An existing directory at `target` is replaced only once `fill` has returned; when anything
    fails, the old directory stays (or is put back) and the hidden folder is removed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    old = None
    try:
        fill(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        if old is not None and old.exists() and not target.exists():
            os.replace(old, target)  # the swap failed half-way: put the old directory back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a model directory, with a clear error when it is not one."""
    from tailwise.errors import DataError

    path = Path(directory) / "manifest.json"
    if not is_model_dir(directory):
        raise DataError("not a tailwise model directory (no manifest.json)", path=directory)
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"manifest is not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the manifest: {exc}", path=path) from None
    if not isinstance(manifest, dict):
        raise DataError(f"the manifest must be a JSON object, not a {type(manifest).__name__}", path=path)
    if manifest.get("format") != FORMAT_VERSION:
        raise DataError(
            f"model directory format {manifest.get('format')!r} is not supported "
            f"(this tailwise reads format {FORMAT_VERSION}); refit the model",
            path=path,
            field="format",
        )
    return manifest


#: what zipfile, zlib and numpy raise for a damaged, truncated or foreign ``.npz`` file (a
#: plain ``.npy`` array has no ``with`` support: TypeError or AttributeError)
_DAMAGED = (OSError, EOFError, ValueError, KeyError, TypeError, AttributeError, MemoryError, zipfile.BadZipFile, zlib.error)


def is_model_dir(path: str | Path) -> bool:
    """Whether `path` is a directory with a ``manifest.json`` (a model directory)."""
    return (Path(path) / "manifest.json").is_file()


def read_arrays(path: str | Path) -> dict[str, np.ndarray]:
    """All arrays of one ``.npz`` file, loaded without pickle; a missing, truncated or garbled
    file is a DataError naming it."""
    from tailwise.errors import DataError

    if not Path(path).is_file():
        raise DataError("the file is missing", path=path)
    try:
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except _DAMAGED as exc:
        raise DataError(f"cannot read the arrays: the file is damaged or not a NumPy .npz archive ({type(exc).__name__})", path=path) from None
