"""Model directories: a JSON manifest plus NumPy arrays (no pickle), written atomically.

Layout of a model directory::

    manifest.json   format version, tailwise/numpy/python versions, model name and parameters,
                    dataset summary, fit time
    model.npz       the model's fitted arrays (deflated: :func:`write_npz`)
    ids.npz         external user and item ids (string arrays)
    history.npz     the training user-item matrix in CSR form (to exclude seen items)
    items.json      item text, in item-index order
"""

from __future__ import annotations

import json
import logging
import os
import platform
import re
import secrets
import shutil
import tempfile
import time
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

import numpy as np

FORMAT_VERSION = 1

log = logging.getLogger(__name__)


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


#: deflate level of compressed ``.npz`` files: on the bundled sample's hybrid, level 1 gives a
#: ``model.npz`` 4% larger than the default level 6 in a third of the time
DEFLATE_LEVEL = 1


def write_npz(path: str | Path, arrays: dict[str, np.ndarray], compress: bool = False) -> None:
    """``np.savez(path, **arrays)``, or with `compress` its deflated form at
    :data:`DEFLATE_LEVEL` (``np.savez_compressed`` takes no level); ``np.load`` reads both."""
    if not compress:
        np.savez(path, **arrays)
        return
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, allowZip64=True, compresslevel=DEFLATE_LEVEL) as zf:
        for key, value in arrays.items():
            with zf.open(f"{key}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, np.asanyarray(value), allow_pickle=False)


def write_dir(
    target: str | Path,
    manifest: dict,
    arrays: dict[str, dict[str, np.ndarray]],
    texts: dict[str, object],
    compressed: tuple[str, ...] = (),
) -> Path:
    """Write a whole directory atomically: build it beside `target`, then swap it in.

    `arrays` maps a file stem to the arrays of one ``.npz`` (deflated for the stems in
    `compressed`, :func:`write_npz`); `texts` maps a file name to a JSON-serialisable object.
    An existing directory at `target` is replaced only once the new one is complete.
    """

    def fill(tmp: Path) -> None:
        for stem, group in arrays.items():
            write_npz(tmp / f"{stem}.npz", group, compress=stem in compressed)
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


#: a leftover of a writer whose process is still alive is removed once it is this old (its PID
#: may have been reused by another process)
STALE_AFTER_S = 3600.0
_LEFTOVER = re.compile(r"(?:old-(?P<old>\d+)(?:-[0-9a-f]+)?|tmp-(?P<tmp>\d+)-[a-z0-9_]+|[a-z0-9_]{8})")


@dataclass(frozen=True)
class Leftovers:
    """What :func:`clean_leftovers` did beside one directory."""

    restored: Path | None  # an old copy put back because the directory itself was missing
    removed: list[Path]  # hidden directories of killed writers that were deleted


def swap_dir(target: str | Path, fill: Callable[[Path], None], stale_after: float = STALE_AFTER_S) -> Path:
    """Build a directory with ``fill(tmp)`` in a hidden folder beside `target`, then swap it in.

    An existing directory at `target` is replaced only once `fill` has returned; when anything
    fails, the old directory stays (or is put back) and the hidden folder is removed. Hidden
    folders that killed writers left beside `target` are cleaned up first
    (:func:`clean_leftovers`). The hidden folders carry the writer's PID:
    ``.NAME.tmp-PID-XXXX`` while filling, ``.NAME.old-PID-XXXX`` for the replaced directory
    until it is deleted.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    clean_leftovers(target, stale_after)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.tmp-{os.getpid()}-", dir=target.parent))
    old = None
    try:
        fill(tmp)
        if target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}-{secrets.token_hex(4)}")
            os.replace(target, old)
        os.replace(tmp, target)
    except BaseException:
        if old is not None and old.exists() and not target.exists():
            os.replace(old, target)  # the swap failed half-way: put the old directory back
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        _remove(old)
    return target


def clean_leftovers(target: str | Path, stale_after: float = STALE_AFTER_S) -> Leftovers:
    """Remove the hidden folders that interrupted writes of `target` left beside it.

    A folder counts as a leftover when its writer is gone: the PID in its name
    (``.NAME.tmp-PID-XXXX``, ``.NAME.old-PID-XXXX``) is no process on this machine, or the
    folder is older than `stale_after` seconds (by its change time: a PID may be reused, by
    this very process too). Folders of
    older tailwise versions (``.NAME.XXXXXXXX``, no PID) go by age alone. A writer that is
    still running is left alone. When `target` itself is missing (a writer was killed between
    its two renames), the newest old copy is put back first, so the directory is there again.

    Parameters
    ----------
    target : str or Path
        The directory whose leftovers to remove (it need not exist).
    stale_after : float
        Age in seconds after which a leftover is removed even if its PID is alive.

    Returns
    -------
    Leftovers
        The copy put back, if any, and the folders removed.
    """
    target = Path(target)
    prefix = f".{target.name}."
    try:
        names = [p for p in target.parent.iterdir() if p.name.startswith(prefix) and p.is_dir() and not p.is_symlink()]
    except FileNotFoundError:
        return Leftovers(None, [])
    now = time.time()
    gone = []
    for path in names:
        m = _LEFTOVER.fullmatch(path.name[len(prefix):])
        if m is None:
            continue
        try:
            age = now - path.stat().st_ctime
        except FileNotFoundError:  # removed by its writer meanwhile
            continue
        pid = m.group("old") or m.group("tmp")
        if age > stale_after or (pid is not None and not _alive(int(pid))):
            gone.append((path, m.group("old") is not None, age))
    restored = None
    olds = sorted((age, path) for path, is_old, age in gone if is_old)
    if olds and not target.exists():
        restored = olds[0][1]
        os.replace(restored, target)
        log.warning("%s was missing after an interrupted write; put back its previous copy", target)
    removed = [path for path, _, _ in gone if path != restored]
    for path in removed:
        _remove(path)
    if removed:
        log.info("removed %d leftovers of interrupted writes beside %s", len(removed), target)
    return Leftovers(restored, removed)


def _alive(pid: int) -> bool:
    """Whether a process with this PID exists on this machine (a zombie counts as alive)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OverflowError):
        return True  # someone else's process (or not a PID we can ask about): keep its folder
    return True


def _remove(path: Path) -> None:
    """Delete a directory tree; what cannot be deleted is logged (the next write retries)."""
    shutil.rmtree(path, ignore_errors=True)
    if path.exists():
        log.warning("could not remove all of %s; the next write of the directory tries again", path)


def read_json(path: str | Path) -> object:
    """A JSON file of a model directory, with an error naming the file (and line) when it is
    missing, unreadable or not valid JSON."""
    from tailwise.errors import DataError

    path = Path(path)
    if not path.is_file():
        raise DataError("the file is missing", path=path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the file: {exc}", path=path) from None


def read_manifest(directory: str | Path) -> dict:
    """The manifest of a model directory, with a clear error when it is not one."""
    from tailwise.errors import DataError

    path = Path(directory) / "manifest.json"
    if not is_model_dir(directory):
        raise DataError("not a tailwise model directory (no manifest.json)", path=directory)
    manifest = read_json(path)
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
