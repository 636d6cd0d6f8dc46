"""Fixtures of the service tests: small real model directories, in-process clients, and real
``tailwise serve`` processes on loopback ports."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("uvicorn")
httpx = pytest.importorskip("httpx")

from tailwise.data import Dataset, demo_path

N_USERS = 40
MIN_RATINGS = 3


def slice_dataset() -> Dataset:
    """The first 40 users of the bundled ml-latest-small, on the movies at least 3 of them rated
    (about 650 movies, so the real encoder embeds the catalogue in seconds)."""
    r = pd.read_csv(demo_path() / "ratings.csv")
    r = r[r.userId <= N_USERS]
    keep = r.movieId.value_counts()
    r = r[r.movieId.isin(keep[keep >= MIN_RATINGS].index)]
    m = pd.read_csv(demo_path() / "movies.csv")
    m = m[m.movieId.isin(r.movieId)]
    text = {str(i): f"{t}. {g.replace('|', ', ')}" for i, t, g in zip(m.movieId, m.title, m.genres)}
    return Dataset.from_ids(r.userId.astype(str), r.movieId.astype(str), item_text=text, name="ml-small-slice")


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    return slice_dataset()


@pytest.fixture(scope="session")
def ease_dir(tmp_path_factory, dataset) -> Path:
    """A fitted EASE model directory (no text side)."""
    from tailwise.models import EASE
    from tailwise.pipeline import Pipeline

    return Pipeline.fit(EASE(l2=50.0), dataset).save(tmp_path_factory.mktemp("models") / "ease")


@pytest.fixture(scope="session")
def hybrid_dir(tmp_path_factory, dataset, embedding_cache) -> Path:
    """A fitted hybrid (EASE + adapter over the packaged USE encoder) model directory."""
    from tailwise.models import Hybrid
    from tailwise.pipeline import Pipeline

    return Pipeline.fit(Hybrid(l2=50.0, factors=32), dataset).save(tmp_path_factory.mktemp("models") / "hybrid")


@pytest.fixture
def model_copy(tmp_path):
    """Copy a session model directory into this test's folder (for tests that change it)."""

    def copy(src: Path, name: str = "model") -> Path:
        return Path(shutil.copytree(src, tmp_path / name))

    return copy


@pytest.fixture
def make_client(tmp_path):
    """In-process clients of :func:`create_app` (lifespan run), closed after the test."""
    from fastapi.testclient import TestClient

    from tailwise.service.app import create_app
    from tailwise.service.settings import ServiceSettings

    opened = []

    def make(model_dir: Path, db: Path | None = None, **settings):
        settings.setdefault("warm_text", False)
        settings.setdefault("reload_interval", 0)
        app = create_app(model_dir, db or tmp_path / "feedback.sqlite", ServiceSettings(**settings))
        client = TestClient(app, base_url="http://localhost")
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real ``tailwise serve`` process on a loopback port, its stderr kept in a file."""

    def __init__(self, model_dir: Path, db: Path, log: Path, env: dict[str, str] | None = None, args: list[str] = (), verbose: int = 0) -> None:
        self.model_dir, self.db, self.log_path = model_dir, db, log
        self.env = {**os.environ, "TAILWISE_WARM_TEXT": "0", **(env or {})}
        self.args = list(args)
        self.verbose = ["-" + "v" * verbose] if verbose else []
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 60.0) -> Server:
        for _ in range(3):  # a port taken between free_port() and the bind: try another
            self.port = free_port()
            self.url = f"http://127.0.0.1:{self.port}"
            cmd = [sys.executable, "-m", "tailwise.cli.main", *self.verbose, "serve", "--model-dir", str(self.model_dir),
                   "--db", str(self.db), "--port", str(self.port), *self.args]  # fmt: skip
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=self.env)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if httpx.get(f"{self.url}/healthz", timeout=1.0).status_code == 200:
                        return self
                except httpx.HTTPError:
                    time.sleep(0.1)
            if self.proc.poll() is None:
                self.kill()
                raise TimeoutError(f"server did not answer /healthz within {timeout}s:\n{self.log()}")
        raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> int:
        """SIGTERM, as a process manager stops it: uvicorn shuts down cleanly."""
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs at all."""
        self.proc.kill()
        self.proc.wait(timeout=30)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


@pytest.fixture
def server(tmp_path):
    """Start real servers: ``server(model_dir, env=..., args=...)``; all are stopped afterwards."""
    started: list[Server] = []

    def start(model_dir: Path, db: Path | None = None, env: dict[str, str] | None = None, args: list[str] = (), verbose: int = 0) -> Server:
        s = Server(model_dir, db or tmp_path / "feedback.sqlite", tmp_path / f"server-{len(started)}.log", env, args, verbose)
        started.append(s)
        return s.start()

    yield start
    for s in started:
        if s.alive():
            s.kill()


@pytest.fixture(scope="session")
def server_class() -> type[Server]:
    """The :class:`Server` helper, for module-scoped servers (conftest is not importable under
    ``--import-mode=importlib``)."""
    return Server
