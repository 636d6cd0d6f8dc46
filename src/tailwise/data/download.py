"""Downloading public data files into a local cache: checksummed, resumable, never half-written.

A file is fetched into ``NAME.part`` beside its destination (resuming a ``.part`` left by an
interrupted download with an HTTP range request where the server allows it), checked against its
checksum, and only then renamed to its final name, so the cache never holds a half-written or
unverified file. Checksums come from the publisher where one is published (an MD5 pinned here or
read from the ``.md5`` file beside the archive); where none is, the SHA-256 of the first download
is recorded in ``checksums.json`` in the cache folder and every later download must match it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tailwise.artifacts import atomic_write_text
from tailwise.errors import DataError

log = logging.getLogger(__name__)

#: environment variable naming the data cache folder (default ``~/.cache/tailwise/data``)
CACHE_ENV = "TAILWISE_DATA"
CHUNK = 1 << 20


def data_home(cache_dir: str | Path | None = None) -> Path:
    """The data cache folder: `cache_dir`, else ``$TAILWISE_DATA``, else ``~/.cache/tailwise/data``.

    Examples
    --------
    >>> str(data_home("/srv/data"))
    '/srv/data'
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "tailwise" / "data"


@dataclass(frozen=True)
class Remote:
    """One file to download.

    Parameters
    ----------
    key : str
        Where it goes, relative to the cache folder (``movielens/ml-1m.zip``); also its key in
        ``checksums.json``.
    url : str
        Where it comes from.
    md5 : str, optional
        The publisher's MD5, when pinned here.
    md5_url : str, optional
        A file the publisher puts beside it with its MD5 (``MD5 (ml-1m.zip) = <hex>``).
    """

    key: str
    url: str
    md5: str | None = None
    md5_url: str | None = None


def _hint(remote: Remote, dest: Path) -> str:
    return (
        f"download {remote.url} by hand and place it at {dest} (it is checked before use), "
        f"or point ${CACHE_ENV} at a folder that has {remote.key}"
    )


def _open(url: str, timeout: float, start: int = 0):
    request = urllib.request.Request(url, headers={"User-Agent": "tailwise"})
    if start:
        request.add_header("Range", f"bytes={start}-")
    return urllib.request.urlopen(request, timeout=timeout)


def _publisher_md5(remote: Remote, timeout: float) -> str | None:
    if remote.md5 or not remote.md5_url:
        return remote.md5
    try:
        with _open(remote.md5_url, timeout) as resp:
            text = resp.read(4096).decode("ascii", "replace")
    except (urllib.error.URLError, OSError) as exc:
        log.warning("could not read the publisher's checksum %s (%s)", remote.md5_url, exc)
        return None
    found = re.search(r"\b[0-9a-fA-F]{32}\b", text)
    if not found:
        raise DataError(f"no MD5 in the publisher's checksum file {remote.md5_url}")
    return found.group(0).lower()


def _digests(path: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(CHUNK):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def _records(home: Path) -> dict[str, dict]:
    path = home / "checksums.json"
    if not path.exists():
        return {}
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (ValueError, TypeError) as exc:
        raise DataError(f"damaged checksum record ({exc}); delete it to start afresh", path) from None


def verify(remote: Remote, path: Path, home: Path, md5: str | None) -> None:
    """Check `path` against the publisher's MD5 or the SHA-256 recorded for `remote.key`.

    With neither, record the file's SHA-256 (and size) so that later downloads are checked.
    A mismatch is a DataError naming the file, the expected and the actual digest.
    """
    got_md5, got_sha = _digests(path)
    records = _records(home)
    known = records.get(remote.key)
    if md5 is not None and got_md5 != md5:
        raise DataError(
            f"checksum mismatch for {remote.url}: publisher's MD5 {md5}, downloaded file {got_md5}; "
            "the file is damaged or has changed (nothing was kept)",
            path,
        )
    if md5 is None and known and known.get("sha256") != got_sha:
        raise DataError(
            f"checksum mismatch for {remote.url}: SHA-256 {got_sha}, but the first download "
            f"recorded {known.get('sha256')}; the file has changed (nothing was kept; delete "
            f"{remote.key} from {home / 'checksums.json'} to accept the new file)",
            path,
        )
    if md5 is None and not known:
        log.info("%s has no published checksum; recorded its SHA-256 %s", remote.key, got_sha)
    records[remote.key] = {"url": remote.url, "sha256": got_sha, "md5": got_md5, "bytes": path.stat().st_size}
    home.mkdir(parents=True, exist_ok=True)
    atomic_write_text(home / "checksums.json", json.dumps(records, indent=2, sort_keys=True))


def fetch(
    remote: Remote,
    cache_dir: str | Path | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """The verified local copy of `remote`, downloaded into the cache when it is not there yet.

    A file already in the cache (downloaded before, or placed there by hand) is checked once
    against its checksum before first use; one that fails is left in place with an error
    naming it. A ``.part`` file from an interrupted download is resumed.

    Raises
    ------
    DataError
        Offline or the server refused (the message names the URL and where to put the file by
        hand), or a checksum mismatch.
    """
    home = data_home(cache_dir)
    dest = home / remote.key
    if dest.exists():
        known = _records(home).get(remote.key)
        if not known or known.get("bytes") != dest.stat().st_size:
            verify(remote, dest, home, _publisher_md5(remote, timeout))  # placed by hand
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        md5 = _publisher_md5(remote, timeout)
        _download(remote.url, part, timeout, progress)
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DataError(f"could not download {remote.url} ({reason}); {_hint(remote, dest)}") from None
    try:
        verify(remote, part, home, md5)
    except DataError:
        part.unlink(missing_ok=True)
        raise
    os.replace(part, dest)
    return dest


def _download(url: str, part: Path, timeout: float, progress: bool) -> None:
    start = part.stat().st_size if part.exists() else 0
    resp = _open(url, timeout, start)
    with resp:
        if start and resp.status != 206:  # the server ignored the range: start again
            start = 0
        total = resp.headers.get("Content-Length")
        total = None if total is None else int(total) + start
        with part.open("ab" if start else "wb") as fh, _Bar(url, total, start, progress) as advance:
            while block := resp.read(CHUNK):
                fh.write(block)
                advance(len(block))
    if start:
        log.info("resumed %s from byte %d", url, start)


class _Bar:
    """A rich download bar on stderr (bytes, speed, time left); nothing when `enabled` is False."""

    def __init__(self, url: str, total: int | None, done: int, enabled: bool) -> None:
        self.url, self.total, self.done, self.enabled = url, total, done, enabled
        self._progress = None

    def __enter__(self):
        if not self.enabled:
            return lambda n: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
            TransferSpeedColumn(), TimeRemainingColumn(), console=Console(stderr=True),
        )  # fmt: skip
        self._progress.__enter__()
        task = self._progress.add_task(f"downloading {self.url.rsplit('/', 1)[-1]}", total=self.total, completed=self.done)
        return lambda n: self._progress.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
