"""Session-wide test settings."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def embedding_cache(tmp_path_factory) -> str:
    """One embedding cache for the whole run, never the user's own (~/.cache/tailwise)."""
    path = str(tmp_path_factory.mktemp("embedding-cache"))
    mp = pytest.MonkeyPatch()
    mp.setenv("TAILWISE_CACHE", path)
    yield path
    mp.undo()
