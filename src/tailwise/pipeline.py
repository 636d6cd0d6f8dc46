"""The fitted pipeline the CLI (and later the service) holds: model, id maps and histories.

It turns external ids into indices, recommends, and turns results back into external ids.
Users the model has never seen get the documented fallback: the most popular training items.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from tailwise import artifacts
from tailwise.data.dataset import Dataset
from tailwise.data.idmap import IdMap
from tailwise.errors import DataError
from tailwise.models import MODELS, Recommender, make_model
from tailwise.models.base import top_k

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

    @classmethod
    def fit(cls, model: Recommender, dataset: Dataset) -> Pipeline:
        """Fit `model` on `dataset` and keep what recommending by id needs."""
        t0 = time.perf_counter()
        model.fit(dataset)
        meta = {"fit_seconds": round(time.perf_counter() - t0, 3), "dataset": dataset.describe()}
        return cls(model, dataset.users, dataset.items, dataset.matrix(), dataset.texts(), meta)

    # ------------------------------------------------------------------ recommending
    def recommend(
        self,
        user_ids: list[str],
        k: int = 10,
        candidates: np.ndarray | None = None,
    ) -> UserLists:
        """Top-k for external user ids; training items are never recommended back.

        Unknown users get the `k` most popular training items (within `candidates`), with the
        item's training count as score.
        """
        idx = self.users.indices(user_ids, missing=-1)
        known = idx >= 0
        items = np.full((len(user_ids), k), -1, dtype=np.int64)
        scores = np.full((len(user_ids), k), -np.inf, dtype=np.float32)
        if known.any():
            rows = self.history[idx[known]]
            recs = self.model.recommend(idx[known], rows, k=k, candidates=candidates)
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
        self, item_ids: list[str], k: int = 10, candidates: np.ndarray | None = None
    ) -> UserLists:
        """Top-k for a new user given only a few item ids (fold-in, no refit).

        Unknown item ids raise KeyError naming the id; the history items are not recommended.
        """
        idx = np.unique(self.items.indices(item_ids))
        row = sp.csr_matrix((np.ones(len(idx), np.float32), (np.zeros(len(idx), int), idx)), shape=(1, len(self.items)))
        recs = self.model.recommend(np.array([-1]), row, k=k, candidates=candidates)
        return UserLists(["history"], recs.items, recs.scores, np.array([False]))

    def recommend_query(
        self, text: str, k: int = 10, candidates: np.ndarray | None = None, seeds: int = 10
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
        recs = self.model.recommend(np.array([-1]), row, k=k, exclude_seen=False, candidates=candidates)
        return UserLists(["query"], recs.items, recs.scores, np.array([False]))

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
        return artifacts.write_dir(directory, manifest, arrays, {"items.json": self.item_text})

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
        return cls(model, IdMap(ids["users"]), IdMap(ids["items"]), history, text, meta)
