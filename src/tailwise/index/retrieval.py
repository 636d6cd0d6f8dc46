"""Choosing an index, and recommending through one for models that score by dot products.

A model "has factors" when it exposes ``user_factors(users, rows)`` and ``item_factors()``
with ``scores = user_factors @ item_factors().T`` (ALS, BPR, the adapter). For such a model
:func:`recommend_by_index` returns what ``model.recommend`` returns, exactly with an
:class:`~tailwise.index.ExactIndex` and approximately (same rules, exact scores) with an
:class:`~tailwise.index.ANNIndex`.

:class:`~tailwise.pipeline.Pipeline` holds an ANN index when the catalogue has at least
:data:`DEFAULT_THRESHOLD` items (:func:`pipeline_index`); below that its model scores every
item, which is exact and fast enough. The index is saved in the model directory's ``index/``
folder and reloaded with it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from tailwise.errors import MissingExtraError
from tailwise.index.ann import ANNIndex
from tailwise.index.base import VectorIndex
from tailwise.index.exact import ExactIndex
from tailwise.models.base import Recommendations

log = logging.getLogger(__name__)

#: catalogue size from which ``kind="auto"`` picks the ANN index
DEFAULT_THRESHOLD = 200_000
#: the folder of a model directory that holds its index
INDEX_DIR = "index"
KINDS = ("auto", "exact", "ann")


def choose_kind(n_items: int, kind: str = "auto", threshold: int = DEFAULT_THRESHOLD) -> str:
    """``"ann"`` or ``"exact"``: `kind` itself, or for ``"auto"`` ANN from `threshold` items.

    Examples
    --------
    >>> choose_kind(10_000), choose_kind(1_000_000), choose_kind(10, "ann")
    ('exact', 'ann', 'ann')
    """
    if kind not in KINDS:
        raise ValueError(f"unknown index kind {kind!r}; choose from {', '.join(KINDS)}")
    if kind != "auto":
        return kind
    return "ann" if n_items >= threshold else "exact"


def make_index(
    vectors: np.ndarray, kind: str = "auto", threshold: int = DEFAULT_THRESHOLD, **ann_params: Any
) -> VectorIndex:
    """An index built over `vectors` [n_items, d]: exact below `threshold` items, ANN from it.

    Parameters
    ----------
    vectors : float array [n_items, d]
        Item vectors; row ``i`` is item ``i``.
    kind : {"auto", "exact", "ann"}
        ``"auto"`` chooses by catalogue size; when it chooses ANN and ``faiss`` is not
        installed it falls back to exact with a warning (``"ann"`` raises instead).
    threshold : int
        Catalogue size from which ``"auto"`` chooses ANN (default 200,000).
    **ann_params
        Passed to :class:`~tailwise.index.ANNIndex` when it is chosen.

    Examples
    --------
    >>> type(make_index(np.eye(4, dtype=np.float32))).__name__
    'ExactIndex'
    """
    chosen = choose_kind(len(vectors), kind, threshold)
    if chosen == "ann":
        try:
            return ANNIndex(**ann_params).build(vectors)
        except MissingExtraError:
            if kind == "ann":
                raise
            log.warning("%d items call for the ANN index, but faiss is missing: scoring exactly", len(vectors))
    return ExactIndex().build(vectors)


def load_index(directory: str | Path) -> VectorIndex:
    """Load any index saved with ``index.save(directory)``."""
    return VectorIndex.load(directory)


def has_factors(model: object) -> bool:
    """Whether `model` scores by ``user_factors(users, rows) @ item_factors().T``."""
    return callable(getattr(model, "user_factors", None)) and callable(getattr(model, "item_factors", None))


def recommend_by_index(
    model: Any,
    index: VectorIndex,
    users: np.ndarray,
    rows: sp.csr_matrix,
    k: int = 10,
    candidates: np.ndarray | None = None,
    exclude_seen: bool = True,
    rerank: Any = None,
    rerank_ctx: Any = None,
    n_candidates: int = 300,
) -> Recommendations:
    """Top-k for users of a factor model, retrieved through `index`.

    Same arguments and rules as :meth:`tailwise.models.base.Recommender.recommend`: items in
    a user's row are never returned (when `exclude_seen`), only `candidates` when given; with
    a re-ranker, the index retrieves each user's top `n_candidates` and the re-ranker picks k.
    The index first follows the model's item vectors (:meth:`VectorIndex.sync`): items added
    since it was built join it, items whose vectors changed are updated. An index that holds
    more items than the model (shared with a newer copy of the model that has grown) returns
    only the model's items.
    """
    if not has_factors(model):
        raise TypeError(f"{type(model).__name__} has no user_factors/item_factors; use model.recommend")
    if rerank is not None and rerank_ctx is None:
        raise ValueError("rerank needs rerank_ctx, a tailwise.rerank.RerankContext")
    users = np.asarray(users, dtype=np.int64)
    rows = sp.csr_matrix(rows)
    if rows.shape[0] != len(users):
        raise ValueError(f"rows must have one row per user ({len(users)}), not {rows.shape[0]}")
    item_vectors = model.item_factors()
    n_model = len(item_vectors)
    n_first = max(k, n_candidates) if rerank is not None else k
    queries = model.user_factors(users, rows)
    with index._guard:  # sync and search as one step: no other model's vectors in between
        index.sync(item_vectors)
        allowed = None
        if candidates is not None or index.n_items > n_model:
            allowed = np.zeros(index.n_items, dtype=bool)
            if candidates is None:
                allowed[:n_model] = True
            else:
                allowed[np.asarray(candidates, dtype=np.int64)] = True
                allowed[n_model:] = False
        items, scores = index.search(queries, n_first, rows if exclude_seen else None, allowed)
    if rerank is not None:
        items, scores = rerank.rerank(items, scores, rows, k, rerank_ctx)
    return Recommendations(items, scores)


def pipeline_index(
    model: object, directory: str | Path | None = None, kind: str = "auto", threshold: int | None = None
) -> VectorIndex | None:
    """The ANN index a pipeline retrieves through, or None when the model scores every item.

    The index saved in ``directory/index`` is used when it matches the model's item vectors;
    otherwise one is built when `kind` (by default the catalogue size, see :func:`choose_kind`)
    calls for ANN; `threshold` defaults to :data:`DEFAULT_THRESHOLD`, read at call time.
    Models without factors always return None.
    """
    if not has_factors(model):
        return None
    vectors = model.item_factors()
    saved = None if directory is None else Path(directory) / INDEX_DIR
    if saved is not None and (saved / "manifest.json").exists():
        try:
            index = load_index(saved)
        except (MissingExtraError, ValueError) as exc:
            log.warning("ignoring the saved index in %s: %s", saved, exc)
        else:
            if _matches(index, vectors):
                index.sync(vectors)  # items the model has beyond the saved index join it
                return index
            log.warning("the saved index in %s does not match the model; rebuilding it", saved)
    if choose_kind(len(vectors), kind, DEFAULT_THRESHOLD if threshold is None else threshold) != "ann":
        return None
    log.info("building an ANN index over %d items", len(vectors))
    index = make_index(vectors, kind="ann" if kind == "ann" else "auto", threshold=0)
    return index if isinstance(index, ANNIndex) else None


def save_pipeline_index(index: VectorIndex | None, directory: str | Path) -> None:
    """Save a pipeline's index into its model directory (nothing when it has none)."""
    if index is not None:
        index.save(Path(directory) / INDEX_DIR)


def _matches(index: VectorIndex, vectors: np.ndarray, probes: int = 64) -> bool:
    """Same dimension, no more items than the model, and the same vectors at probe rows."""
    if index.dim != vectors.shape[1] or index.n_items > len(vectors) or index.n_items == 0:
        return False
    ids = np.unique(np.linspace(0, index.n_items - 1, probes).astype(np.int64))
    return bool(np.array_equal(index.take(ids), np.asarray(vectors[ids], dtype=np.float32)))
