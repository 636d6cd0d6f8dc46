"""The fitted pipeline the CLI (and later the service) holds: model, id maps and histories.

It turns external ids into indices, recommends, and turns results back into external ids.
Users the model has never seen get the documented fallback: the most popular training items.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from tailwise import artifacts
from tailwise.data.dataset import Dataset
from tailwise.data.idmap import IdMap
from tailwise.errors import DataError
from tailwise.models import MODELS, Recommender, make_model
from tailwise.models.base import Recommendations, top_k

if TYPE_CHECKING:
    from tailwise.index import VectorIndex
    from tailwise.rerank import RerankContext, Reranker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class UserLists:
    """Recommendations for a batch of external user ids (rows padded with -1 items)."""

    user_ids: list[str]
    items: np.ndarray  # int64 [n, k] item indices
    scores: np.ndarray  # float32 [n, k]
    known: np.ndarray  # bool [n]: False where the popularity fallback was used


@dataclass
class Pipeline:
    """A fitted model with everything needed to serve external ids."""

    model: Recommender
    users: IdMap
    items: IdMap
    history: sp.csr_matrix
    item_text: list[str]
    meta: dict
    _rerank_ctx: RerankContext | None = field(default=None, init=False, repr=False, compare=False)
    #: ANN index for factor models of large catalogues (None: the model scores every item);
    #: see :func:`tailwise.index.pipeline_index`
    index: VectorIndex | None = field(default=None, repr=False, compare=False)

    @classmethod
    def fit(cls, model: Recommender, dataset: Dataset) -> Pipeline:
        """Fit `model` on `dataset` and keep what recommending by id needs."""
        t0 = time.perf_counter()
        model.fit(dataset)
        meta = {"fit_seconds": round(time.perf_counter() - t0, 3), "dataset": dataset.describe()}
        from tailwise.index import pipeline_index

        index = pipeline_index(model)
        return cls(model, dataset.users, dataset.items, dataset.matrix(), dataset.texts(), meta, index=index)

    # ------------------------------------------------------------------ recommending
    def recommend(
        self,
        user_ids: list[str],
        k: int = 10,
        candidates: np.ndarray | None = None,
        rerank: str | None = None,
        tail_weight: float = 0.0,
        n_candidates: int = 300,
        seed: int = 0,
    ) -> UserLists:
        """Top-k for external user ids; training items are never recommended back.

        Unknown users get the `k` most popular training items (within `candidates`), with the
        item's training count as score (not re-ranked).

        `rerank` names a re-ranker of :data:`tailwise.rerank.RERANKERS` that picks the k items
        from each user's top `n_candidates`; `tail_weight` in [0, 1] is its one knob (0 = off)
        and `seed` seeds the stochastic one (vary it per request to spread exposure).
        """
        idx = self.users.indices(user_ids, missing=-1)
        known = idx >= 0
        items = np.full((len(user_ids), k), -1, dtype=np.int64)
        scores = np.full((len(user_ids), k), -np.inf, dtype=np.float32)
        if known.any():
            rows = self.history[idx[known]]
            recs = self.retrieve(idx[known], rows, k=k, candidates=candidates, **self._rerank_args(rerank, tail_weight, n_candidates, seed))
            items[known], scores[known] = recs.items, recs.scores
        if (~known).any():
            pop = np.asarray(self.history.sum(axis=0), dtype=np.float32).ravel()
            if candidates is not None:
                mask = np.full(len(pop), -np.inf, dtype=np.float32)
                mask[candidates] = 0.0
                pop = pop + mask
            fb_items, fb_scores = top_k(pop[None, :], k)
            items[~known], scores[~known] = fb_items[0], fb_scores[0]
            log.info("%d unknown users got the popularity fallback", int((~known).sum()))
        return UserLists(list(map(str, user_ids)), items, scores, known)

    def recommend_history(
        self,
        item_ids: list[str],
        k: int = 10,
        candidates: np.ndarray | None = None,
        rerank: str | None = None,
        tail_weight: float = 0.0,
        n_candidates: int = 300,
        seed: int = 0,
    ) -> UserLists:
        """Top-k for a new user given only a few item ids (fold-in, no refit).

        Unknown item ids raise KeyError naming the id; the history items are not recommended.
        """
        idx = np.unique(self.items.indices(item_ids))
        row = sp.csr_matrix((np.ones(len(idx), np.float32), (np.zeros(len(idx), int), idx)), shape=(1, len(self.items)))
        recs = self.retrieve(np.array([-1]), row, k=k, candidates=candidates, **self._rerank_args(rerank, tail_weight, n_candidates, seed))
        return UserLists(["history"], recs.items, recs.scores, np.array([False]))

    def recommend_query(
        self,
        text: str,
        k: int = 10,
        candidates: np.ndarray | None = None,
        seeds: int = 10,
        rerank: str | None = None,
        tail_weight: float = 0.0,
        n_candidates: int = 300,
        seed: int = 0,
    ) -> UserLists:
        """Top-k for a free-text query: the `seeds` items whose text is closest to the query
        (by the model's text encoder) become a pseudo-history, which the model folds in."""
        from tailwise.models.textside import TextSide
        from tailwise.text.encoders import make_encoder

        spec = getattr(self.model, "encoder", "use")
        side = TextSide(spec, getattr(self.model, "max_tokens", 128), getattr(self.model, "cache_dir", None), progress=False)
        items = side.embed(self.item_text)
        query = np.asarray(make_encoder(spec).encode_queries([text]), dtype=np.float32)
        sims = (items @ query[0]).astype(np.float32)
        if candidates is not None:
            mask = np.full(len(sims), -np.inf, dtype=np.float32)
            mask[candidates] = 0.0
            sims = sims + mask
        seed_idx, _ = top_k(sims[None, :], seeds)
        seed_idx = seed_idx[0][seed_idx[0] >= 0]
        row = sp.csr_matrix((np.ones(len(seed_idx), np.float32), (np.zeros(len(seed_idx), int), seed_idx)), shape=(1, len(sims)))
        rr = self._rerank_args(rerank, tail_weight, n_candidates, seed)
        recs = self.retrieve(np.array([-1]), row, k=k, exclude_seen=False, candidates=candidates, **rr)
        return UserLists(["query"], recs.items, recs.scores, np.array([False]))

    def retrieve(self, users: np.ndarray, rows: sp.csr_matrix, **kwargs) -> Recommendations:
        """``model.recommend(users, rows, **kwargs)``, or through the ANN index when the pipeline
        holds one (:func:`tailwise.index.recommend_by_index`, same arguments and rules)."""
        if self.index is None:
            return self.model.recommend(users, rows, **kwargs)
        from tailwise.index import recommend_by_index

        return recommend_by_index(self.model, self.index, users, rows, **kwargs)

    # ------------------------------------------------------------------ re-ranking
    def rerank_context(self) -> RerankContext:
        """The re-rankers' view of the catalogue, built once and cached.

        Item popularity comes from the training history, the tail is
        :func:`~tailwise.data.popularity.tail_mask` (head = 20% most popular items). Item vectors
        (MMR only) are loaded on first use: the model's text embeddings where it has a text
        side, otherwise SVD vectors of the training matrix.
        """
        if self._rerank_ctx is None:
            from tailwise.rerank import RerankContext, item_vector_loader

            ctx = RerankContext.from_history(self.history)
            loader = item_vector_loader(self.model, self.item_text, self.history)
            self._rerank_ctx = RerankContext(ctx.item_pop, ctx.tail, loader=loader)
        return self._rerank_ctx

    def _rerank_args(self, name: str | None, tail_weight: float, n_candidates: int, seed: int) -> dict:
        from tailwise.rerank import make_reranker

        reranker: Reranker | None = make_reranker(name, tail_weight, seed=seed)
        if reranker is None:
            return {}
        return {"rerank": reranker, "rerank_ctx": self.rerank_context(), "n_candidates": n_candidates}

    # ------------------------------------------------------------------ new items
    def add_items(self, item_ids: list[str], texts: list[str]) -> tuple[int, int]:
        """Add items by their text, or give known items a new text; returns (added, updated).

        New ids are appended to the catalogue (the id map, the history's columns, the texts)
        and the model places them from their text at once (text-aware models; the others
        raise :class:`~tailwise.models.base.ColdStartError` and nothing changes). A known id
        gets its new text re-embedded and keeps its interactions. For an id given twice the
        last text counts. All or nothing: the model is grown on a shallow copy that replaces
        it only when every step succeeded, and no array is written into, so a shallow copy of
        the pipeline (``copy.copy``) can be grown while the original keeps serving.
        """
        import copy

        if len(item_ids) != len(texts):
            raise ValueError(f"{len(item_ids)} item ids but {len(texts)} texts")
        given = dict(zip(map(str, item_ids), map(str, texts)))
        idx = self.items.indices(list(given), missing=-1)
        new = [(i, t) for (i, t), j in zip(given.items(), idx) if j < 0]
        old = [(j, t) for (_, t), j in zip(given.items(), idx) if j >= 0]
        model = copy.copy(self.model)
        if new:
            model.add_items([t for _, t in new])
        if old:
            model.update_item_texts(np.asarray([j for j, _ in old], dtype=np.int64), [t for _, t in old])
        text = list(self.item_text)
        for j, t in old:
            text[j] = t
        if new:
            h = self.history
            self.history = sp.csr_matrix((h.data, h.indices, h.indptr), shape=(h.shape[0], h.shape[1] + len(new)))
            self.items = self.items.extend(i for i, _ in new)
            text += [t for _, t in new]
        self.model, self.item_text, self._rerank_ctx = model, text, None
        return len(new), len(old)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write the model directory atomically (see :mod:`tailwise.artifacts`)."""
        h = self.history
        manifest = {
            "model": self.model.name,
            "params": self.model.get_params(),
            **self.meta,
        }
        arrays = {
            "model": self.model.get_state(),
            "ids": {"users": self.users.ids, "items": self.items.ids},
            "history": {"indptr": h.indptr, "indices": h.indices, "data": h.data, "shape": np.asarray(h.shape)},
        }
        target = artifacts.write_dir(directory, manifest, arrays, {"items.json": self.item_text})
        if self.index is not None:  # the ANN index goes to target/index (tailwise.index)
            from tailwise.index import save_pipeline_index

            save_pipeline_index(self.index, target)
        return target

    @classmethod
    def load(cls, directory: str | Path) -> Pipeline:
        """Load a model directory written by :meth:`save`; no pickle is involved."""
        directory = Path(directory)
        manifest = artifacts.read_manifest(directory)
        name = manifest["model"]
        if name not in MODELS:
            raise DataError(f"unknown model {name!r} in manifest", path=directory / "manifest.json", field="model")
        model = make_model(name, **manifest["params"]).set_state(artifacts.read_arrays(directory / "model.npz"))
        ids = artifacts.read_arrays(directory / "ids.npz")
        h = artifacts.read_arrays(directory / "history.npz")
        history = sp.csr_matrix((h["data"], h["indices"], h["indptr"]), shape=tuple(h["shape"]))
        text = json.loads((directory / "items.json").read_text(encoding="utf-8"))
        meta = {k: v for k, v in manifest.items() if k not in ("model", "params")}
        from tailwise.index import pipeline_index

        index = pipeline_index(model, directory)  # the saved ANN index, if any
        return cls(model, IdMap(ids["users"]), IdMap(ids["items"]), history, text, meta, index=index)
