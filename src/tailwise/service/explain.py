"""Why an item is recommended, and which items are alike, from the model's own item relations.

:func:`relations` picks the item-to-item affinity a model scores with:

- models with item vectors (the hybrid's adapter side ``v_hat``, the adapter, twotower, ALS/BPR
  factors, content's text embeddings): cosine between the vectors;
- EASE: its weights ``B[j, i]`` (how much having j adds to i's score);
- item-kNN: its neighbour similarities;
- anything else (popular): co-occurrence counts in the training history.

An explanation names the history item with the highest affinity to the recommended item
("because you liked Toy Story (1995)"), or says the free-text query drove it.
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp

from tailwise.models.base import Recommender, top_k

_TITLE_YEAR = re.compile(r"^(.{1,200}?\(\d{4}\))")
TITLE_CHARS = 80


def short_title(text: str, limit: int = TITLE_CHARS) -> str:
    """The title part of an item text: up to a ``(year)``, else the first line or sentence.

    Examples
    --------
    >>> short_title("Toy Story (1995). Adventure, Animation, Children")
    'Toy Story (1995)'
    >>> short_title("Pipette 10 ml\\nA sturdy glass pipette")
    'Pipette 10 ml'
    >>> short_title("Heat. A cop hunts a thief")
    'Heat'
    """
    text = text.strip()
    first = text.splitlines()[0].strip() if text else ""
    if m := _TITLE_YEAR.match(first):
        first = m.group(1)
    elif ". " in first:
        first = first.split(". ", 1)[0]
    return first if len(first) <= limit else first[: limit - 1].rstrip() + "…"


class Relations:
    """Item-to-item affinity: the base class scores by co-occurrence in the history."""

    def __init__(self, history: sp.csr_matrix) -> None:
        self.cols = sp.csc_matrix(history, dtype=np.float32)

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        """[len(sources), len(targets)] affinity of each source item to each target item."""
        return np.asarray((self.cols[:, sources].T @ self.cols[:, targets]).toarray(), dtype=np.float32)

    def row(self, item: int) -> np.ndarray:
        """Affinity of one item to every item (its own entry is not masked)."""
        users = self.cols[:, [item]].nonzero()[0]
        return np.asarray(self.cols[users].sum(axis=0), dtype=np.float32).ravel()

    def similar(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """The k items most like `item` (itself excluded) and their affinities, best first."""
        scores = self.row(item).astype(np.float32, copy=True)
        scores[item] = -np.inf
        idx, val = top_k(scores[None, :], k)
        keep = idx[0] >= 0
        return idx[0][keep], val[0][keep]


class VectorRelations(Relations):
    """Cosine between item vectors."""

    def __init__(self, vectors: np.ndarray) -> None:
        v = np.asarray(vectors, dtype=np.float32)
        self.vectors = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return self.vectors[sources] @ self.vectors[targets].T

    def row(self, item: int) -> np.ndarray:
        return self.vectors @ self.vectors[item]


class EaseRelations(Relations):
    """EASE's weights between its active items; other items relate to nothing."""

    def __init__(self, weights: np.ndarray, active: np.ndarray, n_items: int) -> None:
        self.weights = weights
        self.active = np.asarray(active, dtype=np.int64)
        self.pos = np.full(n_items, -1, dtype=np.int64)
        self.pos[self.active] = np.arange(len(self.active))

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        out = np.zeros((len(sources), len(targets)), dtype=np.float32)
        ps, pt = self.pos[sources], self.pos[targets]
        rs, ct = np.flatnonzero(ps >= 0), np.flatnonzero(pt >= 0)
        out[np.ix_(rs, ct)] = self.weights[np.ix_(ps[rs], pt[ct])]
        return out

    def row(self, item: int) -> np.ndarray:
        out = np.zeros(len(self.pos), dtype=np.float32)
        if self.pos[item] >= 0:
            out[self.active] = self.weights[self.pos[item]]
        return out


class KnnRelations(Relations):
    """Item-kNN's sparse neighbour similarities."""

    def __init__(self, sim: sp.csr_matrix) -> None:
        self.sim = sim

    def affinity(self, sources: np.ndarray, targets: np.ndarray) -> np.ndarray:
        return np.asarray(self.sim[sources][:, targets].toarray(), dtype=np.float32)

    def row(self, item: int) -> np.ndarray:
        return np.asarray(self.sim[item].toarray(), dtype=np.float32).ravel()


def relations(model: Recommender, history: sp.csr_matrix) -> Relations:
    """The item relations of a fitted model (see the module docstring)."""
    inner = getattr(model, "adapter_", model)
    for attr in ("item_vectors_", "embeddings_", "item_factors_"):
        vectors = getattr(inner, attr, None)
        if vectors is not None and len(vectors) == history.shape[1]:
            return VectorRelations(vectors)
    if hasattr(model, "weights_") and hasattr(model, "active_"):
        return EaseRelations(model.weights_, model.active_, history.shape[1])
    if hasattr(model, "sim_data_"):
        n = history.shape[1]
        return KnnRelations(sp.csr_matrix((model.sim_data_, model.sim_indices_, model.sim_indptr_), shape=(n, n)))
    return Relations(history)


def because(
    rel: Relations,
    liked: np.ndarray,
    seeds: np.ndarray,
    recs: np.ndarray,
    titles: list[str],
) -> list[str]:
    """One short explanation per recommended item.

    Parameters
    ----------
    rel : Relations
        The model's item relations.
    liked : int array
        The user's history (training and feedback, or the history a request gave).
    seeds : int array
        Items found by a free-text query ("matches your text" when one of them drives an item).
    recs : int array
        The recommended items.
    titles : list of str
        Short titles by item index.
    """
    liked = np.asarray(liked, dtype=np.int64)
    seeds = np.setdiff1d(np.asarray(seeds, dtype=np.int64), liked)
    drivers = np.concatenate([liked, seeds])
    if not len(drivers):
        return ["popular with everyone"] * len(recs)
    if not len(recs):
        return []
    aff = rel.affinity(drivers, np.asarray(recs, dtype=np.int64))
    best = np.argmax(aff, axis=0)
    out = []
    for col, row in enumerate(best):
        if aff[row, col] <= 0:
            out.append("matches your text" if len(seeds) and not len(liked) else "fits your overall taste")
        elif row >= len(liked):
            out.append("matches your text")
        else:
            out.append(f"because you liked {titles[drivers[row]]}")
    return out
