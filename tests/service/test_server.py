"""The real ``tailwise serve`` process on a loopback port: end to end with a restart, SIGKILL in
the middle of feedback writes, pseudonymised ids kept out of logs and the database, and a
retrained model swapped in under load."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import threading
import time

import httpx
import pytest

from tailwise.service.settings import ServiceSettings

pytestmark = pytest.mark.slow


def test_new_item_and_feedback_are_reflected_and_survive_a_restart(server, model_copy, hybrid_dir, tmp_path):
    model, db = model_copy(hybrid_dir), tmp_path / "fb.sqlite"
    s = server(model, db)
    with httpx.Client(base_url=s.url, timeout=60) as c:
        text = "Toy Robots 3 (2025). Adventure, Animation, Children, Comedy, Fantasy"
        assert c.post("/items", json={"items": [{"item_id": "toy-robots", "text": text}]}).json()["added"] == 1
        assert c.get("/items/toy-robots").json()["new"] is True
        events = [{"user_id": "alice", "item_id": i, "type": "click"} for i in ("toy-robots", "1", "3114")]
        assert c.post("/feedback", json={"events": events}).json() == {"stored": 3}
        alice = c.get("/recommend", params={"user_id": "alice", "k": 10}).json()
        assert alice["known"] is True and len(alice["items"]) == 10
        assert not {"toy-robots", "1", "3114"} & {it["item_id"] for it in alice["items"]}
        assert all(it["because"].startswith("because you liked ") for it in alice["items"])
        similar = c.get("/similar/toy-robots").json()["items"]
        assert c.get("/items/toy-robots").json()["interactions"] == 1
    assert s.stop() in (0, -15) and "Application shutdown complete" in s.log()  # SIGTERM: a clean shutdown

    s2 = server(model, db)
    with httpx.Client(base_url=s2.url, timeout=60) as c:
        item = c.get("/items/toy-robots").json()
        assert item["text"] == text and item["new"] is True and item["interactions"] == 1
        assert c.get("/recommend", params={"user_id": "alice", "k": 10}).json() == alice
        assert c.get("/similar/toy-robots").json()["items"] == similar
        counts = c.get("/info").json()["counts"]
        assert counts["new_items"] == 1 and counts["feedback_events"] == 3 and counts["feedback_users"] == 1


def test_acknowledged_feedback_survives_sigkill(server, ease_dir, tmp_path):
    db = tmp_path / "fb.sqlite"
    s = server(ease_dir, db)
    acked: list[str] = []
    lock, stop = threading.Lock(), threading.Event()

    def writer(w: int) -> None:
        with httpx.Client(base_url=s.url, timeout=10) as c:
            for n in range(100_000):
                if stop.is_set():
                    return
                ids = [f"w{w}-{n}-{e}" for e in range(1 + n % 3)]
                body = {"events": [{"user_id": u, "item_id": "1", "type": "view"} for u in ids]}
                try:
                    r = c.post("/feedback", json=body)
                except httpx.HTTPError:
                    return  # the server is gone
                if r.status_code == 200:
                    with lock:
                        acked.extend(ids)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while len(acked) < 300 and time.monotonic() < deadline:
        time.sleep(0.05)
    s.kill()  # SIGKILL while the writers are still sending
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) >= 300
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    stored = {row[0] for row in con.execute("SELECT user_key FROM events")}
    con.close()
    missing = set(acked) - stored
    assert not missing, f"{len(missing)} acknowledged events lost, e.g. {sorted(missing)[:3]}"

    s2 = server(ease_dir, db)  # and the service starts again on it, with every event folded in
    info = httpx.get(f"{s2.url}/info", timeout=30).json()
    assert info["counts"]["feedback_events"] == len(stored) >= len(acked)
    assert httpx.get(f"{s2.url}/recommend", params={"user_id": acked[0]}, timeout=30).json()["known"] is True


def test_pseudonymised_user_ids_stay_out_of_the_database_and_the_logs(server, ease_dir, tmp_path):
    secret = "correct horse battery staple"
    raw = "alice.private@example.org"
    db = tmp_path / "fb.sqlite"
    s = server(ease_dir, db, env={"TAILWISE_SECRET": secret}, verbose=2)  # debug logging on
    with httpx.Client(base_url=s.url, timeout=60) as c:
        assert c.post("/feedback", json={"events": [{"user_id": raw, "item_id": "1", "type": "purchase"}]}).status_code == 200
        body = c.get("/recommend", params={"user_id": raw, "k": 5}).json()
        assert body["known"] is True and body["user_id"] == raw  # the caller gets its own id back
        assert c.get("/recommend", params={"user_id": raw, "k": 0}).status_code == 422
        assert c.post("/feedback", json={"events": [{"user_id": raw, "item_id": "nope", "type": "view"}]}).status_code == 404
        assert c.get("/users").status_code == 404  # no listing of ids
        assert c.get("/info").json()["pseudonymised"] is True
    s.stop()
    assert raw not in s.log() and "alice" not in s.log()
    assert "GET /recommend" not in s.log()  # no access log: its request lines hold user ids
    for path in tmp_path.glob("fb.sqlite*"):
        assert raw.encode() not in path.read_bytes(), path.name
    keys = [r[0] for r in sqlite3.connect(db).execute("SELECT user_key FROM events")]
    assert keys == [ServiceSettings(secret=secret).user_key(raw)]


def test_a_retrained_model_is_swapped_in_without_a_failed_request(server, model_copy, ease_dir, tmp_path):
    model, db = model_copy(ease_dir), tmp_path / "fb.sqlite"
    s = server(model, db, args=["--reload-interval", "0.2"])
    c = httpx.Client(base_url=s.url, timeout=60)
    carol = [{"user_id": "carol", "item_id": i, "type": "click"} for i in ("1", "2", "3")]
    assert c.post("/feedback", json={"events": carol}).status_code == 200
    before = c.get("/info").json()
    assert before["counts"]["users"] == 40 and before["counts"]["feedback_users"] == 1
    statuses: list[int] = []
    errors: list[str] = []
    stop = threading.Event()

    def reader() -> None:
        with httpx.Client(base_url=s.url, timeout=60) as rc:
            while not stop.is_set():
                for user in ("1", "carol"):
                    try:
                        r = rc.get("/recommend", params={"user_id": user, "k": 10})
                        statuses.append(r.status_code)
                        if r.status_code == 200 and user == "carol":
                            assert not {"1", "2", "3"} & {it["item_id"] for it in r.json()["items"]}
                    except Exception as exc:  # noqa: BLE001 - every failure is recorded
                        errors.append(repr(exc))

    t = threading.Thread(target=reader)
    t.start()
    cmd = [sys.executable, "-m", "tailwise.cli.main", "retrain", "--model-dir", str(model), "--db", str(db)]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    deadline = time.monotonic() + 60
    while c.get("/info").json()["counts"]["users"] != 41 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.5)  # keep reading a little on the new model
    stop.set()
    t.join(timeout=60)
    after = c.get("/info").json()
    assert after["counts"]["users"] == 41  # carol is a training user now
    assert after["counts"]["feedback_users"] == 0  # her events are in the model, not folded in
    assert after["created"] != before["created"] or after["loaded_at"] != before["loaded_at"]
    assert not errors and set(statuses) == {200} and len(statuses) > 20
    c.close()
