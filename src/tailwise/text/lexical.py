"""Lexical retrieval: BM25 over item texts, growable as items are added.

:func:`tokenize` turns a text into lower-cased word tokens, language-neutrally: words are runs of
Unicode letters and digits; Chinese and Japanese text (which has no spaces) is cut with ``jieba``
when it is installed (the ``zh`` extra) and into overlapping character bigrams otherwise. No stopword list: BM25's
inverse document frequency gives a word carried by most items almost no weight.

:class:`BM25` scores every item for a query with Lucene's BM25 (the variant ``bm25s`` uses by
default):

.. math::

    \\mathrm{score}(q, d) = \\sum_{t \\in q} \\mathrm{idf}(t)\\,
        \\frac{\\mathrm{tf}(t, d)}{\\mathrm{tf}(t, d) + k_1 (1 - b + b\\,|d| / \\mathrm{avgdl})},
    \\qquad \\mathrm{idf}(t) = \\ln\\Big(1 + \\frac{N - \\mathrm{df}(t) + 0.5}{\\mathrm{df}(t) + 0.5}\\Big)

The counts of the fitted catalogue are kept column-wise (one posting list per word), so a query
touches only its own words' postings. Items added later (and items whose text changed) go into a
small second matrix; document frequencies, lengths and the average length follow at once, so an
added item is found by the next query, without rebuilding anything.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
import scipy.sparse as sp

#: runs of letters and digits (``\\w`` without the underscore)
_WORD = re.compile(r"[^\W_]+")
#: Han ideographs, kana and CJK compatibility ideographs: scripts written without spaces
_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002a6df]+")


#: a word carried by at most this many items is never common (:class:`BM25`'s `common`)
MIN_COMMON = 5


def tokenizer_name() -> str:
    """How :func:`tokenize` cuts Chinese and Japanese here: ``"jieba"`` or ``"bigrams"``."""
    return "jieba" if _jieba() is not None else "bigrams"


@lru_cache(maxsize=1)
def _jieba():
    """The ``jieba`` module when installed (optional: it only sharpens Chinese tokens), else None."""
    try:
        import jieba  # type: ignore[import-not-found]
    except ImportError:
        return None
    jieba.setLogLevel(60)
    return jieba


def _cjk_tokens(run: str) -> list[str]:
    jieba = _jieba()
    if jieba is not None:
        return [t for t in jieba.lcut(run) if t.strip()]
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens of `text` (see the module docstring).

    Examples
    --------
    >>> tokenize("Heist comedy: Ocean's Eleven (2001)")
    ['heist', 'comedy', 'ocean', 's', 'eleven', '2001']
    >>> tokenize("Amélie, Straße")
    ['amélie', 'strasse']
    >>> tokenize("足球 space")  # a two-character word: the same with jieba and with bigrams
    ['足球', 'space']
    """
    out: list[str] = []
    for word in _WORD.findall(text.casefold()):
        if not _CJK.search(word):
            out.append(word)
            continue
        at = 0
        for m in _CJK.finditer(word):
            if m.start() > at:
                out.append(word[at : m.start()])
            out.extend(_cjk_tokens(m.group()))
            at = m.end()
        if at < len(word):
            out.append(word[at:])
    return out


def texts_digest(texts: Sequence[str]) -> str:
    """A hex digest of the item texts in order: a saved index is used only for the texts it
    was built from."""
    h = hashlib.blake2b(digest_size=16)
    for t in texts:
        h.update(t.encode("utf-8", "surrogatepass"))
        h.update(b"\x00")
    return h.hexdigest()


class BM25:
    """BM25 scores of item texts for a query (see the module docstring).

    Parameters
    ----------
    texts : sequence of str
        Item texts, item ``i`` at position ``i``.
    k1, b : float
        BM25's term-frequency saturation and length normalisation.
    common : float
        A word carried by more than this share of the items (and by more than
        :data:`MIN_COMMON` items, so that small catalogues have rare words) is *common*: it
        counts for the score but not for :meth:`scores`' coverage.
    """

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75, common: float = 0.1) -> None:
        self.k1, self.b, self.common = float(k1), float(b), float(common)
        self.tokenizer = tokenizer_name()
        self.vocab: dict[str, int] = {}
        counts = self._counts(texts, self.vocab)
        self._base = counts.tocsc()  # [n_fitted, V0] postings, column-wise
        self._extra = sp.csr_matrix((0, len(self.vocab)), dtype=np.float32)  # added or changed texts
        self._extra_items = np.empty(0, np.int64)  # item of each row of _extra
        self._dead = np.zeros(len(texts), dtype=bool)  # base rows replaced by a row of _extra
        self.doc_len = np.asarray(counts.sum(axis=1), dtype=np.float32).ravel()
        self.df = np.diff(self._base.indptr).astype(np.int64)

    @staticmethod
    def _counts(texts: Iterable[str], vocab: dict[str, int]) -> sp.csr_matrix:
        """Term counts [len(texts), len(vocab)] (float32); new words are added to `vocab`."""
        indptr, indices, data = [0], [], []
        for text in texts:
            words, n = np.unique(tokenize(text), return_counts=True)
            indices.extend(vocab.setdefault(w, len(vocab)) for w in words.tolist())
            data.extend(n.tolist())
            indptr.append(len(indices))
        return sp.csr_matrix(
            (np.asarray(data, np.float32), np.asarray(indices, np.int64), np.asarray(indptr, np.int64)),
            shape=(len(indptr) - 1, len(vocab)),
        )

    def state(self) -> dict[str, np.ndarray]:
        """The index as plain arrays (no pickle) for :meth:`from_state`: every item's current
        counts in one column-wise matrix (added and changed items folded in), the vocabulary
        as newline-separated UTF-8 (tokens never hold a newline), the settings and the
        tokenizer the counts were made with."""
        n, v = self.n_items, len(self.vocab)
        base = self._base.tocsr()
        base = sp.csr_matrix((base.data, base.indices, base.indptr), shape=(base.shape[0], v))
        base = (sp.diags((~self._dead[: base.shape[0]]).astype(np.float32)) @ base).tocsr()
        base.resize((n, v))
        extra = sp.csr_matrix((self._extra.data, self._extra.indices, self._extra.indptr), shape=(len(self._extra_items), v))
        put = sp.csr_matrix((np.ones(len(self._extra_items), np.float32), (self._extra_items, np.arange(len(self._extra_items)))), shape=(n, len(self._extra_items)))
        full = (base + put @ extra).tocsc()
        full.eliminate_zeros()
        words = "\n".join(sorted(self.vocab, key=self.vocab.__getitem__)).encode("utf-8")
        return {
            "indptr": full.indptr.astype(np.int64), "indices": full.indices.astype(np.int32), "data": full.data.astype(np.float32),
            "shape": np.asarray(full.shape, np.int64), "doc_len": self.doc_len, "vocab": np.frombuffer(words, np.uint8),
            "settings": np.asarray([self.k1, self.b, self.common]), "tokenizer": np.asarray(self.tokenizer),
        }  # fmt: skip

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> BM25:
        """The index :meth:`state` wrote.

        Raises
        ------
        ValueError
            When the arrays are inconsistent (saying which), or were tokenised another way than
            :func:`tokenize` cuts text here (jieba installed or removed since): the caller
            rebuilds from the texts."""
        missing = [k for k in ("indptr", "indices", "data", "shape", "doc_len", "vocab", "settings", "tokenizer") if k not in state]
        if missing:
            raise ValueError(f"the array {missing[0]!r} is missing")
        if str(state["tokenizer"]) != tokenizer_name():
            raise ValueError(f"tokenised with {state['tokenizer']}, but {tokenizer_name()} cuts text here")
        n, v = (int(x) for x in state["shape"])
        words = bytes(state["vocab"].astype(np.uint8)).decode("utf-8").split("\n") if v else []
        indptr, indices = state["indptr"], state["indices"]
        if len(words) != v or len(indptr) != v + 1 or len(state["doc_len"]) != n or indptr[-1] != len(indices) or len(indices) != len(state["data"]):
            raise ValueError(f"the arrays do not fit together ({n} items, {v} words, {len(words)} in the vocabulary)")
        if len(indices) and (indices.min() < 0 or indices.max() >= n or (np.diff(indptr) < 0).any()):
            raise ValueError("the postings point outside the catalogue")
        out = object.__new__(cls)
        out.k1, out.b, out.common = (float(x) for x in state["settings"])
        out.tokenizer = tokenizer_name()
        out.vocab = {w: j for j, w in enumerate(words)}
        out._base = sp.csc_matrix((state["data"], indices, indptr), shape=(n, v))
        out._extra = sp.csr_matrix((0, v), dtype=np.float32)
        out._extra_items = np.empty(0, np.int64)
        out._dead = np.zeros(n, dtype=bool)
        out.doc_len = np.asarray(state["doc_len"], np.float32)
        out.df = np.diff(indptr).astype(np.int64)
        return out

    @property
    def n_items(self) -> int:
        return len(self.doc_len)

    def idf(self, words: Sequence[str]) -> np.ndarray:
        """BM25's idf of each word (a word no item carries gets the highest idf)."""
        n = self.n_items
        df = np.array([self.df[j] if (j := self.vocab.get(w, -1)) >= 0 and j < len(self.df) else 0 for w in words], dtype=np.float64)
        return np.log1p((n - df + 0.5) / (df + 0.5)).astype(np.float32)

    def grown(self, texts: Sequence[str], changed: np.ndarray) -> BM25:
        """The index of a grown catalogue `texts`: the items past :attr:`n_items` are added and
        the `changed` ones re-read; the rest is shared with this index (never written to)."""
        changed = np.asarray(changed, dtype=np.int64)
        redo = np.union1d(changed, np.arange(self.n_items, len(texts)))
        out = object.__new__(BM25)
        out.k1, out.b, out.common, out.vocab = self.k1, self.b, self.common, dict(self.vocab)
        out.tokenizer = self.tokenizer
        out._base = self._base
        rows = self._counts([texts[i] for i in redo], out.vocab)
        df = np.zeros(len(out.vocab), np.int64)
        df[: len(self.df)] = self.df
        doc_len = np.concatenate([self.doc_len, np.zeros(len(texts) - self.n_items, np.float32)])
        old = changed[changed < self.n_items]
        if len(old):  # the changed items' previous texts stop counting
            prev = self._rows(old)
            df[: prev.shape[1]] -= np.diff(sp.csc_matrix(prev > 0).indptr)
        df += np.diff(sp.csc_matrix(rows > 0).indptr)
        doc_len[redo] = np.asarray(rows.sum(axis=1)).ravel()
        # _extra keeps one row per item: an item changed again replaces its earlier extra row
        keep = ~np.isin(self._extra_items, redo)
        extra = self._extra[np.flatnonzero(keep)]
        extra = sp.csr_matrix((extra.data, extra.indices, extra.indptr), shape=(extra.shape[0], len(out.vocab)))
        out._extra = sp.vstack([extra, rows], format="csr")
        out._extra_items = np.concatenate([self._extra_items[keep], redo])
        dead = np.zeros(len(texts), dtype=bool)
        dead[: len(self._dead)] = self._dead
        dead[old[old < self._base.shape[0]]] = True
        out._dead, out.df, out.doc_len = dead, df, doc_len
        return out

    def _rows(self, items: np.ndarray) -> sp.csr_matrix:
        """Current term counts of some items (before a change), [len(items), V]."""
        v = len(self.vocab)
        out = sp.lil_matrix((len(items), v), dtype=np.float32)
        where = {int(i): r for r, i in enumerate(self._extra_items.tolist())}
        for n, i in enumerate(items.tolist()):
            if i in where:
                row = self._extra[where[i]]
            else:
                row = self._base[[i]].tocsr()
            out[n, row.indices] = row.data
        return out.tocsr()

    def _postings(self, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(item, query word position, tf) of every posting of the words `cols` (vocab ids)."""
        items, which, tf = [], [], []
        in_base = cols < self._base.shape[1]
        if in_base.any():
            sub = self._base[:, cols[in_base]]
            pos = np.repeat(np.flatnonzero(in_base), np.diff(sub.indptr))
            alive = ~self._dead[sub.indices]
            items.append(sub.indices[alive].astype(np.int64))
            which.append(pos[alive])
            tf.append(sub.data[alive])
        if self._extra.shape[0]:
            sub = self._extra[:, cols].tocoo()
            items.append(self._extra_items[sub.row])
            which.append(sub.col.astype(np.int64))
            tf.append(sub.data)
        if not items:
            return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32)
        return np.concatenate(items), np.concatenate(which), np.concatenate(tf).astype(np.float32)

    def query_terms(self, query: str) -> list[str]:
        """The query's distinct tokens, in order of first appearance."""
        return list(dict.fromkeys(tokenize(query)))

    def scores(self, query: str) -> tuple[np.ndarray, np.ndarray]:
        """(BM25 score, coverage) of every item for `query`, both float32 (:meth:`matches`
        spread over the catalogue: 0 for items holding no query word)."""
        n = self.n_items
        score, cover = np.zeros(n, np.float32), np.zeros(n, np.float32)
        items, s, c = self.matches(query)
        score[items], cover[items] = s, c
        return score, cover

    def matches(self, query: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The items holding at least one word of `query` (ascending) with their BM25 score and
        coverage (float32); costs the query words' postings, not the catalogue's size.

        Coverage is the share of the query's idf weight carried by the words the item contains,
        counting only words that are not common (at most the `common` share of the items carry
        them): 1 when the item holds every query word and none is common, 0 when it holds only
        common words. It tells a match on a rare word from a match on words most items carry."""
        empty = np.empty(0, np.int64), np.empty(0, np.float32), np.empty(0, np.float32)
        terms = self.query_terms(query)
        n = self.n_items
        if not terms:
            return empty
        idf = self.idf(terms)
        known = np.array([w in self.vocab for w in terms])
        cols = np.array([self.vocab[w] for w in terms if w in self.vocab], dtype=np.int64)
        if not len(cols):
            return empty
        w_idf = idf[known]
        items, which, tf = self._postings(cols)
        norm = self.k1 * (1.0 - self.b + self.b * self.doc_len[items] / self._avg_len())
        df = self.df[cols]
        rare = np.where(df <= max(self.common * n, MIN_COMMON), w_idf, 0.0)
        gain, carried = w_idf[which] * tf / (tf + norm), rare[which]
        if len(items) > n // 8:  # long posting lists: counting over the catalogue beats sorting
            score = np.bincount(items, gain, minlength=n)
            hit = np.flatnonzero(score)  # every posting adds a positive amount (idf > 0)
            score, cover = score[hit], np.bincount(items, carried, minlength=n)[hit]
        else:
            hit, at = np.unique(items, return_inverse=True)
            score, cover = np.bincount(at, gain, minlength=len(hit)), np.bincount(at, carried, minlength=len(hit))
        return hit, score.astype(np.float32), (cover / max(float(idf.sum()), 1e-9)).astype(np.float32)

    def _avg_len(self) -> float:
        """The mean item length in words, computed once per state of the index."""
        cached = self.__dict__.get("_avg")
        if cached is None or cached[0] is not self.doc_len:
            cached = self.__dict__["_avg"] = (self.doc_len, float(self.doc_len.mean()) or 1.0)
        return cached[1]

    def matched(self, query: str, items: np.ndarray) -> list[list[str]]:
        """The query words each of `items` contains, in query order."""
        terms = [w for w in self.query_terms(query) if w in self.vocab]
        out: list[list[str]] = [[] for _ in range(len(items))]
        if not terms or not len(items):
            return out
        at = {int(i): r for r, i in enumerate(np.asarray(items).tolist())}
        got, which, _ = self._postings(np.array([self.vocab[w] for w in terms], dtype=np.int64))
        for i, w in sorted(zip(got.tolist(), which.tolist()), key=lambda p: p[1]):
            if i in at:
                out[at[i]].append(terms[w])
        return out
