"""What the language side knows about each item: text embedding, sparse TF-IDF and year.

The adapter compares items through a kernel over three views of their text:

- the dense embedding of a pretrained language model (semantics, 16 languages with USE);
- a sparse TF-IDF over word unigrams and bigrams (names: directors, actors, brands, models),
  fitted on the catalogue in NumPy/SciPy;
- the release year, when the texts carry one (the first number between 1800 and 2100 in the
  text); used only when at least half of the items have one.

``k(a, b) = (1 + mean of the view similarities)^2``: the square lets the views interact
(a shared director counts more within the same decade).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_YEAR = re.compile(r"(?<!\d)(1[89]\d\d|20\d\d|2100)(?!\d)")


def tokens(text: str) -> list[str]:
    """Lower-cased word unigrams and bigrams.

    >>> tokens("Toy Story (1995)")
    ['toy', 'story', '1995', 'toy story', 'story 1995']
    """
    words = _TOKEN.findall(text.lower())
    return words + [f"{a} {b}" for a, b in zip(words, words[1:])]


@dataclass(frozen=True)
class Tfidf:
    """A fitted TF-IDF vocabulary: ``vocab[j]`` has inverse document frequency ``idf[j]``."""

    vocab: np.ndarray  # str
    idf: np.ndarray  # float32

    @classmethod
    def fit(cls, texts: list[str], min_df: int = 2, max_features: int = 100_000) -> Tfidf:
        """Keep terms in at least `min_df` texts (the most frequent `max_features`);
        ``idf = ln((1 + n) / (1 + df)) + 1``."""
        return cls._fit_tokens([tokens(t) for t in texts], min_df, max_features)

    @classmethod
    def fit_transform(cls, texts: list[str], min_df: int = 2, max_features: int = 100_000) -> tuple[Tfidf, sp.csr_matrix]:
        """:meth:`fit` and :meth:`transform` with one tokenisation of the texts."""
        toks = [tokens(t) for t in texts]
        fitted = cls._fit_tokens(toks, min_df, max_features)
        return fitted, fitted._transform_tokens(toks)

    @classmethod
    def _fit_tokens(cls, toks: list[list[str]], min_df: int, max_features: int) -> Tfidf:
        df = Counter(t for doc in toks for t in set(doc))
        kept = sorted((t for t, c in df.items() if c >= min_df), key=lambda t: (-df[t], t))
        kept = sorted(kept[:max_features])
        counts = np.asarray([df[t] for t in kept], dtype=np.float64)
        idf = np.log((1 + len(toks)) / (1 + counts)) + 1.0
        return cls(np.asarray(kept, dtype=str), idf.astype(np.float32))

    def transform(self, texts: list[str]) -> sp.csr_matrix:
        """Rows of sublinear tf (``1 + ln tf``) times idf, L2-normalised."""
        return self._transform_tokens([tokens(t) for t in texts])

    def _transform_tokens(self, toks: list[list[str]]) -> sp.csr_matrix:
        index = {t: j for j, t in enumerate(self.vocab.tolist())}
        get = index.get
        ids = np.fromiter((get(t, -1) for doc in toks for t in doc), dtype=np.int64)
        rows = np.repeat(np.arange(len(toks)), [len(doc) for doc in toks])
        keep = ids >= 0
        m = sp.csr_matrix(
            (np.ones(int(keep.sum()), np.float32), (rows[keep], ids[keep])),
            shape=(len(toks), len(self.vocab)),
        )  # duplicates are summed: raw term counts
        m.data = (1.0 + np.log(m.data)) * self.idf[m.indices]
        norms = np.sqrt(np.asarray(m.multiply(m).sum(axis=1)).ravel())
        return sp.csr_matrix(sp.diags(1.0 / np.maximum(norms, 1e-12)) @ m, dtype=np.float32)


def years(texts: list[str]) -> np.ndarray:
    """The first year-like number (1800-2100) of each text, NaN where there is none.

    >>> years(["Heat (1995)", "a 3D printer", "Model 2019 edition"]).tolist()
    [1995.0, nan, 2019.0]
    """
    out = np.full(len(texts), np.nan)
    for i, text in enumerate(texts):
        if m := _YEAR.search(text):
            out[i] = float(m.group(1))
    return out


#: rows of :meth:`ItemFeatures.kernel` whose TF-IDF and year views are added at a time
KERNEL_ROWS = 1024


@dataclass(frozen=True)
class ItemFeatures:
    """The three views for a set of items, and the kernel between two such sets."""

    embeddings: np.ndarray  # float32 [n, d], L2-normalised
    tfidf: sp.csr_matrix | None  # [n, vocab], L2-normalised rows
    year: np.ndarray | None  # standardised years, NaN = unknown
    year_width: float = 0.25  # RBF width in standard deviations

    def subset(self, rows: np.ndarray) -> ItemFeatures:
        return ItemFeatures(
            self.embeddings[rows],
            None if self.tfidf is None else self.tfidf[rows],
            None if self.year is None else self.year[rows],
            self.year_width,
        )

    def kernel(self, other: ItemFeatures) -> np.ndarray:
        """``(1 + mean view similarity)^2`` between every item here and every item of `other`."""
        sim = self.embeddings @ other.embeddings.T
        tfidf = self.tfidf is not None and other.tfidf is not None
        year = self.year is not None and other.year is not None
        # the other views a block of rows at a time: their dense (and float64) temporaries stay
        # KERNEL_ROWS x len(other), not len(self) x len(other) (the values are the same)
        for start in range(0, len(sim), KERNEL_ROWS):
            rows = slice(start, start + KERNEL_ROWS)
            if tfidf:
                sim[rows] += (self.tfidf[rows] @ other.tfidf.T).toarray()
            if year:
                diff = (self.year[rows, None] - other.year[None, :]) / self.year_width
                sim[rows] += np.nan_to_num(np.exp(-0.5 * diff**2), nan=0.0).astype(np.float32)
        sim /= 1 + tfidf + year  # the mean over the views
        sim += 1.0
        return np.square(sim, out=sim)


def year_scale(raw: np.ndarray) -> tuple[float, float] | None:
    """Mean and standard deviation of the known years, or None when under half are known."""
    known = np.isfinite(raw)
    if known.mean() < 0.5 or raw[known].std() == 0:
        return None
    return float(raw[known].mean()), float(raw[known].std())
