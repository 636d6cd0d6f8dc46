"""API keys of the HTTP service: roles, the keys file, and the look-up of a presented token.

A key is a random token (:func:`new_token`, 256 bits) that a client sends as
``Authorization: Bearer <token>`` or ``X-API-Key: <token>``. The service keeps only the token's
SHA-256 digest, in a keys file of one key per line (``tailwise keys new`` writes it)::

    # tailwise API keys: <SHA-256 of the token, hex> <role> [user id]
    3b7e...c1 read
    9f02...aa write
    51cd...07 write alice@example.org

=========  =====================================================================================
role       may
=========  =====================================================================================
``read``   recommend, find similar items, look up and search items, ``/info``, ``/users``
``write``  also add items, post feedback, erase a user's data, trigger a reload
=========  =====================================================================================

A ``write`` key bound to a user (the rest of its line, an id as the API accepts it) writes for
that user only: feedback with that ``user_id`` (and the erasure of that user's data), nothing
that changes the catalogue or the model.

A presented token is hashed once and its digest compared with every stored digest by
:func:`hmac.compare_digest` (constant time, no early exit): about a microsecond per key, not a
password hash, which is right for long random tokens (there is nothing to guess).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from tailwise.artifacts import atomic_write
from tailwise.errors import DataError
from tailwise.service.rules import check_id

#: the roles, each allowed what the ones before it are
ROLES = ("read", "write")
HEADER = "# tailwise API keys: <SHA-256 of the token, hex> <role> [user id]\n"
_DIGEST = re.compile(r"[0-9a-f]{64}")


def token_digest(token: str) -> str:
    """The SHA-256 digest of a token, 64 hex digits: what the keys file holds.

    Examples
    --------
    >>> token_digest("not a real token")[:16]
    '68f7ad9e4bc032dc'
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token: 32 bytes from :mod:`secrets`, URL-safe base64 (43 characters)."""
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class ApiKey:
    """One line of the keys file.

    Parameters
    ----------
    digest : str
        SHA-256 of the token, 64 lowercase hex digits.
    role : {"read", "write"}
        What the key may do (see the module docstring).
    user : str, optional
        The one user a ``write`` key writes for.
    """

    digest: str
    role: str
    user: str | None = None

    def __post_init__(self) -> None:
        if not _DIGEST.fullmatch(self.digest):
            raise ValueError(f"the digest must be 64 lowercase hex digits (SHA-256), not {self.digest[:70]!r}")
        if self.role not in ROLES:
            raise ValueError(f"the role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if self.user is not None:
            if self.role != "write":
                raise ValueError("only a write key can be bound to a user (a read key reads for everyone)")
            try:
                check_id(self.user)
            except ValueError as exc:
                raise ValueError(f"the user id {exc}") from None

    def allows(self, role: str) -> bool:
        """Whether this key may do what `role` may."""
        return ROLES.index(self.role) >= ROLES.index(role)

    def line(self) -> str:
        """The key as a line of the keys file."""
        return f"{self.digest} {self.role}" + (f" {self.user}" if self.user else "") + "\n"


@dataclass(frozen=True)
class Keyring:
    """The keys a service accepts (see the module docstring); empty = no key configured."""

    keys: tuple[ApiKey, ...] = ()

    def __len__(self) -> int:
        return len(self.keys)

    def find(self, token: str) -> ApiKey | None:
        """The key whose digest is the token's, or None; compares with every key in constant time."""
        digest = token_digest(token).encode("ascii")
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.digest.encode("ascii"), digest):
                found = key
        return found

    @classmethod
    def read(cls, path: str | Path) -> Keyring:
        """The keys of a keys file; a missing, empty or malformed file is a :class:`DataError`
        naming the line."""
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"cannot read the keys file: {exc}", path=path) from None
        ring = cls(tuple(parse_keys(text, path)))
        if not ring:
            raise DataError("the keys file holds no key; add one with `tailwise keys new --keys FILE`", path=path)
        return ring


def parse_keys(text: str, path: Path | None = None) -> Iterable[ApiKey]:
    """The keys of a keys file's text: ``digest role [user id]`` per line; blank lines and
    lines starting with ``#`` are skipped; a repeated digest is an error.

    Examples
    --------
    >>> [k.role for k in parse_keys("# keys\\n" + "ab" * 32 + " read\\n")]
    ['read']
    """
    seen: dict[str, int] = {}
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(None, 2)
        if len(parts) < 2:
            raise DataError(f"line {n}: expected '<sha256 hex digest> <role> [user id]', not {line[:80]!r}", path=path)
        try:
            key = ApiKey(parts[0], parts[1], parts[2] if len(parts) == 3 else None)
        except ValueError as exc:
            raise DataError(f"line {n}: {exc}", path=path) from None
        if key.digest in seen:
            raise DataError(f"line {n}: the same key as line {seen[key.digest]}", path=path)
        seen[key.digest] = n
        yield key


def add_key(path: str | Path, role: str, user: str | None = None) -> str:
    """Create a key: append its digest to the keys file and return the token (shown once, kept
    nowhere).

    The file is read, checked and written anew beside itself, then renamed over the old one, so
    a reader sees the old keys or all the new ones; existing keys are never lost. A new file is
    readable by its owner only; an existing one keeps its permissions.
    """
    path = Path(path)
    try:
        old = path.read_text(encoding="utf-8") if path.exists() else HEADER
        mode = path.stat().st_mode & 0o777 if path.exists() else 0o600
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the keys file: {exc}", path=path) from None
    list(parse_keys(old, path))  # refuse to append to a file that could not be read back
    token = new_token()
    try:
        key = ApiKey(token_digest(token), role, user)
    except ValueError as exc:
        raise DataError(str(exc)) from None
    text = old + ("" if not old or old.endswith("\n") else "\n") + key.line()
    atomic_write(path, lambda fh: fh.write(text.encode("utf-8")), mode=mode)
    return token
