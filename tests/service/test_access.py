"""Access control of the service: the keys file, roles per route (401/403), keys bound to a user,
the Host header check, loopback-only without keys, and the start-up warnings.

In process (FastAPI's test client on the EASE slice of conftest.py), except the last test, which
asks a real ``tailwise serve`` on a loopback port with a key file."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import os
import stat

import httpx
import pytest

from tailwise.errors import DataError
from tailwise.service import keys as keys_module
from tailwise.service.keys import ApiKey, Keyring, add_key, parse_keys, token_digest
from tailwise.service.settings import ServiceSettings

READ, WRITE, ALICE = "read-token-" + "r" * 32, "write-token-" + "w" * 32, "alice-token-" + "a" * 32
KEYS = Keyring((ApiKey(token_digest(READ), "read"), ApiKey(token_digest(WRITE), "write"), ApiKey(token_digest(ALICE), "write", "alice")))

# (method, path, JSON body, the role it needs)
OPERATIONS = [
    ("GET", "/recommend?user_id=1", None, "read"),
    ("POST", "/recommend", {"history": ["1"]}, "read"),
    ("GET", "/similar/1", None, "read"),
    ("GET", "/items?q=toy", None, "read"),
    ("GET", "/items/1", None, "read"),
    ("GET", "/info", None, "read"),
    ("GET", "/users", None, "read"),
    ("POST", "/items", {"items": [{"item_id": "new", "text": "New (2025)"}]}, "write"),
    ("POST", "/feedback", {"events": [{"user_id": "bob", "item_id": "1", "type": "view"}]}, "write"),
    ("POST", "/reload", None, "write"),
]  # fmt: skip
IDS = [f"{m} {p}" for m, p, _, _ in OPERATIONS]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def keyed(make_client, ease_dir):
    return make_client(ease_dir, keys=KEYS)


# ---------------------------------------------------------------------- the keys file
def test_the_keys_file_holds_digests_roles_and_users(tmp_path):
    text = f"# comment\n\n{token_digest(READ)} read\n  {token_digest(ALICE)}  write  Alice Smith \n"
    keys = list(parse_keys(text))
    assert [(k.role, k.user) for k in keys] == [("read", None), ("write", "Alice Smith")]
    assert keys[0].digest == hashlib.sha256(READ.encode()).hexdigest()
    ring = Keyring(tuple(keys))
    assert ring.find(ALICE).user == "Alice Smith" and ring.find(READ).role == "read" and ring.find("guess") is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("abc read\n", "line 1: the digest must be 64 lowercase hex digits"),
        ("# keys\n" + "a" * 64 + " admin\n", "line 2: the role must be one of read, write, not 'admin'"),
        ("a" * 64 + " read alice\n", "line 1: only a write key can be bound to a user"),
        ("a" * 64 + "\n", "line 1: expected '<sha256 hex digest> <role> [user id]'"),
        ("a" * 64 + " read\n" + "a" * 64 + " write\n", "line 2: the same key as line 1"),
        ("a" * 64 + " write a\x7fb\n", "line 1: the user id must not contain control characters"),
    ],
)
def test_a_malformed_keys_file_is_refused_naming_the_line(tmp_path, text, words):
    path = tmp_path / "keys.txt"
    path.write_text(text)
    with pytest.raises(DataError, match=words.replace("[", r"\[").replace("]", r"\]")):
        Keyring.read(path)


def test_an_empty_or_missing_keys_file_is_refused(tmp_path):
    (tmp_path / "keys.txt").write_text("# no keys yet\n")
    with pytest.raises(DataError, match="holds no key"):
        Keyring.read(tmp_path / "keys.txt")
    with pytest.raises(DataError, match="cannot read the keys file"):
        Keyring.read(tmp_path / "missing.txt")


def test_new_keys_are_appended_as_digests_and_the_token_is_only_returned(tmp_path):
    path = tmp_path / "keys.txt"
    first = add_key(path, "write")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # a new file: its owner only
    os.chmod(path, 0o640)
    second = add_key(path, "write", user="alice@example.org")
    text = path.read_text()
    assert first not in text and second not in text and len(first) >= 43
    ring = Keyring.read(path)
    assert [(k.role, k.user) for k in ring.keys] == [("write", None), ("write", "alice@example.org")]
    assert ring.find(first).user is None and ring.find(second).user == "alice@example.org"
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # an existing file keeps its permissions
    assert not list(tmp_path.glob(".*tmp"))  # written beside, then renamed over


def test_a_key_is_not_appended_to_a_file_that_cannot_be_read_back(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text("not a key line\n")
    with pytest.raises(DataError, match="line 1"):
        add_key(path, "read")
    assert path.read_text() == "not a key line\n"
    with pytest.raises(DataError, match="only a write key can be bound"):
        add_key(tmp_path / "other.txt", "read", user="alice")
    assert not (tmp_path / "other.txt").exists()


def test_a_token_is_compared_with_every_key_in_constant_time(monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest
    monkeypatch.setattr(keys_module.hmac, "compare_digest", lambda a, b: compared.append((a, b)) or real(a, b))
    for token in (READ, ALICE, "an unknown token"):  # the first key, the last one, none
        compared.clear()
        KEYS.find(token)
        assert len(compared) == len(KEYS)  # no early exit
        assert {b for _, b in compared} == {token_digest(token).encode()}


# ---------------------------------------------------------------------- roles per route
@pytest.mark.parametrize(("method", "path", "body", "role"), OPERATIONS, ids=IDS)
def test_each_route_asks_for_a_key_of_its_role(keyed, method, path, body, role):
    for headers in ({}, bearer("not-a-key"), {"Authorization": f"Basic {READ}"}):
        r = keyed.request(method, path, json=body, headers=headers)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer" and "API key" in r.json()["detail"]
    as_reader = keyed.request(method, path, json=body, headers=bearer(READ))
    as_writer = keyed.request(method, path, json=body, headers={"X-API-Key": WRITE})
    if role == "read":
        assert as_reader.status_code == 200, as_reader.text
    else:
        assert as_reader.status_code == 403 and "needs a 'write' key" in as_reader.json()["detail"]
    assert as_writer.status_code in (200, 409), as_writer.text  # 409: EASE cannot take new items


def test_health_page_and_docs_need_no_key(keyed):
    for path in ("/healthz", "/", "/static/app.js", "/docs", "/openapi.json"):
        assert keyed.get(path).status_code == 200, path


def test_a_key_bound_to_a_user_writes_for_that_user_only(keyed):
    def feedback(*users: str):
        events = [{"user_id": u, "item_id": "1", "type": "click"} for u in users]
        return keyed.post("/feedback", json={"events": events}, headers=bearer(ALICE))

    assert feedback("alice").json() == {"stored": 1}
    refused = feedback("alice", "bob")
    assert refused.status_code == 403 and refused.json()["detail"] == "this API key writes for user 'alice' only, not for 'bob'"
    counts = keyed.get("/info", headers=bearer(ALICE)).json()["counts"]
    assert counts["feedback_events"] == 1  # nothing of the refused batch was stored
    for method, path, body, _ in OPERATIONS:
        if path in ("/items", "/reload"):
            r = keyed.request(method, path, json=body, headers=bearer(ALICE))
            assert r.status_code == 403 and "bound to no user" in r.json()["detail"]
    assert keyed.get("/recommend", params={"user_id": "alice"}, headers=bearer(ALICE)).json()["known"] is True


def test_the_schema_declares_the_keys_on_every_guarded_operation(keyed, make_client, ease_dir):
    schema = keyed.get("/openapi.json").json()
    assert set(schema["components"]["securitySchemes"]) == {"HTTPBearer", "APIKeyHeader"}
    for path, operations in schema["paths"].items():
        for method, op in operations.items():
            if path == "/healthz":
                assert "security" not in op
                continue
            assert op["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}], f"{method} {path} is not guarded"
            assert {"400", "401", "403"} <= set(op["responses"]), f"{method} {path}"
    open_schema = make_client(ease_dir).get("/openapi.json").json()  # no keys: none declared
    assert "securitySchemes" not in open_schema.get("components", {})
    assert not any("security" in op for ops in open_schema["paths"].values() for op in ops.values())


def test_without_keys_every_route_is_open_on_loopback(make_client, ease_dir):
    c = make_client(ease_dir)
    for method, path, body, _ in OPERATIONS:
        assert c.request(method, path, json=body).status_code in (200, 409), f"{method} {path}"


# ---------------------------------------------------------------------- Host and client checks
def test_the_host_header_must_name_an_allowed_host(make_client, ease_dir):
    c = make_client(ease_dir)
    for host in ("localhost:8000", "127.0.0.1", "[::1]:8000", "LOCALHOST"):
        assert c.get("/info", headers={"host": host}).status_code == 200, host
    r = c.get("/info", headers={"host": "attacker.example:8000"})
    assert r.status_code == 400 and "names no allowed host" in r.json()["detail"] and "--allowed-hosts" in r.json()["detail"]
    assert c.get("/healthz", headers={"host": "attacker.example"}).status_code == 200  # probes pass
    named = make_client(ease_dir, allowed_hosts=("api.example.org",), keys=KEYS)
    assert named.get("/info", headers={"host": "api.example.org:443", **bearer(READ)}).status_code == 200
    assert named.get("/info", headers={"host": "localhost", **bearer(READ)}).status_code == 400
    anyone = make_client(ease_dir, allowed_hosts=("*",))
    assert anyone.get("/info", headers={"host": "attacker.example"}).status_code == 200


def test_allowed_hosts_come_from_the_environment():
    s = ServiceSettings.from_env({"TAILWISE_ALLOWED_HOSTS": " a.example, B.example:80 ,[::1]"})
    assert s.allowed_hosts == ("a.example", "b.example:80", "::1")
    assert s.host_allowed("A.Example:8000") and not s.host_allowed("c.example")
    with pytest.raises(DataError, match="allowed_hosts is empty"):
        ServiceSettings(allowed_hosts=(" ",))


def test_without_keys_only_loopback_clients_are_answered(ease_dir):
    from tailwise.service.middleware import RequestGate

    async def app(scope, receive, send):  # the service behind the gate
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    async def status(settings: ServiceSettings, client: str) -> int:
        transport = httpx.ASGITransport(app=RequestGate(app, settings), client=(client, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
            return (await c.get("/info")).status_code

    assert asyncio.run(status(ServiceSettings(), "127.0.0.1")) == 200
    assert asyncio.run(status(ServiceSettings(), "::1")) == 200
    assert asyncio.run(status(ServiceSettings(), "192.0.2.7")) == 403
    assert asyncio.run(status(ServiceSettings(keys=KEYS), "192.0.2.7")) == 200  # keys decide then


def test_a_wrong_method_lists_every_method_of_the_path(keyed):
    r = keyed.put("/recommend")
    assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
    assert keyed.delete("/items/1").headers["allow"] == "GET"


def test_start_up_warns_without_keys_or_pseudonymisation(make_client, ease_dir, caplog):
    with caplog.at_level(logging.WARNING, logger="tailwise.service.app"):
        make_client(ease_dir)
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "no API keys" in said and "not pseudonymised" in said
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tailwise.service.app"):
        make_client(ease_dir, keys=KEYS, secret="correct horse battery staple")
    assert not caplog.records


# ---------------------------------------------------------------------- a real server
@pytest.mark.slow
def test_a_real_server_with_a_keys_file(server, ease_dir, tmp_path):
    path = tmp_path / "keys.txt"
    token = add_key(path, "read")
    s = server(ease_dir, env={"TAILWISE_KEYS_FILE": str(path)})
    assert httpx.get(f"{s.url}/recommend", params={"user_id": "1"}).status_code == 401
    assert httpx.get(f"{s.url}/recommend", params={"user_id": "1"}, headers=bearer(token)).status_code == 200
    rebound = httpx.get(f"{s.url}/info", headers={"Host": "attacker.example", **bearer(token)})  # DNS rebinding
    assert rebound.status_code == 400
    s.stop()
    assert "API keys: 1 read, 0 write" in s.log() and "not pseudonymised" in s.log()
    assert token not in s.log()
