"""Optional dependencies stay optional: nothing heavy at import, clear errors when missing."""

import subprocess
import sys

import pytest

from tailwise._compat import require
from tailwise.errors import MissingExtraError

# pyarrow is left out: pandas 3 imports it by itself when it is installed
HEAVY = ("torch", "sentence_transformers", "implicit", "fastapi", "uvicorn", "pyspark")


def test_importing_tailwise_loads_no_heavy_dependency():
    code = (
        "import sys, tailwise, tailwise.models, tailwise.cli.main, tailwise.pipeline, tailwise.eval.evaluator, tailwise.spark\n"
        f"print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def _hide_implicit(monkeypatch):
    for name in ("implicit", "implicit.cpu", "implicit.cpu.als"):
        monkeypatch.setitem(sys.modules, name, None)  # makes `import implicit...` fail


def test_missing_extra_names_the_extra(monkeypatch):
    _hide_implicit(monkeypatch)
    with pytest.raises(MissingExtraError, match=r'pip install "tailwise\[implicit\]"'):
        require("implicit.cpu.als", "The als model")


def test_als_fit_without_implicit_fails_clearly(monkeypatch):
    from tailwise.models import ALS
    from tailwise.testing.contract import random_dataset

    _hide_implicit(monkeypatch)
    with pytest.raises(MissingExtraError, match="als model needs the optional package"):
        ALS().fit(random_dataset())
