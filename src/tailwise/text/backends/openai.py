"""An OpenAI-compatible ``/v1/embeddings`` endpoint over HTTP (extra ``openai``: httpx)."""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np

from tailwise.text.base import BatchEncoder, EncoderError, ensure_installed

logger = logging.getLogger(__name__)

_PURPOSE = "The OpenAI-compatible embedding encoder"
_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})


def embeddings_url(base_url: str) -> str:
    """The embeddings endpoint of `base_url`.

    Examples
    --------
    >>> embeddings_url("http://127.0.0.1:8000")
    'http://127.0.0.1:8000/v1/embeddings'
    >>> embeddings_url("https://api.example.com/v1/")
    'https://api.example.com/v1/embeddings'
    >>> embeddings_url("http://h/custom/embeddings")
    'http://h/custom/embeddings'
    """
    url = base_url.rstrip("/")
    if url.endswith("/embeddings"):
        return url
    if url.endswith("/v1"):
        return url + "/embeddings"
    return url + "/v1/embeddings"


class OpenAIEmbeddingEncoder(BatchEncoder):
    """Embeddings from any server that speaks the OpenAI embeddings API (OpenAI, vLLM, Ollama, ...).

    Parameters
    ----------
    base_url : str
        Server root (``http://host:port``), its ``/v1`` or the full ``.../embeddings`` URL.
    model : str
        The ``model`` field of each request.
    api_key : str, optional
        Sent as ``Authorization: Bearer``; by default the ``OPENAI_API_KEY`` environment variable
        when set, else no header.
    dim : int, optional
        Requested size, sent as the ``dimensions`` field (only servers with Matryoshka models
        accept it). When None, nothing is sent and the size is learnt from the first answer.
    timeout : float
        Seconds per request.
    max_retries : int
        Retries of a request that timed out, could not connect, or got 408/429/5xx, with
        exponential backoff from 0.5 s.

    Notes
    -----
    Texts go in batches of ``batch_size`` (64 by default) per request; empty texts are not sent
    (they get zero rows). A failed request raises :class:`~tailwise.text.base.EncoderError`
    naming the HTTP status and the URL.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        dim: int | None = None,
        timeout: float = 30,
        max_retries: int = 2,
    ) -> None:
        ensure_installed("httpx", _PURPOSE)
        self.base_url = base_url
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.max_retries = max_retries
        self.url = embeddings_url(base_url)
        self._requested_dim = dim
        self._dim: int | None = dim

    @property
    def id(self) -> str:  # type: ignore[override]
        suffix = "" if self._requested_dim is None else f":d{self._requested_dim}"
        return f"openai:{self.model}@{self.url.removesuffix('/embeddings').removesuffix('/v1')}{suffix}"

    @property
    def dim(self) -> int:  # type: ignore[override]
        if self._dim is None:
            self._dim = int(self._request(["dimension probe"]).shape[1])
        return self._dim

    def _known_dim(self) -> int | None:
        return self._dim

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _post(self, payload: dict[str, Any]) -> Any:
        from tailwise._compat import require

        httpx = require("httpx", _PURPOSE)
        delay = 0.5
        for attempt in range(self.max_retries + 1):
            last = attempt == self.max_retries
            try:
                response = httpx.post(
                    self.url, json=payload, headers=self._headers(), timeout=self.timeout
                )
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if last:
                    raise EncoderError(f"embedding request to {self.url} failed: {exc!r}") from exc
            else:
                if response.status_code < 400:
                    try:
                        return response.json()
                    except ValueError as exc:
                        raise EncoderError(
                            f"embedding endpoint {self.url} answered non-JSON"
                        ) from exc
                if last or response.status_code not in _RETRY_STATUS:
                    body = response.text[:300].strip()
                    raise EncoderError(
                        f"embedding request failed: HTTP {response.status_code} from {self.url}"
                        + (f": {body}" if body else "")
                    )
            logger.warning("embedding request to %s failed, retrying in %.1f s", self.url, delay)
            time.sleep(delay)
            delay *= 2
        raise AssertionError("unreachable")

    def _request(self, texts: list[str]) -> np.ndarray:
        payload: dict[str, Any] = {"model": self.model, "input": texts}
        if self._requested_dim is not None:
            payload["dimensions"] = self._requested_dim
        answer = self._post(payload)
        try:
            data = sorted(answer["data"], key=lambda d: d["index"])
            vecs = np.asarray([d["embedding"] for d in data], dtype=np.float32)
        except (KeyError, TypeError, ValueError) as exc:
            raise EncoderError(
                f"embedding endpoint {self.url} answered an unexpected body: {exc!r}"
            ) from exc
        if vecs.ndim != 2 or len(vecs) != len(texts):
            raise EncoderError(
                f"embedding endpoint {self.url} returned {len(vecs)} vectors for {len(texts)} texts"
            )
        if self._dim is None:
            self._dim = int(vecs.shape[1])
        return vecs

    def _encode_batch(self, texts: list[str], query: bool) -> np.ndarray:
        return self._request(texts)

    def __repr__(self) -> str:
        return f"OpenAIEmbeddingEncoder({self.base_url!r}, {self.model!r})"
