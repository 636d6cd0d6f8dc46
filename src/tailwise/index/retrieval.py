"""Choosing an index for a model, and keeping it in the model directory.

A dot-product model (:class:`~tailwise.models.base.VectorModel`: ALS, BPR, the adapter,
twotower) exposes ``user_factors(users, rows)`` and ``item_factors()`` with
``scores = user_factors @ item_factors().T``. :class:`~tailwise.pipeline.Pipeline` holds an ANN
index over its item vectors when the catalogue has at least :data:`DEFAULT_THRESHOLD` items
(:func:`pipeline_index`), and its candidate stage then searches the index instead of scoring
every item (same rules, exact scores of the items found). Below that the model scores every
item, which is exact and fast enough. The index is saved in the model directory's ``index/``
folder and reloaded with it.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np

from tailwise.errors import MissingExtraError
from tailwise.index.ann import ANNIndex
from tailwise.index.base import VectorIndex
from tailwise.index.exact import ExactIndex
from tailwise.models.base import is_vector_model

log = logging.getLogger(__name__)

#: catalogue size from which ``kind="auto"`` picks the ANN index
DEFAULT_THRESHOLD = 200_000
#: the folder of a model directory that holds its index
INDEX_DIR = "index"
#: the folder of a model directory that holds the vector index of the item texts' embeddings
TEXT_INDEX_DIR = "text-index"
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


def pipeline_index(
    model: object, directory: str | Path | None = None, kind: str = "auto", threshold: int | None = None
) -> VectorIndex | None:
    """The ANN index a pipeline retrieves through, or None when the model scores every item.

    The index saved in ``directory/index`` is used when it matches the model's item vectors;
    otherwise one is built when `kind` (by default the catalogue size, see :func:`choose_kind`)
    calls for ANN; `threshold` defaults to :data:`DEFAULT_THRESHOLD`, read at call time.
    Models that are not dot-product models always return None.
    """
    if not is_vector_model(model):
        return None
    vectors = model.item_factors()
    index = _saved(directory, INDEX_DIR, vectors, "index", "the model")
    if index is not None:
        index.sync(vectors)  # items the model has beyond the saved index join it
        return index
    if choose_kind(len(vectors), kind, DEFAULT_THRESHOLD if threshold is None else threshold) != "ann":
        return None
    log.info("building an ANN index over %d items", len(vectors))
    index = make_index(vectors, kind="ann" if kind == "ann" else "auto", threshold=0)
    return index if isinstance(index, ANNIndex) else None


def save_pipeline_index(index: VectorIndex | None, directory: str | Path) -> None:
    """Save a pipeline's index into its model directory (nothing when it has none)."""
    if index is not None:
        index.save(Path(directory) / INDEX_DIR)


def _saved(directory: str | Path | None, name: str, vectors: np.ndarray, what: str, against: str) -> VectorIndex | None:
    """The index saved in ``directory/name`` when it loads and matches `vectors`; None (with a
    warning saying why, when one was there) otherwise."""
    saved = None if directory is None else Path(directory) / name
    if saved is None or not (saved / "manifest.json").exists():
        return None
    try:
        index = load_index(saved)
    except (MissingExtraError, ValueError) as exc:
        log.warning("ignoring the saved %s in %s: %s", what, saved, exc)
        return None
    if _matches(index, vectors):
        return index
    log.warning("the saved %s in %s does not match %s; rebuilding it", what, saved, against)
    return None


def _matches(index: VectorIndex, vectors: np.ndarray, probes: int = 64) -> bool:
    """Same dimension, no more items than the model, and the same vectors at probe rows."""
    if index.dim != vectors.shape[1] or index.n_items > len(vectors) or index.n_items == 0:
        return False
    ids = np.unique(np.linspace(0, index.n_items - 1, probes).astype(np.int64))
    return bool(np.array_equal(index.take(ids), np.asarray(vectors[ids], dtype=np.float32)))


def text_vector_index(emb: np.ndarray, directory: str | Path | None = None, threshold: int | None = None) -> VectorIndex | None:
    """The vector index the dense side of text queries searches through (None: it scores every
    item): the one saved in ``directory/text-index`` when it matches the embeddings `emb`, else
    an ANN index built now when the catalogue has at least `threshold` items (default
    :data:`DEFAULT_THRESHOLD`, read at call time) and faiss is installed."""
    index = _saved(directory, TEXT_INDEX_DIR, emb, "text index", "the item embeddings")
    if index is not None:
        return index
    if choose_kind(len(emb), "auto", DEFAULT_THRESHOLD if threshold is None else threshold) != "ann":
        return None
    log.info("building an ANN index over %d item text embeddings", len(emb))
    index = make_index(emb, kind="auto", threshold=0, progress=False)
    return index if isinstance(index, ANNIndex) else None


def save_text_vector_index(index: VectorIndex | None, directory: str | Path) -> None:
    """Save the text queries' vector index into a model directory (nothing when there is none)."""
    if index is not None:
        index.save(Path(directory) / TEXT_INDEX_DIR)
