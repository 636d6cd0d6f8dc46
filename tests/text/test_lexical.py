"""BM25 and the fused text index: tokens, scores against a direct computation, growth, fusion."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tailwise.text import lexical
from tailwise.text.index import TextIndex
from tailwise.text.lexical import BM25, tokenize

FILMS = [
    "Ocean's Eleven (2001). Crime, Comedy. A heist comedy: eleven thieves rob three casinos",
    "Toy Story (1995). Animation, Children's. Toys come to life when their owner is away",
    "Alien (1979). Horror, Sci-Fi. A crew in deep space meets a deadly creature",
    "Heat (1995). Crime, Thriller. A detective hunts a crew of bank robbers",
    "Babe (1995). Children's, Comedy. A pig learns to herd sheep on a farm",
    "Apollo 13 (1995). Drama. Astronauts in space fight to get home after an explosion",
]


def reference_bm25(texts: list[str], query: str, k1: float = 1.5, b: float = 0.75) -> np.ndarray:
    """BM25 (Lucene's idf, no (k1 + 1) factor), written out term by term."""
    docs = [tokenize(t) for t in texts]
    avg = sum(map(len, docs)) / len(docs)
    out = np.zeros(len(docs))
    for term in dict.fromkeys(tokenize(query)):
        df = sum(term in d for d in docs)
        idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
        for i, d in enumerate(docs):
            tf = d.count(term)
            out[i] += idf * tf / (tf + k1 * (1 - b + b * len(d) / avg))
    return out


def test_tokens_are_lower_case_words_and_cjk_bigrams_without_jieba(monkeypatch):
    monkeypatch.setattr(lexical, "_jieba", lambda: None)
    assert tokenize("Heist COMEDY, 2001!") == ["heist", "comedy", "2001"]
    assert tokenize("太空冒险电影 for kids") == ["太空", "空冒", "冒险", "险电", "电影", "for", "kids"]
    assert tokenize("猫") == ["猫"]


@pytest.mark.parametrize("query", ["heist comedy", "crew in space", "a pig", "Crime crime comedy", "unknownword"])
def test_scores_equal_a_direct_computation(query):
    got, _ = BM25(FILMS).scores(query)
    np.testing.assert_allclose(got, reference_bm25(FILMS, query), rtol=1e-5, atol=1e-6)


def test_an_exact_rare_term_ranks_its_item_first():
    scores, cover = BM25(FILMS).scores("heist")
    assert int(np.argmax(scores)) == 0 and (scores[1:] == 0).all()
    assert cover[0] == pytest.approx(1.0)


def test_coverage_ignores_words_most_items_carry():
    texts = [f"film number {i} about nothing" for i in range(30)] + ["a film about a heist"]
    _, cover = BM25(texts).scores("a film about a heist")
    assert cover[-1] == pytest.approx(1.0 * cover[-1]) and cover[-1] > 0.5
    assert (cover[:-1] == 0).all()  # they match only "film" and "about", carried by every item


def test_added_and_changed_items_count_at_once_and_the_old_index_stays():
    old = BM25(FILMS)
    texts = [*FILMS, "Quantum Knitting (2031). Documentary. Knitting sweaters for physicists in Antarctica"]
    texts[3] = "Heat (1995). Romance. Two bakers fall in love"
    new = old.grown(texts, np.array([3]))
    assert new.n_items == 7 and int(np.argmax(new.scores("knitting antarctica")[0])) == 6
    assert new.scores("robbers")[0][3] == 0 and new.scores("bakers")[0][3] > 0
    np.testing.assert_allclose(new.scores("crew comedy")[0], reference_bm25(texts, "crew comedy"), rtol=1e-5, atol=1e-6)
    assert old.n_items == 6 and old.scores("robbers")[0][3] > 0  # the original is not written into
    again = new.grown([*texts[:6], "Quantum Knitting (2031). A cooking show"], np.array([6]))
    np.testing.assert_allclose(again.scores("knitting cooking")[0], reference_bm25([*texts[:6], "Quantum Knitting (2031). A cooking show"], "knitting cooking"), rtol=1e-5, atol=1e-6)


def test_matched_words_of_items():
    assert BM25(FILMS).matched("space crew heist", np.array([2, 0, 1])) == [["space", "crew"], ["heist"], []]


class FakeSide:
    """A text side whose embeddings are given by hand: item texts and queries map to vectors."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def _vec(self, text: str) -> np.ndarray:
        v = np.asarray(self.vectors.get(text, [0.0, 0.0, 1.0]), dtype=np.float32)
        return v / np.linalg.norm(v)

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([self._vec(t) for t in texts])

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        return self.embed(texts)


def test_fusion_finds_items_that_only_one_side_finds():
    # dense: the query is close to Alien only; lexical: only Heat holds "bank robbers"
    side = FakeSide({FILMS[2]: [1.0, 0.0, 0.0], "bank robbers": [1.0, 0.0, 0.0], **{f: [0.0, 1.0, 0.0] for f in FILMS if f != FILMS[2]}})
    match = TextIndex(side, FILMS).match("bank robbers")
    assert {2, 3} <= set(match.relevant.tolist())
    assert match.terms == ("bank", "robbers")


def test_a_query_without_evidence_matches_nothing():
    side = FakeSide({f: [0.0, 1.0, 0.0] for f in FILMS})  # every item orthogonal to the query
    match = TextIndex(side, FILMS).match("zzz qqq")
    assert match.n_relevant == 0 and len(match.relevant) == 0


def test_relevant_items_stay_within_the_whitelist():
    side = FakeSide({"crew": [1.0, 0.0, 0.0]})  # no item is close to the query by meaning
    match = TextIndex(side, FILMS).match("crew", allowed=np.array([2, 4]))
    assert set(match.items.tolist()) <= {2, 4} and match.relevant.tolist() == [2]


@pytest.mark.parametrize("query", ["heist comedy", "crew in space", "a pig", "足球", "unknownword"])
def test_the_saved_arrays_give_the_same_scores_after_growth(query):
    grown = BM25(FILMS).grown([*FILMS[:4], "Babe (1995). A pig plays football", *FILMS[5:], "足球少年。体育电影", "Space heist"], np.array([4]))
    back = BM25.from_state(grown.state())
    texts = [*FILMS[:4], "Babe (1995). A pig plays football", *FILMS[5:], "足球少年。体育电影", "Space heist"]
    for got, want in zip(back.scores(query), BM25(texts).scores(query)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert back.matched(query, np.arange(8)) == BM25(texts).matched(query, np.arange(8))


def test_saved_arrays_that_do_not_fit_are_refused(monkeypatch):
    state = BM25(FILMS).state()
    with pytest.raises(ValueError, match="postings point outside"):
        BM25.from_state({**state, "indices": state["indices"] + 100})
    with pytest.raises(ValueError, match="'vocab' is missing"):
        BM25.from_state({k: v for k, v in state.items() if k != "vocab"})
    monkeypatch.setattr(lexical, "_jieba", lambda: None)  # jieba removed since the save
    with pytest.raises(ValueError, match="tokenised with jieba"):
        BM25.from_state(state)
