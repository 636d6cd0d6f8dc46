"""Content: recommends items whose text is like the text of what the user liked."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from tailwise.data.dataset import Dataset
from tailwise.models.base import Recommender
from tailwise.models.params import Int, OneOf, Text, rules
from tailwise.models.relations import VectorRelations
from tailwise.models.state import StateCheck
from tailwise.ranking import normalise_rows
from tailwise.text.side import TextSide

PROFILES = ("mean", "max")


class Content(Recommender):
    """Scores ``s_ui = cos(profile_u, e_i)`` over language-model item embeddings ``e_i``.

    Profiles: ``"mean"`` is the weighted mean of the history embeddings (the weights are the
    values of the user's history row, so a rating- or recency-weighted history matrix gives a
    rating- or recency-weighted profile); ``"max"`` is best-match, ``s_ui = max_j cos(e_j, e_i)``
    over the history items j. Needs no interactions for an item to be recommendable.

    Parameters
    ----------
    encoder : str
        Text encoder spec (default ``"use"``).
    profile : {"mean", "max"}
        How a user's history becomes scores.
    max_tokens : int
        Token budget per item text.
    cache_dir : str, optional
        Embedding cache folder.
    """

    name = "content"
    param_rules = rules(encoder=Text(), profile=OneOf(*PROFILES), max_tokens=Int(1), cache_dir=Text(optional=True))
    _state_keys = ("embeddings_",)

    def __init__(self, encoder: str = "use", profile: str = "mean", max_tokens: int = 128, cache_dir: str | None = None) -> None:
        self.encoder = encoder
        self.profile = profile
        self.max_tokens = max_tokens
        self.cache_dir = cache_dir

    def _fit(self, train: sp.csr_matrix, dataset: Dataset) -> None:
        self.embeddings_ = self.text_side().embed(dataset.texts())

    def _check_state(self, check: StateCheck) -> None:
        check.shape("embeddings_", "items", "d")

    # ------------------------------------------------------------------ new items
    def _embed_new(self, texts: list[str]) -> np.ndarray:
        self._check_fitted()
        return self.text_side(progress=False).embed_new(texts)

    def text_side(self, progress: bool = True) -> TextSide:
        return TextSide(self.encoder, self.max_tokens, self.cache_dir, progress)

    def item_relations(self) -> VectorRelations:
        return VectorRelations(self.embeddings_)

    def add_items(self, texts: list[str]) -> None:
        """Append items by their text: their embeddings join the catalogue (see the base class)."""
        emb = self._embed_new(texts)
        self.embeddings_ = np.vstack([self.embeddings_, emb]).astype(np.float32, copy=False)
        self.n_items_ = int(self.n_items_) + len(texts)

    def update_item_texts(self, indices: np.ndarray, texts: list[str]) -> None:
        """Re-embed existing items from new texts."""
        emb = self.embeddings_.copy()
        emb[np.asarray(indices, dtype=np.int64)] = self._embed_new(texts)
        self.embeddings_ = emb

    def _score(self, users: np.ndarray, rows: sp.csr_matrix) -> np.ndarray:
        emb = self.embeddings_
        if self.profile == "mean":
            return normalise_rows(rows @ emb) @ emb.T
        out = np.full((rows.shape[0], len(emb)), -1.0, dtype=np.float32)
        for r in range(rows.shape[0]):
            hist = rows.indices[rows.indptr[r] : rows.indptr[r + 1]]
            if len(hist):
                out[r] = (emb[hist] @ emb.T).max(axis=0)
        return out
