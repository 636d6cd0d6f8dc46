"""Service settings, and the keyed hash that pseudonymises user ids.

Settings come from arguments or the environment (:meth:`ServiceSettings.from_env`):

=============================  ================================================================
``TAILWISE_SECRET``            pseudonymisation secret (at least 16 characters); when set, user
                               ids are stored as keyed hashes and never logged
``TAILWISE_SECRET_FILE``       a file whose content (stripped) is the secret, instead
``TAILWISE_KEYS_FILE``         the API keys file (:mod:`tailwise.service.keys`); without one the
                               service is open to requests from this machine only
``TAILWISE_ALLOWED_HOSTS``     comma-separated host names a request's ``Host`` header may name
                               (default: localhost, 127.0.0.1, ::1; ``*`` turns the check off)
``TAILWISE_MAX_BODY``          largest request body in bytes (default 1 MiB)
``TAILWISE_MAX_K``             largest list length a request may ask for (default 100)
``TAILWISE_RELOAD_INTERVAL``   seconds between checks of the model directory for a retrained
                               model (default 2; 0 turns the check off)
``TAILWISE_WARM_TEXT``         ``0`` to build the text index on the first query instead of in
                               the background at start-up
=============================  ================================================================
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from tailwise.errors import DataError
from tailwise.service.keys import Keyring

MIN_SECRET_CHARS = 16
#: the names of this machine that a browser cannot be tricked into using for another site
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


@dataclass(frozen=True)
class ServiceSettings:
    """What a running service may accept and how it stores user ids.

    Parameters
    ----------
    secret : str, optional
        Pseudonymisation key. When set, user ids are stored in the database as
        ``HMAC-SHA256(secret, user_id)`` (first 128 bits, hex) and never written to logs.
    max_body_bytes : int
        Requests with a larger body get 413.
    max_k : int
        Largest ``k`` (list length) a request may ask for.
    max_batch : int
        Most items per ``POST /items`` and events per ``POST /feedback``.
    max_history : int
        Most item ids in the history of ``POST /recommend``.
    max_text_chars : int
        Longest item text or query, in characters.
    reload_interval : float
        Seconds between checks of the model directory for a new model (0 = never).
    synchronous : {"FULL", "NORMAL"}
        SQLite ``synchronous`` setting: FULL survives power loss, NORMAL only process crashes.
    n_candidates : int
        Candidates per list handed to a re-ranker.
    warm_text : bool
        Build the text index (queries, item search) in the background at start-up.
    blas_threads : int
        BLAS threads while serving (default 1). Requests run in parallel already, and the small
        matrix products of one request get many times slower with more threads on a busy machine.
    keys : Keyring
        The API keys the service accepts. Empty (the default): no key is asked for, and only
        requests from loopback addresses are answered.
    allowed_hosts : tuple of str
        Host names (or addresses) a request's ``Host`` header may name, against DNS rebinding;
        ``"*"`` allows any.
    """

    secret: str | None = None
    max_body_bytes: int = 1 << 20
    max_k: int = 100
    max_batch: int = 1000
    max_history: int = 1000
    max_text_chars: int = 20_000
    reload_interval: float = 2.0
    synchronous: str = "FULL"
    n_candidates: int = 300
    warm_text: bool = True
    blas_threads: int = 1
    keys: Keyring = Keyring()
    allowed_hosts: tuple[str, ...] = LOOPBACK_HOSTS

    def __post_init__(self) -> None:
        object.__setattr__(self, "allowed_hosts", tuple(dict.fromkeys(normal_host(h) for h in self.allowed_hosts if h.strip())))
        if not self.allowed_hosts:
            raise DataError("allowed_hosts is empty: name at least one host, or '*' for any")
        if self.secret is not None and len(self.secret) < MIN_SECRET_CHARS:
            raise DataError(f"the pseudonymisation secret must have at least {MIN_SECRET_CHARS} characters")
        if self.synchronous.upper() not in ("FULL", "NORMAL"):
            raise DataError(f"synchronous must be FULL or NORMAL, not {self.synchronous!r}")
        for name in ("max_body_bytes", "max_k", "max_batch", "max_history", "max_text_chars", "n_candidates", "blas_threads"):
            if int(getattr(self, name)) < 1:
                raise DataError(f"{name} must be at least 1, not {getattr(self, name)}")

    @property
    def open(self) -> bool:
        """Whether no API key is configured (then only loopback clients are served)."""
        return not self.keys

    def host_allowed(self, host: str) -> bool:
        """Whether a ``Host`` header (with or without its port) names an allowed host.

        Examples
        --------
        >>> s = ServiceSettings()
        >>> s.host_allowed("localhost:8000"), s.host_allowed("[::1]:8000"), s.host_allowed("evil.example:8000")
        (True, True, False)
        """
        return "*" in self.allowed_hosts or normal_host(host, strip_port=True) in self.allowed_hosts

    def warnings(self) -> list[str]:
        """What a person starting the service with these settings should know (logged at start)."""
        out = []
        if self.open:
            out.append("no API keys: every request may read and write, and only clients on this machine "
                       "(loopback) are answered; create keys with `tailwise keys new` to serve others")  # fmt: skip
        if not self.pseudonymise:
            out.append("user ids are stored in the database and written to the access log as given (not "
                       "pseudonymised); set TAILWISE_SECRET or --secret-file to store keyed hashes instead")  # fmt: skip
        return out

    @property
    def pseudonymise(self) -> bool:
        """Whether user ids are stored as keyed hashes."""
        return self.secret is not None

    def user_key(self, user_id: str) -> str:
        """How a user id is stored: itself, or its keyed hash when pseudonymising.

        Examples
        --------
        >>> ServiceSettings().user_key("alice")
        'alice'
        >>> key = ServiceSettings(secret="correct horse battery").user_key("alice")
        >>> len(key), key == ServiceSettings(secret="correct horse battery").user_key("alice")
        (32, True)
        """
        if self.secret is None:
            return user_id
        return keyed_hash(self.secret, user_id)

    def key_check(self) -> str | None:
        """A fingerprint of the secret, stored with the data to detect a changed secret."""
        return None if self.secret is None else keyed_hash(self.secret, "tailwise key check")

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, secret_file: Path | None = None, keys_file: Path | None = None, **overrides: object
    ) -> ServiceSettings:
        """Settings from ``TAILWISE_*`` environment variables (see the module docstring);
        `overrides` that are not None win, and a `secret_file` (``--secret-file``) and a
        `keys_file` (``--keys``) win over the environment's."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        keys_file = keys_file or (Path(env["TAILWISE_KEYS_FILE"]) if env.get("TAILWISE_KEYS_FILE", "").strip() else None)
        if keys_file is not None:
            values["keys"] = Keyring.read(keys_file)
        if env.get("TAILWISE_ALLOWED_HOSTS", "").strip():
            values["allowed_hosts"] = tuple(env["TAILWISE_ALLOWED_HOSTS"].split(","))
        if secret_file is not None:
            values["secret"] = read_secret(Path(secret_file))
        elif env.get("TAILWISE_SECRET_FILE"):
            values["secret"] = read_secret(Path(env["TAILWISE_SECRET_FILE"]))
        elif env.get("TAILWISE_SECRET"):
            values["secret"] = env["TAILWISE_SECRET"]
        for var, name, conv in (
            ("TAILWISE_MAX_BODY", "max_body_bytes", int),
            ("TAILWISE_MAX_K", "max_k", int),
            ("TAILWISE_RELOAD_INTERVAL", "reload_interval", float),
        ):
            if env.get(var):
                try:
                    values[name] = conv(env[var])
                except ValueError:
                    raise DataError(f"environment variable {var} must be a number, not {env[var]!r}") from None
        if env.get("TAILWISE_WARM_TEXT"):
            values["warm_text"] = env["TAILWISE_WARM_TEXT"].strip().lower() not in ("0", "false", "no", "off")
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(cls(), **values)


def normal_host(host: str, strip_port: bool = False) -> str:
    """A host name as compared: lower case, without the brackets of an IPv6 address and, with
    `strip_port`, without a ``:port`` (as a ``Host`` header carries it).

    Examples
    --------
    >>> normal_host("LocalHost:8000", strip_port=True), normal_host("[::1]:80", strip_port=True), normal_host("::1")
    ('localhost', '::1', '::1')
    """
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if strip_port and host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host


def is_loopback(host: str) -> bool:
    """Whether a host name or address is this machine only (``localhost``, 127.0.0.0/8, ``::1``).

    Examples
    --------
    >>> is_loopback("127.0.0.2"), is_loopback("localhost"), is_loopback("0.0.0.0"), is_loopback("example.org")
    (True, True, False, False)
    """
    host = normal_host(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def keyed_hash(secret: str, value: str) -> str:
    """``HMAC-SHA256(secret, value)``, first 128 bits as 32 hex digits."""
    return hmac.new(secret.encode("utf-8"), value.encode("utf-8"), hashlib.sha256).hexdigest()[:32]


def read_secret(path: Path) -> str:
    """The secret in a file (surrounding whitespace stripped), with a clear error."""
    try:
        secret = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the secret file: {exc}", path=path) from None
    if not secret:
        raise DataError("the secret file is empty", path=path)
    return secret
