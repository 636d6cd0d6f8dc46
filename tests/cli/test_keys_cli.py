"""``tailwise keys`` and the safe defaults of ``tailwise serve``: a key's token is printed once and
only its digest kept; the service refuses a public interface without keys (exit code 2, a clear
message, no traceback) before it loads anything."""

from __future__ import annotations

import pytest

from tailwise.cli.main import main
from tailwise.service.keys import Keyring, token_digest

pytest.importorskip("fastapi")


def test_keys_new_prints_the_token_once_and_keeps_its_digest(tmp_path, capsys):
    path = tmp_path / "keys.txt"
    assert main(["keys", "new", "--role", "write", "--user", "alice", "--keys", str(path)]) == 0
    out, err = capsys.readouterr()
    token = out.strip()
    assert len(token) >= 43 and "\n" not in token and token not in err and "shown this once" in err
    assert token not in path.read_text() and token_digest(token) in path.read_text()
    assert Keyring.read(path).find(token).user == "alice"
    assert main(["keys", "list", "--keys", str(path)]) == 0
    assert capsys.readouterr().out.split() == [token_digest(token)[:12], "write", "alice"]


def test_keys_new_takes_the_file_from_the_environment_or_says_what_is_missing(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("TAILWISE_KEYS_FILE", raising=False)
    assert main(["keys", "new", "--role", "read"]) == 2
    assert "--keys FILE" in capsys.readouterr().err
    monkeypatch.setenv("TAILWISE_KEYS_FILE", str(tmp_path / "env-keys.txt"))
    assert main(["keys", "new", "--role", "read"]) == 0
    assert len(Keyring.read(tmp_path / "env-keys.txt")) == 1
    assert main(["keys", "new", "--role", "read", "--user", "bob"]) == 2
    assert "only a write key can be bound to a user" in capsys.readouterr().err


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "myhost.example"])
def test_serve_refuses_a_public_interface_without_keys(tmp_path, capsys, monkeypatch, host):
    monkeypatch.delenv("TAILWISE_KEYS_FILE", raising=False)
    # no model directory at all: the refusal comes before anything is loaded or bound
    assert main(["serve", "--model-dir", str(tmp_path / "no-model"), "--host", host]) == 2
    err = capsys.readouterr().err
    assert f"refusing to listen on {host} without API keys" in err and "tailwise keys new" in err
    assert "Traceback" not in err


def test_serve_refuses_a_keys_file_it_cannot_read(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TAILWISE_KEYS_FILE", raising=False)
    bad = tmp_path / "keys.txt"
    bad.write_text("0123 write\n")
    assert main(["serve", "--model-dir", str(tmp_path), "--keys", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "line 1: the digest must be 64 lowercase hex digits" in err and "Traceback" not in err
    monkeypatch.setenv("TAILWISE_KEYS_FILE", str(tmp_path / "missing.txt"))
    assert main(["serve", "--model-dir", str(tmp_path), "--host", "0.0.0.0"]) == 2
    assert "cannot read the keys file" in capsys.readouterr().err
