"""Vector indexes behind one interface: exact scoring and approximate nearest neighbours.

Models whose scores are dot products of a user vector and item vectors (ALS, BPR, the adapter,
twotower)
expose ``user_factors(users, rows)`` and ``item_factors()``. An index over the item vectors
then answers top-k queries: :class:`ExactIndex` scores every item (NumPy), :class:`ANNIndex`
walks an HNSW graph (faiss, the ``ann`` extra) and re-scores its candidates exactly.
:func:`make_index` picks one by catalogue size. See ``docs/ann.md``.
"""

from __future__ import annotations

from tailwise.index.ann import ANNIndex
from tailwise.index.base import VectorIndex
from tailwise.index.exact import ExactIndex
from tailwise.index.retrieval import (
    DEFAULT_THRESHOLD,
    choose_kind,
    load_index,
    make_index,
    pipeline_index,
    save_pipeline_index,
    save_text_vector_index,
    text_vector_index,
)

#: index kind (as saved in manifests) -> class
INDEXES: dict[str, type[VectorIndex]] = {cls.kind: cls for cls in (ExactIndex, ANNIndex)}

__all__ = [
    "DEFAULT_THRESHOLD", "INDEXES", "ANNIndex", "ExactIndex", "VectorIndex", "choose_kind",
    "load_index", "make_index", "pipeline_index", "save_pipeline_index", "save_text_vector_index",
    "text_vector_index",
]  # fmt: skip
