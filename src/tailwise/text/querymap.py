"""A query-side map for the dense side of text queries, learned from the catalogue without labels.

A query is short ("heist comedy", "a panda learning kung fu") and an item text is long (title,
genres, people, plot); the encoder places the two kinds of text somewhat apart, the same way for
every query. :func:`fit_query_map` learns, from the catalogue itself, one weight per embedding
dimension that moves a short text's embedding towards the embedding of the whole text it came
from:

- **pseudo-queries**: for a sample of the items, each sentence of at least
  :data:`MIN_SENTENCE_WORDS` words of the item's text, and :data:`WINDOWS` random windows of
  :data:`MIN_WINDOW` to :data:`MAX_WINDOW` consecutive words of it (seeded); at most
  :data:`MAX_PAIRS` of them, encoded with the query side of the encoder;
- **target**: the item's own text embedding (the one the index holds);
- **weights**: per dimension ``d``, the least-squares fit of the target by the pseudo-query,
  ``w_d = sum_i p_id e_id / sum_i p_id^2`` (no parameter to choose).

:func:`map_queries` multiplies a query embedding by the weights and normalises it again; item
embeddings are left as they are, so an item added after the fit needs nothing. A diagonal map
cannot learn where the catalogue's items are (a full 512 x 512 map fitted the same way does, and
pulls every query towards the existing items: items added later are found far less often,
``bench/query_map_ideas.py``); it only re-weighs directions in which short and long texts
differ. A catalogue too small for :data:`MIN_PAIRS` pseudo-queries gets no map (None: queries
are used as encoded).
"""

from __future__ import annotations

import re

import numpy as np

from tailwise.text.template import truncate_words

#: the most pseudo-queries a map is fitted on (encoding them is the map's cost)
MAX_PAIRS = 4096
#: fewer pseudo-queries than this give no map (512 weights need a few per dimension)
MIN_PAIRS = 1024
#: the shortest sentence used as a pseudo-query, in words
MIN_SENTENCE_WORDS = 4
#: random word windows per item, each MIN_WINDOW to MAX_WINDOW words long
WINDOWS = 3
MIN_WINDOW = 2
MAX_WINDOW = 6

_SENTENCE_END = re.compile(r"(?<=[.!?。！？])\s*")


def pseudo_queries(texts: list[str], seed: int = 0, max_pairs: int = MAX_PAIRS) -> tuple[list[str], np.ndarray]:
    """Short texts cut from item texts and the item each came from (module docstring): at most
    `max_pairs`, from a seeded sample of the items.

    >>> q, owner = pseudo_queries(["A film. Two friends rob a bank in Paris and fall out."], seed=0)
    >>> q[0], owner.tolist()
    ('Two friends rob a bank in Paris and fall out.', [0, 0, 0, 0])
    """
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(texts))[: max(max_pairs // 2, 1)]
    out: list[str] = []
    owner: list[int] = []
    for i in np.sort(order).tolist():
        text = texts[i]
        for sentence in _SENTENCE_END.split(text):
            if len(sentence.split()) >= MIN_SENTENCE_WORDS:
                out.append(sentence.strip())
                owner.append(i)
        words = text.split()
        for _ in range(WINDOWS):
            n = int(rng.integers(MIN_WINDOW, MAX_WINDOW + 1))
            if len(words) > n:
                start = int(rng.integers(0, len(words) - n))
                out.append(" ".join(words[start : start + n]))
                owner.append(i)
    if len(out) > max_pairs:
        keep = np.sort(rng.choice(len(out), max_pairs, replace=False))
        out, owner = [out[j] for j in keep], [owner[j] for j in keep]
    return out, np.asarray(owner, dtype=np.int64)


def diagonal_fit(queries: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Per-dimension least squares of `targets` by `queries` (rows paired):
    ``w_d = sum_i q_id t_id / sum_i q_id^2`` (1 for a dimension the queries never use).

    >>> diagonal_fit(np.array([[1.0, 0.0], [2.0, 0.0]]), np.array([[2.0, 5.0], [4.0, 1.0]])).tolist()
    [2.0, 1.0]
    """
    num = (queries * targets).sum(axis=0, dtype=np.float64)
    den = (queries * queries).sum(axis=0, dtype=np.float64)
    return np.where(den > 0, num / np.where(den > 0, den, 1.0), 1.0).astype(np.float32)


def fit_query_map(encode_queries, texts: list[str], emb: np.ndarray, max_tokens: int | None = None, seed: int = 0) -> np.ndarray | None:
    """The query map of a catalogue (module docstring): weights (float32, one per dimension of
    `emb`), or None when the catalogue gives fewer than :data:`MIN_PAIRS` pseudo-queries.

    `encode_queries` encodes a list of texts with the query side of the encoder that made the
    item embeddings `emb` (row ``i``: ``texts[i]``, cut to `max_tokens` words as it was encoded).
    """
    clipped = [truncate_words(t, max_tokens) for t in texts]
    queries, owner = pseudo_queries(clipped, seed)
    if len(queries) < MIN_PAIRS:
        return None
    encoded = np.asarray(encode_queries(queries), dtype=np.float32)
    return diagonal_fit(encoded, np.asarray(emb, dtype=np.float32)[owner])


def map_queries(weights: np.ndarray | None, queries: np.ndarray) -> np.ndarray:
    """Query embeddings through the map `weights`, normalised again (unchanged for None).

    >>> map_queries(np.array([1.0, 0.0], np.float32), np.array([[0.6, 0.8]], np.float32)).tolist()
    [[1.0, 0.0]]
    """
    if weights is None:
        return queries
    out = queries * weights
    return (out / np.maximum(np.linalg.norm(out, axis=-1, keepdims=True), 1e-12)).astype(np.float32)
