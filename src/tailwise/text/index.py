"""Item texts indexed once for free-text queries: dense (the encoder) and lexical (BM25), fused.

:meth:`TextIndex.match` is the one text retrieval every query goes through (search, interests,
the query side of recommendations). Two rankings of the catalogue:

- **dense**: cosine of each item's text embedding with the query's embedding (the model's text
  side: the same encoder and cache), the query's embedding passed through the catalogue's
  query map when it has one (:mod:`tailwise.text.querymap`), its best :data:`DEPTH` items;
- **lexical**: BM25 (:class:`~tailwise.text.lexical.BM25`) over the items that match the query
  lexically (below), its best :data:`DEPTH`;

fused by weighted reciprocal-rank fusion, ``sum over the two lists of weight / (RRF_K + rank)``
(rank from 1; an item absent from a list gets nothing from it), the lexical list weighing
:data:`LEXICAL_WEIGHT` against the dense list's 1. The constants were chosen on the tag queries of
``bench/text_queries.py`` (docs/benchmarks.md, "Text queries: BM25 + dense").

**Relevance.** An item is *relevant* to the query when the text gives evidence for it:

- lexical: the query words it contains, leaving out common words (carried by more than 10% of
  the items), carry at least :data:`MIN_COVERAGE` of the query's idf weight;
- or dense: it is among the :data:`DENSE_RELEVANT` items closest to the query and its cosine is
  at least :data:`MIN_COSINE` (unrelated text, e.g. "quarterly tax filing spreadsheet" against
  films, stays below 0.2 with the default encoder, with or without the query map; the
  paraphrases of ``bench/new_items.json`` reach 0.29-0.52 at their best item, 0.30-0.52
  through ml-1m's query map).

Items with both kinds of evidence (*strong* matches) come first, then those with one, each tier
in fused order; the relevant items are the first :data:`MAX_RELEVANT` of them. A query with none
(no uncommon word of it occurs, and no item is close to it by meaning) matches nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from tailwise.text.lexical import BM25
from tailwise.text.querymap import map_queries
from tailwise.text.side import TextSide

#: how deep each ranking goes into the fusion
DEPTH = 200
#: the reciprocal-rank fusion constant
RRF_K = 60
#: the lexical ranking's weight in the fusion (the dense ranking's is 1)
LEXICAL_WEIGHT = 0.5
#: the share of the query's idf weight an item's words must carry to count as a lexical match
MIN_COVERAGE = 0.5
#: the least cosine of a dense match (below it an item is not relevant by meaning)
MIN_COSINE = 0.22
#: dense matches are among this many items closest to the query
DENSE_RELEVANT = 20
#: the most relevant items a query has (the fused ranking's head)
MAX_RELEVANT = 50
#: the most recent distinct query texts whose embeddings a text index keeps (:class:`RecentQueries`)
RECENT_QUERIES = 1024


@dataclass(frozen=True)
class TextMatch:
    """The fused text ranking of one query.

    `items` are the items either side ranks (within the whitelist), best first by the fused
    score `scores` within each tier; the first `n_relevant` of them are the relevant ones, and the
    first `n_strong` of those have both kinds of evidence (module docstring).
    `terms` are the query's tokens.
    """

    query: str
    items: np.ndarray  # int64
    scores: np.ndarray  # float32, fused (reciprocal-rank) score
    n_relevant: int
    terms: tuple[str, ...]
    n_strong: int = 0

    @property
    def strong(self) -> np.ndarray:
        """The relevant items with both lexical and dense evidence (they come first), best first."""
        return self.items[: self.n_strong]

    @property
    def relevant(self) -> np.ndarray:
        """The relevant items, best first."""
        return self.items[: self.n_relevant]


def _top(scores: np.ndarray, n: int) -> np.ndarray:
    """Indices of the `n` highest finite scores, best first (ties by index)."""
    ok = np.flatnonzero(np.isfinite(scores))
    if len(ok) > n:
        ok = ok[np.argpartition(-scores[ok], n - 1)[:n]]
    return ok[np.lexsort((ok, -scores[ok]))]


def fuse(rankings: list[np.ndarray], n_items: int, rrf_k: int, weights: list[float] | None = None) -> np.ndarray:
    """Weighted reciprocal-rank fusion of rankings (item indices, best first): each item's
    ``sum weight / (rrf_k + rank)`` (float32, 0 for an item in no ranking).

    >>> [round(float(x), 3) for x in fuse([np.array([2, 0]), np.array([0, 1])], 3, rrf_k=1)]
    [0.833, 0.333, 0.5]
    >>> [round(float(x), 3) for x in fuse([np.array([2, 0]), np.array([0, 1])], 3, rrf_k=1, weights=[1.0, 0.5])]
    [0.583, 0.167, 0.5]
    """
    out = np.zeros(n_items, np.float32)
    for ranked, w in zip(rankings, weights or [1.0] * len(rankings)):
        out[ranked] += w / (rrf_k + np.arange(1, len(ranked) + 1, dtype=np.float32))
    return out


class DenseSearch(Protocol):
    """What the dense side of a large catalogue searches through instead of scoring every item:
    a vector index over the item embeddings (:class:`tailwise.index.VectorIndex`, e.g. the
    HNSW graph of :class:`tailwise.index.ANNIndex`)."""

    @property
    def n_items(self) -> int: ...

    def sync(self, item_vectors: np.ndarray) -> None: ...

    def search(self, queries: np.ndarray, k: int, exclude=None, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]: ...


class RecentQueries:
    """The encoder's embeddings of the most recent distinct query texts, at most `size` of them
    (least recently used out first; thread-safe): a query repeated among them (a page's search
    typed again, a popular interest) is not encoded again. The embeddings are the encoder's, before
    any query map."""

    def __init__(self, size: int = RECENT_QUERIES) -> None:
        self.size = size
        self._kept: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._kept)

    def clear(self) -> None:
        """Forget every kept embedding."""
        with self._lock:
            self._kept.clear()

    def get(self, query: str, encode: Callable[[list[str]], np.ndarray]) -> np.ndarray:
        """The embedding of `query` (read-only): kept, else ``encode([query])[0]``, then kept."""
        with self._lock:
            if query in self._kept:
                self._kept.move_to_end(query)
                return self._kept[query]
        vector = np.array(encode([query])[0], dtype=np.float32)
        vector.flags.writeable = False
        with self._lock:
            self._kept[query] = vector
            self._kept.move_to_end(query)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return vector


class TextIndex:
    """The catalogue's text embeddings and BM25 index, grown (not rebuilt) when items are added
    or changed.

    Parameters
    ----------
    side : TextSide
        Encoder, token budget and cache (a model's :meth:`text_side`).
    texts : list of str
        Item texts, item ``i`` at position ``i``.
    emb, lexical : optional
        The embeddings and BM25 index of `texts` when they are at hand (else made here).
    dense : DenseSearch, optional
        A vector index over `emb` that gives the dense side's best :data:`DEPTH` items (large
        catalogues: a query then costs a graph search, not a product with every item's
        embedding); it follows the embeddings as items are added (``sync``). None: every item
        is scored.
    query_map : array, optional
        Weights of the query-side map (:func:`tailwise.text.querymap.fit_query_map`) the query
        embeddings pass through; None: queries are used as encoded.
    recent : RecentQueries, optional
        The embeddings of recent queries (a grown index shares its parent's: same encoder).
    """

    def __init__(
        self, side: TextSide, texts: list[str], emb: np.ndarray | None = None, lexical: BM25 | None = None,
        dense: DenseSearch | None = None, query_map: np.ndarray | None = None, recent: RecentQueries | None = None,
    ) -> None:  # fmt: skip
        self.side = side
        self.emb = side.embed(list(texts)) if emb is None else emb
        self.lexical = BM25(texts) if lexical is None else lexical
        self.dense = dense
        self.query_map = query_map
        self.recent = RecentQueries() if recent is None else recent

    def grown(self, texts: list[str], changed: np.ndarray) -> TextIndex:
        """The index of a grown catalogue `texts`: only `changed` and new items are embedded
        and tokenised."""
        n_old = len(self.emb)
        redo = np.union1d(np.asarray(changed, dtype=np.int64), np.arange(n_old, len(texts)))
        emb = np.zeros((len(texts), self.emb.shape[1]), dtype=np.float32)
        emb[:n_old] = self.emb[: len(texts)]
        if len(redo):
            emb[redo] = self.side.embed([texts[i] for i in redo])
        return TextIndex(self.side, texts, emb, self.lexical.grown(texts, changed), self.dense, self.query_map, self.recent)

    def encode_query(self, query: str) -> np.ndarray:
        """The query's embedding as the dense side uses it: encoded (or kept from a recent
        query, :class:`RecentQueries`), through the query map."""
        return map_queries(self.query_map, self.recent.get(query, self.side.encode_queries)[None, :])[0].copy()

    def scores(self, query: str) -> np.ndarray:
        """Cosine (float32) of every item's text with the query text (the dense side alone)."""
        return (self.emb @ self.encode_query(query)).astype(np.float32)

    def match(self, query: str, allowed: np.ndarray | None = None) -> TextMatch:
        """The fused ranking of `query` over the catalogue (or the `allowed` items) and its
        relevant head (see the module docstring). Besides the dense side (every item's cosine,
        or a vector index search), it costs the query words' postings and the two lists, not
        the catalogue's size."""
        n = len(self.emb)
        mask = None
        if allowed is not None:
            allowed = np.asarray(allowed, dtype=np.int64)
            mask = np.zeros(n, dtype=bool)
            mask[allowed[(allowed >= 0) & (allowed < n)]] = True
        by_dense, cosine = self._dense(query, mask)
        hit, bm25, cover = self.lexical.matches(query)
        ok = cover >= MIN_COVERAGE
        if mask is not None:
            ok &= mask[hit]
        words, word_scores = hit[ok], bm25[ok]
        by_words = words[np.lexsort((words, -word_scores))][:DEPTH]
        items = np.union1d(by_dense, by_words)
        fused = np.zeros(len(items), np.float32)
        for ranked, weight in ((by_dense, 1.0), (by_words, LEXICAL_WEIGHT)):
            fused[np.searchsorted(items, ranked)] += weight / (RRF_K + np.arange(1, len(ranked) + 1, dtype=np.float32))
        at = np.minimum(np.searchsorted(hit, items), max(len(hit) - 1, 0))
        by_words_ok = (hit[at] == items) & (cover[at] >= MIN_COVERAGE) if len(hit) else np.zeros(len(items), bool)
        near = by_dense[:DENSE_RELEVANT][cosine[:DENSE_RELEVANT] >= MIN_COSINE]
        tier = by_words_ok.astype(np.int8) + np.isin(items, near).astype(np.int8)
        order = np.lexsort((items, -fused))
        order = order[np.argsort(-tier[order], kind="stable")]  # fused order within a tier
        items, fused, tier = items[order], fused[order], tier[order]
        n_rel = int(min((tier > 0).sum(), MAX_RELEVANT))
        n_strong = int(min((tier == 2).sum(), n_rel))
        return TextMatch(query, items, fused, n_rel, tuple(self.lexical.query_terms(query)), n_strong)

    def _dense(self, query: str, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
        """The dense side's best :data:`DEPTH` allowed items (`mask`; None: all) and their
        cosines with the query, best first: by every item's cosine, or through the vector index."""
        q = self.encode_query(query)
        n = len(self.emb)
        if self.dense is None:
            cos = (self.emb @ q).astype(np.float32)
            if mask is not None:
                cos[~mask] = -np.inf
            best = _top(cos, DEPTH)
            return best, cos[best]
        if self.dense.n_items <= n:  # a copy grown from this index may have added items already
            self.dense.sync(self.emb)
        allowed = None
        if mask is not None:
            allowed = np.zeros(self.dense.n_items, dtype=bool)
            allowed[: min(n, self.dense.n_items)] = mask[: self.dense.n_items]
        items, scores = self.dense.search(q[None, :], min(DEPTH, n), allowed=allowed)
        keep = (items[0] >= 0) & (items[0] < n)
        return items[0][keep], scores[0][keep].astype(np.float32)

    def matched_terms(self, query: str, items: np.ndarray) -> list[list[str]]:
        """The query words (BM25 tokens) each of `items` contains."""
        return self.lexical.matched(query, np.asarray(items, dtype=np.int64))
