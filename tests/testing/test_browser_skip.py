"""Where Chromium is missing, the browser tests skip, and the run's summary says so loudly."""

from __future__ import annotations

import os
import subprocess
import sys


def test_missing_chromium_is_reported_at_the_end(tmp_path):
    (tmp_path / "conftest.py").write_text(
        "from tailwise.testing.browser import report_skipped\n"
        "def pytest_terminal_summary(terminalreporter):\n"
        "    report_skipped(terminalreporter)\n"
    )
    (tmp_path / "test_page.py").write_text(
        "from tailwise.testing.browser import browser_page\n"
        "def test_page():\n"
        "    with browser_page():\n"
        "        pass\n"
        "def test_other():\n"
        "    pass\n"
    )
    bare = tmp_path / "bin"
    bare.mkdir()  # a PATH with no chromium on it
    env = {k: v for k, v in os.environ.items() if k not in ("TAILWISE_CHROMIUM", "TAILWISE_REQUIRE_BROWSER")}
    env["PATH"] = str(bare)
    src = os.path.join(os.path.dirname(__file__), "..", "..", "src")
    env["PYTHONPATH"] = os.pathsep.join([os.path.abspath(src), env.get("PYTHONPATH", "")])
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert out.returncode == 0, text
    assert "1 passed, 1 skipped" in text
    assert "1 BROWSER TESTS WERE SKIPPED" in text
    assert "apt-get install -y chromium" in text and "TAILWISE_REQUIRE_BROWSER=1" in text
    # CI turns the skip into a failure
    env["TAILWISE_REQUIRE_BROWSER"] = "1"
    failed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert failed.returncode == 1 and "browser tests are required here" in failed.stdout
