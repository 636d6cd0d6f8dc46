"""A text index encodes a query text once while it stays among the recent ones, and only then."""

from __future__ import annotations

import threading

import numpy as np

from tailwise.text.index import RecentQueries, TextIndex
from tailwise.text.lexical import BM25


class CountingSide:
    """The part of a TextSide a text index uses for queries, counting the texts it encodes."""

    encoder = "fake"

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        self.encoded += texts
        rng = np.random.default_rng(len(texts[0]))
        return np.asarray([rng.standard_normal(4)], np.float32)

    def embed(self, texts: list[str]) -> np.ndarray:
        return np.full((len(texts), 4), 0.5, np.float32)


def index(side: CountingSide, query_map=None) -> TextIndex:
    texts = ["a heist comedy", "a space adventure", "a quiet drama"]
    emb = np.eye(3, 4, dtype=np.float32)
    return TextIndex(side, texts, emb, BM25(texts), query_map=query_map)  # type: ignore[arg-type]


def test_a_repeated_query_is_encoded_once_and_scored_alike():
    side = CountingSide()
    ti = index(side)
    first = ti.scores("heist")
    ti.match("heist")
    assert side.encoded == ["heist"]
    np.testing.assert_array_equal(ti.scores("heist"), first)
    ti.match("drama")
    assert side.encoded == ["heist", "drama"]
    grown = ti.grown(["a heist comedy", "a space adventure", "a quiet drama", "a new western"], np.empty(0, np.int64))
    grown.scores("heist")  # a grown index shares the recent queries (same encoder)
    assert side.encoded == ["heist", "drama"]


def test_the_query_map_applies_to_kept_embeddings_too():
    side = CountingSide()
    ti = index(side, query_map=np.array([1.0, 0.0, 0.0, 0.0], np.float32))
    ti.encode_query("heist")
    got = ti.encode_query("heist")
    assert side.encoded == ["heist"]
    np.testing.assert_allclose(np.abs(got), [1.0, 0.0, 0.0, 0.0])
    got[0] = 5.0  # callers get their own copy: the kept embedding does not change
    assert abs(ti.encode_query("heist")[0]) == 1.0


def test_the_least_recently_used_query_goes_first_and_the_size_is_kept():
    recent = RecentQueries(size=2)
    calls: list[str] = []

    def encode(texts):
        calls.extend(texts)
        return np.ones((1, 3), np.float32)

    for q in ["a", "b", "a", "c", "a", "b"]:
        recent.get(q, encode)
    assert calls == ["a", "b", "c", "b"] and len(recent) == 2  # "b" was out when it came back


def test_threads_share_the_recent_queries():
    recent = RecentQueries(size=8)
    out = []

    def work():
        for q in ["x", "y", "z"] * 20:
            out.append(recent.get(q, lambda texts: np.full((1, 2), float(ord(texts[0])), np.float32))[0])

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(set(out)) == [ord("x"), ord("y"), ord("z")] and len(recent) == 3
