"""Bad requests get a 4xx with a clear message, never a 500: hand-written cases in process, then
schema-based fuzzing (schemathesis, positive and negative cases from the OpenAPI spec) against a
real ``tailwise serve`` process, which must still be alive and answering afterwards."""

from __future__ import annotations

import json

import pytest

CASES = [
    # (method, path, body or None, headers, status, words the message must contain)
    ("GET", "/recommend", None, {}, 422, "query parameter 'user_id': Field required"),
    ("GET", "/recommend?user_id=", None, {}, 422, "'user_id': must not be empty"),
    ("GET", "/recommend?user_id=%00x", None, {}, 422, "control characters"),
    ("GET", "/recommend?user_id=" + "x" * 300, None, {}, 422, "at most 256 characters"),
    ("GET", "/recommend?user_id=1&k=0", None, {}, 422, "'k': Input should be greater than or equal to 1"),
    ("GET", "/recommend?user_id=1&k=101", None, {}, 422, "'k': Input should be less than or equal to 100"),
    ("GET", "/recommend?user_id=1&k=ten", None, {}, 422, "'k': Input should be a valid integer"),
    ("GET", "/recommend?user_id=1&tail_weight=nan", None, {}, 422, "'tail_weight': Input should be a finite number"),
    ("GET", "/recommend?user_id=1&tail_weight=2", None, {}, 422, "'tail_weight': Input should be less than or equal to 1"),
    ("GET", "/recommend?user_id=1&rerank=shuffle", None, {}, 422, "'rerank': Input should be 'none', 'xquad'"),
    ("POST", "/recommend", b"", {"content-type": "application/json"}, 422, "a JSON body is required"),
    ("POST", "/recommend", b"{history: [1]}", {"content-type": "application/json"}, 422, "not valid JSON at character 1"),
    ("POST", "/recommend", b"[" * 50_000, {"content-type": "application/json"}, 400, "nested too deeply"),
    ("POST", "/recommend", b'{"history": ["1"]}', {"content-type": "text/plain"}, 422, "Content-Type: application/json"),
    ("POST", "/recommend", {}, {}, 422, "give a non-empty history"),
    ("POST", "/recommend", {"history": [], "query": "   "}, {}, 422, "give a non-empty history"),
    ("POST", "/recommend", {"history": ["1"], "k": 1000}, {}, 422, "k must be at most 100"),
    ("POST", "/recommend", {"history": ["1"], "k": "3"}, {}, 422, "'k': Input should be a valid integer"),
    ("POST", "/recommend", {"history": "1"}, {}, 422, "'history': Input should be a valid list"),
    ("POST", "/recommend", {"history": ["1", "no-such-item"]}, {}, 404, "history[1]: unknown item 'no-such-item'"),
    ("POST", "/recommend", {"history": ["\ud800"]}, {}, 422, "unpaired surrogate"),
    ("POST", "/recommend", {"history": ["1"], "tail_wieght": 0.5}, {}, 422, "'tail_wieght': Extra inputs are not permitted"),
    ("POST", "/recommend", {"history": ["1"], "candidates": ["2", "nope"]}, {}, 404, "candidates[1]: unknown item 'nope'"),
    ("POST", "/recommend", {"history": ["1"], "candidates": []}, {}, 422, "'candidates': List should have at least 1 item"),
    ("POST", "/recommend", {"history": ["1"], "seed": -1}, {}, 422, "'seed': Input should be greater than or equal to 0"),
    ("POST", "/recommend", {"history": ["1"], "seed": "7"}, {}, 422, "'seed': Input should be a valid integer"),
    ("GET", "/recommend?user_id=1&seed=1.5", None, {}, 422, "'seed': Input should be a valid integer"),
    ("GET", "/recommend?user_id=1&seed=" + "9" * 20, None, {}, 422, "'seed': Input should be less than or equal to"),
    ("GET", "/similar/no-such-item", None, {}, 404, "unknown item 'no-such-item'"),
    ("GET", "/items/no-such-item", None, {}, 404, "unknown item 'no-such-item'"),
    ("GET", "/items?q=", None, {}, 422, "non-blank"),
    ("GET", "/items", None, {}, 422, "query parameter 'q': Field required"),
    ("GET", "/items?q=%20%20", None, {}, 422, "non-blank"),
    ("POST", "/items", {"items": []}, {}, 422, "'items': List should have at least 1 item"),
    ("POST", "/items", {"items": [{"item_id": "x"}]}, {}, 422, "needs a non-empty text or one of the fields"),
    ("POST", "/items", {"items": [{"item_id": "x", "text": "a\u0000b"}]}, {}, 422, "NUL"),
    ("POST", "/items", {"items": [{"item_id": "", "text": "t"}]}, {}, 422, "'items[0].item_id': must not be empty"),
    ("POST", "/items", {"items": [{"item_id": "x", "text": "t" * 20_001}]}, {}, 422, "at most 20000 characters"),
    ("POST", "/items", {"items": [{"item_id": "x", "text": "New (2025)"}]}, {}, 409, "cannot score new items"),
    ("POST", "/feedback", {"events": [{"user_id": "u", "item_id": "1", "type": "like"}]}, {}, 422, "'events[0].type': Input should be 'view'"),
    ("POST", "/feedback", {"events": [{"user_id": "u", "item_id": "1", "type": "view", "value": "NaN"}]}, {}, 422, "'events[0].value': Input should be a valid number"),
    ("POST", "/feedback", b'{"events": [{"user_id": "u", "item_id": "1", "type": "view", "value": NaN}]}', {"content-type": "application/json"}, 422, "finite number"),
    ("POST", "/feedback", b'{"events": [{"user_id": "u", "item_id": NaN, "type": "view"}]}', {"content-type": "application/json"}, 422, "'events[0].item_id': Input should be a valid string"),
    ("POST", "/feedback", b'{"events": [{"user_id": "u", "item_id": Infinity, "type": "view"}]}', {"content-type": "application/json"}, 422, "'events[0].item_id': Input should be a valid string"),
    ("POST", "/feedback", {"events": [{"user_id": 42, "item_id": "1", "type": "view"}]}, {}, 422, "'events[0].user_id': Input should be a valid string"),
    ("POST", "/feedback", {"events": [{"user_id": "u", "item_id": "1", "type": "view", "timestamp": "2023-02-29"}]}, {}, 422, "ISO-8601 date"),
    ("POST", "/feedback", {"events": [{"user_id": "u", "item_id": "1", "type": "view", "timestamp": "1e3"}]}, {}, 422, "ISO-8601 date"),
    ("POST", "/recommend", {"history": [1]}, {}, 422, "'history[0]': Input should be a valid string"),
    ("POST", "/recommend", {"history": ["1"], "tail_weight": "0.5"}, {}, 422, "'tail_weight': Input should be a valid number"),
    ("POST", "/items", {"items": [{"item_id": "x", "title": "  ", "genres": ["", " "]}]}, {}, 422, "needs a non-empty text or one of the fields"),
    ("POST", "/feedback", {"events": [{"user_id": "u", "item_id": "1", "type": "view", "timestamp": "yesterday"}]}, {}, 422, "ISO-8601 date or epoch seconds"),
    ("POST", "/feedback", {"events": [{"user_id": "u", "item_id": "1", "type": "view", "timestamp": -5}]}, {}, 422, "between 1970 and 2200"),
    ("POST", "/feedback", {"events": [{"item_id": "1", "type": "view"}]}, {}, 422, "'events[0].user_id': Field required"),
    ("POST", "/feedback", {"events": [{"user_id": "u", "item_id": "1", "type": "view"}] * 1001}, {}, 422, "at most 1000 events"),
    ("POST", "/feedback", b'{"events": [' + b'"x",' * 400_000 + b'"x"]}', {"content-type": "application/json"}, 413, "larger than 1048576 bytes"),
    ("PUT", "/recommend", {}, {}, 405, "Method Not Allowed"),
    ("GET", "/no/such/path", None, {}, 404, "no such endpoint"),
]  # fmt: skip


@pytest.fixture(scope="module")
def client(ease_dir, tmp_path_factory):
    from fastapi.testclient import TestClient

    from tailwise.service.app import create_app
    from tailwise.service.settings import ServiceSettings

    app = create_app(ease_dir, tmp_path_factory.mktemp("bad") / "fb.sqlite", ServiceSettings(warm_text=False, reload_interval=0))
    with TestClient(app, base_url="http://localhost", raise_server_exceptions=False) as c:
        yield c


@pytest.mark.parametrize(("method", "path", "body", "headers", "status", "words"), CASES, ids=[f"{c[0]} {c[1][:40]} {c[4]}" for c in CASES])
def test_bad_request_gets_a_clear_4xx(client, method, path, body, headers, status, words):
    if isinstance(body, dict):
        content, headers = json.dumps(body).encode(), {"content-type": "application/json", **headers}
    else:
        content = body
    r = client.request(method, path, content=content, headers=headers)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and words in detail


def test_the_store_holds_nothing_from_refused_requests(client):
    assert client.get("/info").json()["counts"]["feedback_events"] == 0


# ---------------------------------------------------------------------- fuzzing a real server
OPERATIONS = [
    ("GET", "/recommend"), ("POST", "/recommend"), ("GET", "/similar/{item_id}"), ("POST", "/items"),
    ("GET", "/items"), ("GET", "/items/{item_id}"), ("POST", "/feedback"), ("GET", "/healthz"),
    ("GET", "/info"), ("GET", "/users"), ("POST", "/reload"), ("DELETE", "/users/{user_id}"),
    ("GET", "/history"),
]  # fmt: skip


@pytest.fixture(scope="module")
def live_server(hybrid_dir, tmp_path_factory, server_class):
    folder = tmp_path_factory.mktemp("fuzz")
    s = server_class(hybrid_dir, folder / "fb.sqlite", folder / "server.log").start()
    yield s
    if s.alive():
        s.stop()


@pytest.fixture(scope="module")
def api_schema(live_server):
    schemathesis = pytest.importorskip("schemathesis")
    return schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")


def test_fuzzing_covers_every_operation(api_schema):
    listed = {(r.ok().method.upper(), r.ok().path) for r in api_schema.get_all_operations()}
    assert listed == set(OPERATIONS)


@pytest.mark.slow
@pytest.mark.parametrize(("method", "path"), OPERATIONS)
def test_fuzzed_requests_never_get_a_server_error(api_schema, live_server, method, path):
    """Positive and negative cases from the OpenAPI spec (schemathesis), 40 of each."""
    from hypothesis import HealthCheck, given, settings
    from hypothesis.errors import Unsatisfiable
    from schemathesis import GenerationMode

    operation = api_schema[path][method]
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @settings(max_examples=40, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def check(case):
            response = case.call(base_url=live_server.url, timeout=60)
            where = f"{case.method} {case.formatted_path} {case.query} {str(case.body)[:200]}"
            assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}\n{live_server.log()[-3000:]}"
            if response.status_code >= 400:
                assert isinstance(response.json()["detail"], str), where

        try:
            check()
        except Unsatisfiable:  # no schema-invalid request exists (no parameters, any string fits)
            assert mode is GenerationMode.NEGATIVE
    assert live_server.alive()
    assert "Traceback" not in live_server.log()
