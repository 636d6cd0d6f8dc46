"""The query-side map of text queries (tailwise.text.querymap): pseudo-queries, the per-dimension
fit against a reference, and a catalogue whose encoder shifts short texts, where the map is what
finds the item a short query came from."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from tailwise.text import querymap as qm

DIM = 32


def _word(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "little")
    return np.random.default_rng(seed).standard_normal(DIM)


def shifted_encoder(texts: list[str]) -> np.ndarray:
    """A bag-of-words encoder with a systematic bias of short texts: the fewer the words, the
    further along dimension 0 (as a real encoder places short texts apart from long ones)."""
    out = []
    for t in texts:
        words = t.split()
        v = np.mean([_word(w) for w in words], axis=0)
        v = v / np.linalg.norm(v)
        v[0] += 3.0 / len(words)
        out.append(v / np.linalg.norm(v))
    return np.asarray(out, np.float32)


def catalogue(n: int = 600, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    vocab = [f"w{j}" for j in range(3000)]
    return [". ".join(" ".join(rng.choice(vocab, 6)) for _ in range(3)) + "." for _ in range(n)]


def test_pseudo_queries_are_sentences_and_windows_of_their_own_item_seeded_and_capped():
    texts = catalogue(50)
    q, owner = qm.pseudo_queries(texts, seed=3)
    assert len(q) == len(owner) > 0
    for text, i in zip(q, owner.tolist()):
        assert text.rstrip(".") in texts[i]  # every pseudo-query is cut from its own item
        assert qm.MIN_WINDOW <= len(text.split()) <= max(qm.MAX_WINDOW, 6)
    again = qm.pseudo_queries(texts, seed=3)
    assert again[0] == q and np.array_equal(again[1], owner)
    assert qm.pseudo_queries(texts, seed=4)[0] != q
    capped, owner = qm.pseudo_queries(texts, seed=3, max_pairs=10)
    assert len(capped) == len(owner) == 10


def test_the_diagonal_fit_is_per_dimension_least_squares():
    rng = np.random.default_rng(0)
    queries, targets = rng.standard_normal((200, 5)), rng.standard_normal((200, 5))
    got = qm.diagonal_fit(queries, targets)
    want = [np.linalg.lstsq(queries[:, [d]], targets[:, d], rcond=None)[0][0] for d in range(5)]
    np.testing.assert_allclose(got, want, rtol=1e-5)


def test_a_catalogue_too_small_gets_no_map():
    texts = catalogue(20)
    assert qm.fit_query_map(shifted_encoder, texts, shifted_encoder(texts)) is None
    assert qm.map_queries(None, shifted_encoder(["w1 w2"])).tolist() == shifted_encoder(["w1 w2"]).tolist()


def test_the_map_undoes_the_short_text_shift_and_finds_the_items_short_queries_come_from():
    texts = catalogue()
    emb = shifted_encoder(texts)
    weights = qm.fit_query_map(shifted_encoder, texts, emb, seed=0)
    assert weights is not None and weights.shape == (DIM,)
    assert weights[0] < 0.6 * np.median(weights[1:])  # the biased dimension is damped
    # held-out queries: three words of an item's second sentence (not the fit's seed)
    rng = np.random.default_rng(7)
    items = rng.choice(len(texts), 200, replace=False)
    queries = [" ".join(texts[i].split(". ")[1].split()[:3]) for i in items]
    raw = shifted_encoder(queries)
    mapped = qm.map_queries(weights, raw)
    np.testing.assert_allclose(np.linalg.norm(mapped, axis=1), 1.0, rtol=1e-5)

    def hits(q: np.ndarray) -> float:
        return float(np.mean(np.argmax(q @ emb.T, axis=1) == items))

    assert hits(mapped) > 1.5 * hits(raw) > 0, (hits(mapped), hits(raw))


@pytest.mark.parametrize("encoder, dim, found", [("use", 32, True), ("other", 32, False), ("use", 16, False)])
def test_a_saved_map_serves_only_its_encoder(tmp_path, encoder, dim, found):
    from tailwise import artifacts
    from tailwise.pipeline.directory import QUERY_MAP, query_map_state, read_query_map

    weights = np.linspace(0.5, 1.5, 32).astype(np.float32)
    artifacts.write_dir(tmp_path / "m", {}, {QUERY_MAP.removesuffix(".npz"): query_map_state(weights, "use")}, {})
    got_found, got = read_query_map(tmp_path / "m", encoder, dim)
    assert got_found is found
    if found:
        np.testing.assert_array_equal(got, weights)
    artifacts.write_dir(tmp_path / "none", {}, {QUERY_MAP.removesuffix(".npz"): query_map_state(None, "use")}, {})
    assert read_query_map(tmp_path / "none", "use", 32) == (True, None)
    assert read_query_map(tmp_path / "missing", "use", 32) == (False, None)
