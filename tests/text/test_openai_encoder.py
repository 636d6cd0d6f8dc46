"""The OpenAI-compatible client, against a stub server on 127.0.0.1 started by the test."""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import numpy as np
import pytest

pytest.importorskip("httpx", reason="the OpenAI-compatible encoder needs httpx (extra 'openai')")

from tailwise.text import EncoderError, OpenAIEmbeddingEncoder, make_encoder

DIM = 12


def vector(text: str, dim: int = DIM) -> list[float]:
    seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(dim).round(6).tolist()


class Handler(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict]] = []

    def log_message(self, *args) -> None:  # keep the test output quiet
        pass

    def _send(self, status: int, body: dict | str) -> None:
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), **payload}
        )
        if self.path == "/fail/v1/embeddings":
            return self._send(500, "model exploded")
        if self.path == "/short/v1/embeddings":
            return self._send(200, {"data": [{"index": 0, "embedding": [1.0] * DIM}]})
        if self.path != "/v1/embeddings":
            return self._send(404, {"error": "not found"})
        dim = payload.get("dimensions", DIM)
        data = [
            {"object": "embedding", "index": i, "embedding": vector(t, dim)}
            for i, t in enumerate(payload["input"])
        ]
        self._send(
            200, {"object": "list", "model": payload["model"], "data": data[::-1]}
        )  # any order


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(autouse=True)
def _fresh_log():
    Handler.requests.clear()


def test_encodes_in_batches_in_order(server):
    enc = OpenAIEmbeddingEncoder(server, "stub-embed", api_key="sk-test")
    texts = [f"item {i}" for i in range(7)] + [""]
    out = enc.encode_items(texts, batch_size=3, progress=False)
    assert out.shape == (8, DIM) and out.dtype == np.float32
    expected = np.asarray([vector(t) for t in texts[:7]], dtype=np.float32)
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    np.testing.assert_allclose(out[:7], expected, atol=1e-5)
    assert not out[7].any()  # empty text: not sent, zero row
    assert [len(r["input"]) for r in Handler.requests] == [3, 3, 1]
    assert all(
        r["auth"] == "Bearer sk-test" and r["model"] == "stub-embed" for r in Handler.requests
    )
    assert enc.dim == DIM


def test_dim_is_learnt_from_the_server_or_requested(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    enc = make_encoder(f"openai:stub-embed@{server}/v1")
    assert enc.dim == DIM and enc.id == f"openai:stub-embed@{server}"
    assert Handler.requests[0]["auth"] is None
    small = OpenAIEmbeddingEncoder(server, "stub-embed", dim=5)
    assert small.encode_queries(["hello"]).shape == (1, 5)
    assert Handler.requests[-1]["dimensions"] == 5 and small.id.endswith(":d5")


def test_http_failure_names_status_and_url(server):
    enc = OpenAIEmbeddingEncoder(server + "/fail", "stub-embed", max_retries=0)
    with pytest.raises(
        EncoderError, match=rf"HTTP 500 from {server}/fail/v1/embeddings: model exploded"
    ):
        enc.encode_items(["a"], progress=False)
    enc = OpenAIEmbeddingEncoder(server + "/nope", "stub-embed", max_retries=3)
    with pytest.raises(EncoderError, match="HTTP 404"):
        enc.encode_items(["a"], progress=False)
    assert len(Handler.requests) == 2  # 4xx is not retried


def test_retries_then_fails_and_wrong_counts(server):
    enc = OpenAIEmbeddingEncoder(server + "/fail", "stub-embed", max_retries=1)
    with pytest.raises(EncoderError, match="HTTP 500"):
        enc.encode_items(["a"], progress=False)
    assert len(Handler.requests) == 2
    enc = OpenAIEmbeddingEncoder(server + "/short", "stub-embed")
    with pytest.raises(EncoderError, match="1 vectors for 2 texts"):
        enc.encode_items(["a", "b"], progress=False)


def test_unreachable_server_is_a_clear_error():
    import socket

    with socket.socket() as s:  # a free local port with nobody listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    enc = OpenAIEmbeddingEncoder(f"http://127.0.0.1:{port}", "m", max_retries=0, timeout=2)
    with pytest.raises(EncoderError, match=f"127.0.0.1:{port}/v1/embeddings failed"):
        enc.encode_items(["a"], progress=False)
