"""ASGI middleware: what every request passes before the app sees it.

- :class:`RequestGate`: the ``Host`` header must name an allowed host (400 otherwise), against
  DNS rebinding, where a page in the browser of someone on this machine sends requests to the
  service under a name of the attacker's; without API keys only loopback clients are answered
  (403). ``GET /healthz`` passes both, for probes.
- :class:`BodyLimit`: a body over the size limit gets 413 before the app reads it.

Their refusals are JSON ``{"detail": ...}`` like every other error of the service.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Awaitable, Callable

from tailwise.service.settings import ServiceSettings, is_loopback

Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
#: paths open to any Host and any client: liveness probes
OPEN_PATHS = frozenset({"/healthz"})


async def send_json(send: Send, status: int, detail: str, close: bool = False) -> None:
    """Answer ``{"detail": detail}`` with `status` from middleware."""
    payload = json.dumps({"detail": detail}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())]
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class RequestGate:
    """ASGI middleware: the Host check and, without API keys, loopback clients only (see the
    module docstring). A client named by something other than an IP address (a Unix socket,
    an in-process test client) counts as this machine."""

    def __init__(self, app: Callable, settings: ServiceSettings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        host = dict(scope.get("headers") or []).get(b"host", b"").decode("latin-1")
        if not self.settings.host_allowed(host):
            allowed = ", ".join(self.settings.allowed_hosts)
            await send_json(send, 400, f"the Host header {host[:100]!r} names no allowed host ({allowed}); "
                            "start the service with --allowed-hosts to add one")  # fmt: skip
            return
        client = (scope.get("client") or ("",))[0]
        if self.settings.open and _is_ip(client) and not is_loopback(client):
            await send_json(send, 403, "this service has no API keys, so it answers requests from its own machine "
                            "only; give it a keys file (tailwise keys new) to serve others")  # fmt: skip
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """ASGI middleware: a request body larger than `max_bytes` gets 413 before the app sees it.

    Bodies of POST/PUT/PATCH are read up front (declared ``Content-Length`` or streamed
    chunks, whichever reveals the size first) and handed to the app in one piece.
    """

    def __init__(self, app: Callable, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: dict, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(send)
            return
        chunks, size, more = [], 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body, sent = b"".join(chunks), False

        async def replay() -> dict:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        await send_json(send, 413, f"the request body is larger than {self.max_bytes} bytes", close=True)
