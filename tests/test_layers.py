"""The layer order of the package, read from the imports of every module.

Data flows one way through the stages, and each layer imports only the layers below it:

    errors, _compat, ranking, artifacts (helpers) < data < text < models, rerank (siblings:
    neither imports the other) < index < pipeline < eval (evaluator, experiment runner, report)
    < service, cli, testing, spark (the chain on Spark DataFrames)

``metrics`` is pure NumPy/SciPy and may be imported from anywhere. The package root
(``tailwise``: ``__version__`` and re-exports) counts as a helper. docs/architecture.md draws it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "tailwise"

#: the first part of a module path below ``tailwise`` -> its layer (higher imports lower)
LAYERS = {
    "": 0, "errors": 0, "_compat": 0, "ranking": 0, "artifacts": 0, "metrics": 0, "datasets": 1,
    "data": 1, "text": 2, "models": 3, "rerank": 3, "index": 4, "pipeline": 5, "eval": 6,
    "service": 7, "cli": 7, "testing": 7, "spark": 7,
}  # fmt: skip
#: pairs on one layer that must not import each other
SIBLINGS = {("models", "rerank"), ("rerank", "models"), ("service", "cli"), ("service", "spark"), ("spark", "cli"), ("spark", "service")}  # cli may start the service


def layer_of(module: str) -> tuple[str, int]:
    """(the key of LAYERS that `module` falls under, its layer); module is below ``tailwise``."""
    parts = module.split(".")
    for n in (2, 1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return key, LAYERS[key]
    return "", 0


def imports(path: Path) -> list[tuple[int, str]]:
    """(line, module below ``tailwise``) of every tailwise import in a file, function-level and
    TYPE_CHECKING imports included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and (node.module == "tailwise" or node.module.startswith("tailwise.")):
            base = node.module[len("tailwise.") :] if node.module != "tailwise" else ""
            if base == "":  # ``from tailwise import x``: x may be a subpackage
                out += [(node.lineno, alias.name) for alias in node.names if alias.name in {k.split(".")[0] for k in LAYERS if k}]
                out += [(node.lineno, "") for alias in node.names if alias.name not in {k.split(".")[0] for k in LAYERS if k}]
            else:
                out += [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
        elif isinstance(node, ast.Import):
            out += [(node.lineno, a.name[len("tailwise.") :]) for a in node.names if a.name.startswith("tailwise.")]
    return out


def modules() -> list[Path]:
    return sorted(p for p in SRC.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_module_has_a_layer():
    for path in modules():
        rel = path.relative_to(SRC).with_suffix("").as_posix().replace("/", ".")
        if rel == "__init__":
            continue
        key, _ = layer_of(rel)
        assert key, f"{rel} is in no layer: add it to LAYERS (and to docs/architecture.md)"


@pytest.mark.parametrize("path", modules(), ids=lambda p: p.relative_to(SRC).as_posix())
def test_no_module_imports_a_layer_above_its_own(path):
    rel = path.relative_to(SRC).with_suffix("").as_posix().replace("/", ".")
    if rel == "__init__":
        return
    own, level = layer_of(rel)
    own_pkg = own.split(".")[0]
    for line, target in imports(path):
        key, target_level = layer_of(target)
        target_pkg = key.split(".")[0]
        assert target_level <= level, f"{rel} (line {line}) imports {target}: layer {target_level} is above {level}"
        assert (own_pkg, target_pkg) not in SIBLINGS, f"{rel} (line {line}) imports {target}: siblings stay apart"


def test_the_checker_sees_a_violation(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f():\n    from tailwise.rerank import XQuAD\n")
    assert imports(bad) == [(2, "rerank.XQuAD")] and layer_of("rerank.XQuAD")[1] > layer_of("models.base")[1] - 1
    assert layer_of("metrics.ndcg") == ("metrics", 0) and layer_of("eval.runner") == ("eval", 6)
