"""A ``tailwise retrain`` killed with SIGKILL in the middle of writing the model directory: the
next run removes what it left (and puts the directory back if the kill took it away)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from tailwise.cli.main import main
from tailwise.pipeline import Pipeline
from tailwise.service.store import Event, FeedbackStore

pytestmark = pytest.mark.slow

#: runs ``tailwise retrain`` with one step made slow; touches FLAG when it got there
STALLED_RETRAIN = """
import os, sys, time
import numpy as np
flag, where, model, db = sys.argv[1:5]
def stall():
    open(flag, "w").close()
    time.sleep(120)
if where == "fill":  # after the first array file of the new directory
    real_savez = np.savez
    def savez(*args, **kwargs):
        real_savez(*args, **kwargs)
        stall()
    np.savez = savez
else:  # between moving the old directory aside and moving the new one in
    real_replace = os.replace
    def replace(src, dst):
        real_replace(src, dst)
        if ".old-" in os.fspath(dst):
            stall()
    os.replace = replace
from tailwise.cli.main import main
sys.exit(main(["retrain", "--model-dir", model, "--db", db]))
"""


def killed_retrain(where: str, model: Path, db: Path, tmp_path: Path) -> None:
    """Start the stalled retrain, wait until it stalls, SIGKILL it, reap it."""
    flag = tmp_path / f"stalled-{where}"
    proc = subprocess.Popen([sys.executable, "-c", STALLED_RETRAIN, str(flag), where, str(model), str(db)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert flag.exists(), proc.communicate(timeout=30)[0].decode(errors="replace")
    finally:
        proc.kill()  # SIGKILL: no clean-up code runs
        proc.wait(timeout=30)


@pytest.mark.parametrize("where", ["fill", "swap"])
def test_the_next_retrain_cleans_up_after_a_killed_one(where, model_copy, ease_dir, tmp_path):
    model, db = model_copy(ease_dir), tmp_path / "fb.sqlite"
    with FeedbackStore(db) as store:
        store.add_events([Event("dora", "1", "view", 1.0, 0.0)])
    killed_retrain(where, model, db, tmp_path)
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".model."))
    assert any(name.startswith(".model.tmp-") for name in left)
    if where == "swap":  # the kill came between the two renames: no model directory at all
        assert not model.exists() and any(name.startswith(".model.old-") for name in left)
    assert main(["retrain", "--model-dir", str(model), "--db", str(db)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
    assert "dora" in Pipeline.load(model).users
