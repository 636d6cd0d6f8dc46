"""Headless Chromium for the tests that look at pages as a person would (report, web page).

Uses Playwright's Python client with the system's Chromium (Debian's ``chromium`` package; no
browser download). Where no Chromium is installed the browser tests are skipped, unless
``TAILWISE_REQUIRE_BROWSER=1`` (set by ``.ci/run``), which turns the skip into a failure so CI
can never pass without rendering the pages.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager

#: flags that keep Chromium from reaching out to the network at start (closed networks refuse it)
CHROMIUM_ARGS = (
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
)  # fmt: skip


def chromium_path() -> str | None:
    """The system Chromium executable ($TAILWISE_CHROMIUM, or chromium on PATH), or None."""
    explicit = os.environ.get("TAILWISE_CHROMIUM")
    if explicit:
        return explicit
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


#: how a browser test's skip reason starts (the test run's summary counts these loudly)
SKIP_PREFIX = "browser test skipped: "
#: how to get the browser tests to run, printed with the count of skipped ones
INSTALL_HINT = (
    "install Chromium (Debian/Ubuntu: sudo apt-get install -y chromium; or set TAILWISE_CHROMIUM "
    "to a Chromium/Chrome executable); CI (.ci/run) installs it and sets TAILWISE_REQUIRE_BROWSER=1"
)


def report_skipped(terminalreporter) -> int:
    """Print a loud banner when browser tests were skipped (from ``pytest_terminal_summary``);
    returns how many were."""
    skipped = [
        r for r in terminalreporter.stats.get("skipped", [])
        if SKIP_PREFIX in str(getattr(r, "longrepr", ""))
    ]  # fmt: skip
    if skipped:
        terminalreporter.write_sep("!", f"{len(skipped)} BROWSER TESTS WERE SKIPPED", red=True, bold=True)
        terminalreporter.write_line(
            f"The HTML report and the web page were not checked in a browser: {INSTALL_HINT}.",
            red=True,
            bold=True,
        )
    return len(skipped)


def _unavailable(reason: str) -> None:
    import pytest

    if os.environ.get("TAILWISE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required here but {reason}")
    pytest.skip(SKIP_PREFIX + reason)


@contextmanager
def browser_page(width: int = 1280, height: int = 900) -> Iterator[object]:
    """A fresh Playwright page in headless Chromium; skips (or fails in CI) when unavailable.

    Examples
    --------
    In a test::

        with browser_page() as page:
            page.goto(url)
            assert page.locator("img").count() > 0
    """
    path = chromium_path()
    if path is None:
        _unavailable("no Chromium executable found (install Debian's chromium package)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install 'tailwise[test]')")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=path, args=list(CHROMIUM_ARGS))
        try:
            page = browser.new_page(viewport={"width": width, "height": height})
            yield page
        finally:
            browser.close()
