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


@pytest.fixture(scope="session", autouse=True)
def data_cache(tmp_path_factory) -> str:
    """Data sets downloaded by name go to a temporary cache, never the user's own."""
    path = str(tmp_path_factory.mktemp("data-cache"))
    mp = pytest.MonkeyPatch()
    mp.setenv("TAILWISE_DATA", path)
    yield path
    mp.undo()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Say loudly, at the very end, how many browser tests did not run and how to run them."""
    from tailwise.testing.browser import report_skipped

    report_skipped(terminalreporter)
