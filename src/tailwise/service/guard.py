"""Who may call each route: FastAPI dependencies over the service's API keys.

Every route but ``GET /healthz``, the web page and the API docs names the access it needs:

- ``Guard.read``: any key (``read`` or ``write``);
- ``Guard.write``: a ``write`` key not bound to a user (adding items, a reload);
- ``Guard.write_for_user``: a ``write`` key, which the route hands the user ids it writes for
  (:meth:`Caller.check_users`): a key bound to a user writes for that user only (feedback,
  erasing a user's data).

A request presents its key as ``Authorization: Bearer <token>`` or ``X-API-Key: <token>``. No key
or an unknown one is 401 with ``WWW-Authenticate: Bearer``; a key without the role, or bound to
another user, is 403. With keys configured the OpenAPI schema declares both ways to send one
(``HTTPBearer``, ``APIKeyHeader``), so the docs page has an "Authorize" button. With no key
configured every dependency lets the request through (the service is then open to its own
machine only: :class:`~tailwise.service.middleware.RequestGate`) and the schema declares none.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import Depends, HTTPException, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from tailwise.service.keys import ApiKey, Keyring

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
#: the responses a guarded route may give besides its own, for the OpenAPI schema
AUTH_RESPONSES = {
    401: {"model": dict, "description": "no API key, or an unknown one (when the service has keys)"},
    403: {"model": dict, "description": "the key may not do this (a read key, or one bound to another user); "
          "without keys: a client that is not on the service's machine"},
}  # fmt: skip


@dataclass(frozen=True)
class Caller:
    """Who sent a request: the key it presented, or None when the service has no keys."""

    key: ApiKey | None

    def check_users(self, user_ids: Iterable[str]) -> None:
        """403 unless every user id is the one the caller's key is bound to (keys bound to no
        user, and an open service, write for every user)."""
        bound = self.key.user if self.key is not None else None
        if bound is None:
            return
        for user_id in user_ids:
            if user_id != bound:
                raise HTTPException(403, f"this API key writes for user {bound!r} only, not for {user_id!r}")


def _require(caller: Caller, role: str, any_user: bool) -> Caller:
    key = caller.key
    if key is None:
        return caller
    if not key.allows(role):
        raise HTTPException(403, f"this API key has the role {key.role!r}; this request needs a {role!r} key")
    if any_user and key.user is not None:
        raise HTTPException(403, f"this API key writes for user {key.user!r} only; this request needs a write key bound to no user")
    return caller


class Guard:
    """The dependencies of one set of keys (see the module docstring); use :func:`guard`."""

    def __init__(self, keys: Keyring) -> None:
        self.keys = keys
        caller = self._caller(keys)

        def reader(c: Caller = Depends(caller)) -> Caller:
            return c

        def writer(c: Caller = Depends(caller)) -> Caller:
            return _require(c, "write", any_user=False)

        def catalogue_writer(c: Caller = Depends(caller)) -> Caller:
            return _require(c, "write", any_user=True)

        self.caller = caller
        self.read: Any = Depends(reader)
        self.write: Any = Depends(catalogue_writer)
        self.write_for_user: Any = Depends(writer)

    @staticmethod
    def _caller(keys: Keyring) -> Callable[..., Caller]:
        if not keys:

            def open_caller() -> Caller:
                return Caller(None)

            return open_caller
        bearer = HTTPBearer(auto_error=False, description="`Authorization: Bearer <token>`, a token from `tailwise keys new`")
        header = APIKeyHeader(name="X-API-Key", auto_error=False, description="`X-API-Key: <token>`, the same token")

        def key_caller(
            credentials: HTTPAuthorizationCredentials | None = Security(bearer), api_key: str | None = Security(header)
        ) -> Caller:
            token = credentials.credentials if credentials is not None else api_key
            if not token:
                raise HTTPException(401, "an API key is required: send 'Authorization: Bearer <token>' or 'X-API-Key: <token>'", headers=_CHALLENGE)
            key = keys.find(token)
            if key is None:
                raise HTTPException(401, "the API key is not valid (unknown or revoked)", headers=_CHALLENGE)
            return Caller(key)

        return key_caller


@functools.cache
def guard(keys: Keyring) -> Guard:
    """The :class:`Guard` of a set of keys: one per keyring, so every router of an app shares
    its security schemes."""
    return Guard(keys)
