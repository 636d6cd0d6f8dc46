"""The API's description: a docs page that works offline (their assets served from the package) and
an OpenAPI schema that declares what the server enforces, checked with every schemathesis check
against a real ``tailwise serve`` with API keys on a loopback port."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

from tailwise.service.keys import add_key

#: the operations of the API (each must appear in the docs page)
N_OPERATIONS = 13


@pytest.fixture(scope="module")
def client(ease_dir, tmp_path_factory):
    from fastapi.testclient import TestClient

    from tailwise.service.app import create_app
    from tailwise.service.settings import ServiceSettings

    app = create_app(ease_dir, tmp_path_factory.mktemp("docs") / "fb.sqlite", ServiceSettings(warm_text=False, reload_interval=0))
    with TestClient(app, base_url="http://localhost") as c:
        yield c


def test_the_docs_page_references_no_external_url(client):
    r = client.get("/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "://" not in r.text and "//cdn" not in r.text and "fonts.googleapis" not in r.text
    refs = re.findall(r"""(?:src|href|url|spec-url)\s*[=:]\s*["']([^"']+)["']""", r.text)
    assert refs and all(ref.startswith("/") and not ref.startswith("//") for ref in refs), refs
    for ref in refs:
        assert client.get(ref).status_code == 200, ref
    assert '"validatorUrl": null' in r.text  # no badge from the validator's site
    assert client.get("/redoc").status_code == 404  # ReDoc would fetch its logo from a CDN


def test_the_schema_declares_the_rules_and_the_limits(client):
    schema = client.get("/openapi.json").json()
    components = schema["components"]["schemas"]
    item_id = components["FeedbackEvent"]["properties"]["item_id"]
    assert item_id["minLength"] == 1 and item_id["maxLength"] == 256 and item_id["pattern"] == r"^[^\x00-\x1f\x7f]+$"
    request = components["RecommendRequest"]
    assert [b["required"] for b in request["anyOf"]] == [["history"], ["query"]]
    assert request["properties"]["k"]["maximum"] == 100 and request["properties"]["seed"]["anyOf"][0]["maximum"] == 2**63 - 1
    assert components["FeedbackRequest"]["properties"]["events"]["maxItems"] == 1000
    q = next(p for p in schema["paths"]["/items"]["get"]["parameters"] if p["name"] == "q")
    assert {"pattern": r"\S"} in q["schema"]["allOf"]
    assert "400" in schema["paths"]["/feedback"]["post"]["responses"]


def test_the_limits_follow_the_settings(make_client, ease_dir):
    schema = make_client(ease_dir, max_k=7, max_batch=3).get("/openapi.json").json()
    components = schema["components"]["schemas"]
    assert components["RecommendRequest"]["properties"]["k"]["maximum"] == 7
    assert components["ItemsRequest"]["properties"]["items"]["maxItems"] == 3
    k = next(p for p in schema["paths"]["/recommend"]["get"]["parameters"] if p["name"] == "k")
    assert k["schema"]["maximum"] == 7


# ---------------------------------------------------------------------- real servers
@pytest.fixture(scope="module")
def keyed_server(hybrid_dir, tmp_path_factory, server_class):
    """A real server over the hybrid with one write key; yields (server, token)."""
    folder = tmp_path_factory.mktemp("keyed")
    token = add_key(folder / "keys.txt", "write")
    s = server_class(hybrid_dir, folder / "fb.sqlite", folder / "server.log", args=["--keys", str(folder / "keys.txt")]).start()
    yield s, token
    if s.alive():
        s.stop()


@pytest.mark.slow
def test_swagger_ui_renders_every_operation_offline(keyed_server):
    from tailwise.testing.browser import browser_page

    s, _ = keyed_server
    requests: list[str] = []
    errors: list[str] = []
    with browser_page() as page:
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(f"{s.url}/docs")
        page.wait_for_selector(".opblock", timeout=30_000)
        assert page.locator(".opblock").count() == N_OPERATIONS
        assert page.locator("button.authorize").count() == 1  # the keys are declared
    outside = [u for u in requests if not u.startswith((f"{s.url}/", "data:", "blob:"))]
    assert not outside, f"the docs reached beyond the local service: {outside}"
    assert not errors, errors


@pytest.mark.slow
def test_the_server_conforms_to_its_schema(keyed_server, tmp_path):
    """Every schemathesis check (valid data accepted, invalid refused, declared statuses, content
    types and headers, 405 with Allow, auth enforced) over examples, coverage and fuzzing, with a
    fixed seed and a bounded number of cases (about a minute)."""
    s, token = keyed_server
    cmd = [sys.executable, "-m", "schemathesis.cli", "run", f"{s.url}/openapi.json", "--checks", "all",
           "--header", f"Authorization: Bearer {token}", "--max-examples", "25", "--seed", "7", "--workers", "2",
           "--phases", "examples,coverage,fuzzing", "--request-timeout", "60", "--no-color"]  # fmt: skip
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=420, check=False)
    report = done.stdout[-8000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert f"Selected: {N_OPERATIONS}/{N_OPERATIONS}" in report
    assert "failures" not in report.splitlines()[-1] and s.alive()
    assert "Traceback" not in s.log()
    assert httpx.get(f"{s.url}/healthz").json() == {"status": "ok"}
