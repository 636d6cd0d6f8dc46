"""Fixtures of the data-layer tests: the shared real datasets and a tiny file writer."""

from __future__ import annotations

from pathlib import Path

import pytest

#: the project's shared data folder, a sibling of the repository root
SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _shared(name: str) -> Path:
    path = SHARED_DATA / name
    if not path.is_dir():
        pytest.skip(f"shared dataset {name!r} is not available (expected at ../shared/data/{name})")
    return path


@pytest.fixture(scope="session")
def ml1m_dir() -> Path:
    """The ml-1m folder of the shared data (skips when absent)."""
    return _shared("ml-1m")


@pytest.fixture(scope="session")
def amazon_dir() -> Path:
    """The amazon-scientific folder of the shared data (skips when absent)."""
    return _shared("amazon-scientific")


@pytest.fixture
def write(tmp_path: Path):
    """Write `content` (str as UTF-8, or bytes) to tmp_path / name and return the path."""

    def _write(name: str, content: str | bytes) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", newline="")
        return path

    return _write
