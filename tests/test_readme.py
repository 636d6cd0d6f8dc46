"""The README's commands and Python example run as written (against servers on 127.0.0.1)."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from tailwise.data import demo_path
from tailwise.testing.fileserver import FileServer

README = Path(__file__).resolve().parents[1] / "README.md"


def python_example() -> str:
    """The README's first ``python`` code block."""
    return re.search(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL).group(1)


def ml1m_zip(n_users: int = 60) -> bytes:
    """An archive laid out as GroupLens's ml-1m.zip (``::`` files, Latin-1), from the bundled
    sample's first users, with integer ratings."""
    r = pd.read_csv(demo_path() / "ratings.csv")
    r = r[r.userId <= n_users]
    m = pd.read_csv(demo_path() / "movies.csv")
    m = m[m.movieId.isin(r.movieId)]
    ratings = "".join(f"{u}::{i}::{max(1, round(x))}::{t}\n" for u, i, x, t in r.itertuples(index=False))
    movies = "".join(f"{i}::{t}::{g}\n" for i, t, g in m.itertuples(index=False))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ml-1m/ratings.dat", ratings.encode("latin-1", "replace"))
        zf.writestr("ml-1m/movies.dat", movies.encode("latin-1", "replace"))
    return buf.getvalue()


def test_the_python_example_runs_as_written(tmp_path, monkeypatch, capsys):
    data = ml1m_zip()
    md5 = f"MD5 (ml-1m.zip) = {hashlib.md5(data).hexdigest()}\n".encode()
    with FileServer({"/ml-1m.zip": data, "/ml-1m.zip.md5": md5}) as srv:
        monkeypatch.setenv("TAILWISE_MOVIELENS_URL", srv.url)  # a mirror: here, on loopback
        monkeypatch.setenv("TAILWISE_DATA", str(tmp_path / "data"))
        exec(compile(python_example(), "README.md", "exec"), {})  # noqa: S102 (the README's own code)
        assert [p for p, _, _ in srv.requests] == ["/ml-1m.zip.md5", "/ml-1m.zip"]
    printed = capsys.readouterr().out
    assert "'ndcg':" in printed and "'tail_recall':" in printed
    assert (tmp_path / "data" / "movielens" / "ml-1m" / "ratings.dat").is_file()


def serving_commands() -> list[str]:
    """The three commands of the README's 'From the demo to a served model'."""
    text = README.read_text(encoding="utf-8").split("### From the demo to a served model", 1)[1]
    block = re.search(r"```bash\n(.*?)```", text, re.DOTALL).group(1)
    return [line.split("#")[0].strip() for line in block.strip().splitlines()]


def test_the_serving_section_has_three_commands():
    cmds = serving_commands()
    assert cmds[0] == "make demo"
    assert cmds[1] == ".venv-demo/bin/tailwise fit --demo-data --model-dir model/"
    assert cmds[2] == ".venv-demo/bin/tailwise serve --model-dir model/"
    assert "serve" in re.search(r'pip install --progress-bar on "\.\[(.*?)\]"', (README.parent / "Makefile").read_text()).group(1)


@pytest.mark.slow
def test_fit_demo_data_then_serve_as_the_readme_says(tmp_path, monkeypatch):
    """Commands 2 and 3 (with this environment's tailwise in place of .venv-demo's): the default
    model fitted on the bundled sample, then served; the page and a list answer."""
    pytest.importorskip("fastapi")
    httpx = pytest.importorskip("httpx")
    from tailwise.cli.main import main

    _, fit, serve = serving_commands()
    fit_args = fit.split()[1:]
    monkeypatch.chdir(tmp_path)
    assert main(fit_args) == 0
    assert (tmp_path / "model" / "manifest.json").is_file()
    port = _free_port()
    args = [*serve.split()[1:], "--port", str(port)]
    env = {**os.environ, "TAILWISE_WARM_TEXT": "0"}
    proc = subprocess.Popen([sys.executable, "-m", "tailwise.cli.main", *args], cwd=tmp_path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        body = httpx.get(f"{url}/recommend", params={"user_id": "1", "k": 5}).json()
        assert body["known"] is True and body["model"] == "hybrid" and len(body["items"]) == 5
        assert "<title>tailwise</title>" in httpx.get(f"{url}/").text
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
