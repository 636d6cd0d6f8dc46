"""The fitted pipeline the CLI, the evaluator and the service hold: model, id maps and histories.

It owns the chain of stages (:mod:`tailwise.pipeline.stages`) and everything around it: external
ids in and out, the fallback (the most popular training items), the fold-in of an ad-hoc
history or a free-text query, the re-rankers' context, new items by their text, and the model
directory.

Lists by external ids (:meth:`Pipeline.recommend`, :meth:`~Pipeline.recommend_history`,
:meth:`~Pipeline.recommend_query`) are never silently arbitrary: a user gets the popularity
fallback, labelled with the reason in :attr:`UserLists.fallback`, when the model cannot rank
items for it (an unknown user id, an empty history, a query that matches no item text, or a
history the model scores every item alike for, such as one made only of items without training
interactions for a collaborative model). Lists are at most the catalogue long, whatever `k`.
"""

from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from tailwise import artifacts
from tailwise.data.dataset import Dataset
from tailwise.data.idmap import IdMap
from tailwise.index import VectorIndex, pipeline_index, save_pipeline_index, save_text_vector_index
from tailwise.models import Recommender
from tailwise.pipeline import stages
from tailwise.pipeline.directory import LEXICAL, lexical_state, read_model_dir
from tailwise.pipeline.lists import (
    COLD_HISTORY,
    EMPTY_HISTORY,
    FLAT_SCORES,
    UNKNOWN_USER,
    UserLists,
)
from tailwise.pipeline.query import (
    NO_QUERY_MATCH,
    QUERY_SEEDS,
    QueryResult,
    build_text_index,
    query_list,
    saved_query_map,
    user_query_lists,
)
from tailwise.ranking import Recommendations, history_row, mask_to, top_k
from tailwise.rerank import Exposure, RerankContext
from tailwise.rerank.vectors import svd_item_vectors
from tailwise.text.index import TextIndex, TextMatch

log = logging.getLogger(__name__)

@dataclass
class Pipeline:
    """A fitted model with everything needed to recommend by external ids.

    `head_share` sets which items the re-ranking stage counts as head (default 0.2).
    """

    model: Recommender
    users: IdMap
    items: IdMap
    history: sp.csr_matrix
    item_text: list[str]
    meta: dict
    #: ANN index of a dot-product model of a large catalogue (None: the model scores every
    #: item); see :func:`tailwise.index.pipeline_index`
    index: VectorIndex | None = field(default=None, repr=False, compare=False)
    head_share: float = 0.2
    _rerank_ctx: RerankContext | None = field(default=None, init=False, repr=False, compare=False)
    _text: TextIndex | None = field(default=None, init=False, repr=False, compare=False)
    _popularity: np.ndarray | None = field(default=None, init=False, repr=False, compare=False)
    #: the model directory this pipeline was loaded from (its saved BM25 index is read lazily)
    _source: Path | None = field(default=None, init=False, repr=False, compare=False)
    #: serialises the lazy builds (text index, re-ranking context) between threads
    _build_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    @classmethod
    def fit(cls, model: Recommender, dataset: Dataset, head_share: float = 0.2, memory_budget: int | None = None) -> Pipeline:
        """Fit `model` on `dataset` and keep what recommending by id needs.

        `memory_budget` (bytes; default a share of the machine's memory, see
        :mod:`tailwise.models.memory`) is the model's: a fit estimated above it raises
        :class:`~tailwise.errors.MemoryBudgetError` before it starts. The budget and what the
        fit chose (:meth:`Recommender.fit_info`) go into :attr:`meta`, so into the manifest."""
        t0 = time.perf_counter()
        model.fit(dataset, memory_budget=memory_budget)
        meta = {
            "fit_seconds": round(time.perf_counter() - t0, 3),
            "dataset": dataset.describe(),
            "memory_budget": model.memory_budget_,
            "fit_info": model.fit_info(),
        }
        index = pipeline_index(model)
        return cls(model, dataset.users, dataset.items, dataset.matrix(), dataset.texts(), meta, index=index, head_share=head_share)

    # ------------------------------------------------------------------ the chain
    def exposure(self, given: Exposure | None = None) -> Exposure:
        """The settings the re-ranking stage runs with: `given` when it names an active
        re-ranker, else the model's default exposure (with `given`'s candidates and seed)."""
        given = Exposure() if given is None else given
        if given.active:
            return given
        default = self.model.default_exposure()
        if default is None:
            return given
        return Exposure(**{"n_candidates": given.n_candidates, "seed": given.seed, **default})

    def run(self, users: np.ndarray, rows: sp.csr_matrix, k: int = 10, candidates: np.ndarray | None = None,
            exposure: Exposure | None = None, exclude_seen: bool = True) -> Recommendations:  # fmt: skip
        """Top-k for users given by index (``-1`` or unknown: folded in) and history rows, through
        every stage: candidates (exact or through the index), scoring, re-ranking, cut to k."""
        settings = self.exposure(exposure)
        reranker = settings.reranker()
        ctx = self.rerank_context() if reranker is not None else None
        return stages.run(self.model, self.index, users, rows, k, reranker, ctx, settings.n_candidates, candidates, exclude_seen)

    def candidates(self, users: np.ndarray, rows: sp.csr_matrix, k: int = 10, candidates: np.ndarray | None = None,
                   exposure: Exposure | None = None, exclude_seen: bool = True) -> Recommendations:  # fmt: skip
        """The first stage alone: each user's candidates for the re-ranker of `exposure` (its
        top-N and any pool it asks for; the top-k when no re-ranker runs). With :meth:`rerank`
        this is :meth:`run` in two calls, so a sweep can re-rank one candidate pass many times."""
        reranker = self.exposure(exposure).reranker()
        pools = stages.pools_for(reranker, k, self.exposure(exposure).n_candidates, self.rerank_context() if reranker else None)
        return stages.all_candidates(self.model, self.index, users, rows, pools, candidates, exclude_seen)

    def rerank(self, cands: Recommendations, rows: sp.csr_matrix, k: int, exposure: Exposure | None = None) -> Recommendations:
        """The re-ranking stage alone, over candidates from :meth:`candidates` for the same
        users and `exposure`; the top-k of the candidates when no re-ranker runs."""
        reranker = self.exposure(exposure).reranker()
        if reranker is None:
            return Recommendations(cands.items[:, :k], cands.scores[:, :k])
        return Recommendations(*reranker.rerank(cands.items, cands.scores, rows, k, self.rerank_context()))

    def fallback(self, k: int, candidates: np.ndarray | None = None, exclude: np.ndarray | None = None,
                 exposure: Exposure | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """The list of a user the model cannot rank items for: the `k` (at most the catalogue)
        most interacted-with training items within `candidates` and outside `exclude` (item
        indices, e.g. the user's history), with the item's training count as score. When
        `exposure` names an active re-ranker, it re-ranks that popularity list
        (:func:`~tailwise.pipeline.stages.rerank_fallback`)."""
        scores = mask_to(self.popularity()[None, :], candidates)
        if exclude is not None and len(exclude):
            scores = scores.copy()
            scores[0, np.asarray(exclude, dtype=np.int64)] = -np.inf
        reranker = exposure.reranker() if exposure is not None and exposure.active else None
        if reranker is not None:
            row = history_row(np.empty(0, np.int64) if exclude is None else np.asarray(exclude, np.int64), len(self.items))
            return stages.rerank_fallback(scores, reranker, self.rerank_context(), row, self.max_k(k), exposure.n_candidates)
        items, scores = top_k(scores, self.max_k(k))
        return items[0], scores[0]

    def popularity(self) -> np.ndarray:
        """Each item's number of training interactions (float32), computed once."""
        if self._popularity is None:
            self._popularity = np.asarray(self.history.sum(axis=0), dtype=np.float32).ravel()
        return self._popularity

    def max_k(self, k: int) -> int:
        """`k` cut to the catalogue size: no list is longer than the catalogue."""
        return max(1, min(int(k), len(self.items)))

    def _flat(self, users: np.ndarray, rows: sp.csr_matrix, recs: Recommendations, candidates: np.ndarray | None,
              exclude_seen: bool = True, always: bool = False) -> np.ndarray:  # fmt: skip
        """Which users' lists the model cannot rank: every item it may recommend to them (at
        least two) gets the same score. Only rows whose own list is all one score are scored
        again, unless `always`."""
        valid = recs.items >= 0
        top = np.where(valid, recs.scores, -np.inf).max(axis=1)
        low = np.where(valid, recs.scores, np.inf).min(axis=1)
        check = np.flatnonzero(valid.any(axis=1) & ((top == low) | always))
        flat = np.zeros(len(users), dtype=bool)
        for start in range(0, len(check), stages.BATCH):
            rows_in = check[start : start + stages.BATCH]
            (_, _, scores), = self.model.score_batches(users[rows_in], rows[rows_in], exclude_seen, candidates, batch_size=max(len(rows_in), 1))
            finite = np.isfinite(scores)
            hi = np.where(finite, scores, -np.inf).max(axis=1)
            lo = np.where(finite, scores, np.inf).min(axis=1)
            flat[rows_in] = (finite.sum(axis=1) >= 2) & (hi == lo)
        return flat

    def _why_flat(self, row: sp.csr_matrix) -> str:
        """The reason a history row got the fallback after :meth:`_flat`."""
        return COLD_HISTORY if not (self.popularity()[row.indices] > 0).any() else FLAT_SCORES

    # ------------------------------------------------------------------ by external ids
    def recommend(
        self, user_ids: list[str], k: int = 10, candidates: np.ndarray | None = None, exposure: Exposure | None = None, query: str | None = None
    ) -> UserLists:
        """Top-k (k cut to the catalogue size) for external user ids; training items are never
        recommended back. With a `query`, each user gets the items relevant to it first, in
        the order of the model's scores for that user (unknown users: the anonymous query
        list; see :mod:`tailwise.pipeline.query`).

        Unknown users, and users the model scores every item alike for, get :meth:`fallback`
        (not re-ranked), labelled in :attr:`UserLists.fallback`. `exposure` chooses the
        re-ranker (:class:`~tailwise.rerank.Exposure`; default: the model's own lists).
        """
        k = self.max_k(k)
        idx = self.users.indices(user_ids, missing=-1)
        if query is not None:
            items, scores, relevant = user_query_lists(self, idx, query, k, candidates, exposure)
            why = tuple(NO_QUERY_MATCH if u < 0 and not r else "" for u, r in zip(idx.tolist(), relevant.tolist()))
            return UserLists(list(map(str, user_ids)), items, scores, idx >= 0, why, relevant)
        known = idx >= 0
        items = np.full((len(user_ids), k), -1, dtype=np.int64)
        scores = np.full((len(user_ids), k), -np.inf, dtype=np.float32)
        why = np.where(known, "", UNKNOWN_USER).astype(object)
        if known.any():
            rows = self.history[idx[known]]
            recs = self.run(idx[known], rows, k, candidates, exposure)
            items[known], scores[known] = recs.items, recs.scores
            at = np.flatnonzero(known)
            for r in np.flatnonzero(self._flat(idx[known], rows, recs, candidates)).tolist():
                u = at[r]
                items[u], scores[u] = self.fallback(k, candidates, rows[r].indices)
                why[u] = self._why_flat(rows[r])
        if (~known).any():
            items[~known], scores[~known] = self.fallback(k, candidates)
        if (why != "").any():
            log.info("%d users got the popularity fallback", int((why != "").sum()))
        return UserLists(list(map(str, user_ids)), items, scores, known, tuple(why.tolist()))

    def recommend_history(self, item_ids: list[str], k: int = 10, candidates: np.ndarray | None = None, exposure: Exposure | None = None) -> UserLists:
        """Top-k for a new user given only a few item ids (fold-in, no refit).

        Unknown item ids raise KeyError naming the id; the history items are not recommended.
        An empty history, or one the model scores every item alike for, gets the labelled
        popularity fallback (see :class:`UserLists`).
        """
        recs, why = self._fold_in(self.items.indices(item_ids), k, candidates, exposure)
        return UserLists(["history"], recs.items, recs.scores, np.array([False]), (why,))

    def recommend_query(
        self, text: str, k: int = 10, candidates: np.ndarray | None = None, exposure: Exposure | None = None, seeds: int = QUERY_SEEDS
    ) -> UserLists:
        """Top-k for an anonymous free-text query: the relevant items first, the model's
        fold-in of the query's best `seeds` relevant items only reordering them (see
        :mod:`tailwise.pipeline.query`); a query that matches no item gets the labelled
        popularity fallback."""
        res = self.query(text, k, candidates, exposure, seeds=seeds)
        why = "" if res.n_relevant else NO_QUERY_MATCH
        return UserLists(["query"], res.recs.items, res.recs.scores, np.array([False]), (why,), np.array([res.n_relevant]))

    def query(
        self, text: str, k: int = 10, candidates: np.ndarray | None = None, exposure: Exposure | None = None,
        user: int = -1, history: np.ndarray | None = None, seeds: int = QUERY_SEEDS,
    ) -> QueryResult:  # fmt: skip
        """One list for a free-text query (see :mod:`tailwise.pipeline.query`): anonymous, for
        a training user (index `user`, its training row), or for an ad-hoc `history` (item
        indices, added to the user's row when both are given); those items are not
        recommended. `k` is cut to the catalogue size."""
        row = self.history[[user]] if user >= 0 else history_row(np.empty(0, np.int64), len(self.items))
        if history is not None and len(history):
            row = history_row(np.union1d(row.indices, np.asarray(history, dtype=np.int64)), len(self.items))
            user = -1
        return query_list(self, self.text_match(text, candidates), user, row, self.max_k(k), candidates, exposure, seeds)

    def fold_in(
        self,
        history: np.ndarray,
        query: str | None,
        k: int = 10,
        candidates: np.ndarray | None = None,
        exposure: Exposure | None = None,
        seeds: int = QUERY_SEEDS,
    ) -> tuple[Recommendations, np.ndarray]:
        """Top-k (one row) for an ad-hoc history (item indices) and/or a free-text query.

        With a query, the items relevant to it come first (see :mod:`tailwise.pipeline.query`):
        ordered by the model's fold-in of the history when one is given, else by the text
        ranking with the fold-in of the query's best `seeds` relevant items as a prior. The
        history items are never recommended. Without a query, the model folds the history in;
        when it cannot rank items for it (it is empty, or the model scores every item alike
        for it) the list is :meth:`fallback`. `k` is cut to the catalogue size. Returns the
        list and the query's seeds (for explanations).
        """
        if query:
            res = self.query(query, k, candidates, exposure, history=history, seeds=seeds)
            return res.recs, res.seeds
        recs, _ = self._fold_in(history, k, candidates, exposure)
        return recs, np.empty(0, np.int64)

    def _fold_in(self, history, k, candidates, exposure) -> tuple[Recommendations, str]:
        """:meth:`fold_in` without a query, plus why the list is the fallback (``""``: it is the model's)."""
        k = self.max_k(k)
        history = np.unique(np.asarray(history, dtype=np.int64))
        row = history_row(history, len(self.items))
        if not row.nnz:
            return self._fallback_list(k, candidates, history), EMPTY_HISTORY
        users = np.array([-1])
        recs = self.run(users, row, k, candidates, exposure)
        if self._flat(users, row, recs, candidates, always=True)[0]:
            return self._fallback_list(k, candidates, history), self._why_flat(row)
        return recs, ""

    def _fallback_list(self, k: int, candidates: np.ndarray | None, exclude: np.ndarray) -> Recommendations:
        items, scores = self.fallback(k, candidates, exclude)
        return Recommendations(items[None, :], scores[None, :])

    def text_match(self, query: str, candidates: np.ndarray | None = None) -> TextMatch:
        """The fused BM25 + dense text ranking of `query` within `candidates` and its relevant
        items (:meth:`TextIndex.match <tailwise.text.index.TextIndex.match>`)."""
        return self.text_index().match(query, candidates)

    def text_index(self) -> TextIndex:
        """The catalogue's text index (:func:`~tailwise.pipeline.query.build_text_index`), made
        on first use, kept and grown with the catalogue (:meth:`add_items`)."""
        if self._text is None:
            with self._build_lock:
                if self._text is None:
                    self._text = build_text_index(self)
        return self._text

    @property
    def has_text_index(self) -> bool:
        """Whether :meth:`text_index` was built (a copy grown from this pipeline keeps it)."""
        return self._text is not None

    # ------------------------------------------------------------------ re-ranking
    def rerank_context(self) -> RerankContext:
        """The re-rankers' view of the catalogue, built once and cached.

        Item popularity comes from the training history, the tail is
        :func:`~tailwise.data.popularity.tail_mask` (head = the `head_share` most popular
        items). Item vectors (MMR only) are loaded on first use: the model's text embeddings
        where it has a text side, otherwise SVD vectors of the training matrix.
        """
        if self._rerank_ctx is None:
            with self._build_lock:
                if self._rerank_ctx is None:
                    ctx = RerankContext.from_history(self.history, self.head_share)
                    self._rerank_ctx = RerankContext(ctx.item_pop, ctx.tail, loader=self._item_vectors)
        return self._rerank_ctx

    def _item_vectors(self) -> np.ndarray:
        if self.model.text_side() is not None and any(self.item_text):
            return self.text_index().emb
        return svd_item_vectors(self.history)

    # ------------------------------------------------------------------ new items
    def add_items(self, item_ids: list[str], texts: list[str]) -> tuple[int, int]:
        """Add items by their text, or give known items a new text; returns (added, updated).

        New ids are appended to the catalogue (the id map, the history's columns, the texts)
        and the model places them from their text at once (text-aware models; the others
        raise :class:`~tailwise.errors.ColdStartError` and nothing changes). A known id
        gets its new text re-embedded and keeps its interactions. For an id given twice the
        last text counts. All or nothing: the model is grown on a shallow copy that replaces
        it only when every step succeeded, and no array is written into, so a shallow copy of
        the pipeline (``copy.copy``) can be grown while the original keeps serving.
        """
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
        if self._text is not None:
            self._text = self._text.grown(text, np.asarray([j for j, _ in old], dtype=np.int64))
        self.model, self.item_text, self._rerank_ctx, self._popularity = model, text, None, None
        return len(new), len(old)

    # ------------------------------------------------------------------ persistence
    def save(self, directory: str | Path) -> Path:
        """Write the model directory atomically (see :mod:`tailwise.artifacts`), with the BM25
        index of the item texts (built now when no query built it), so that the first text
        query of a loaded pipeline does not tokenise the catalogue, and, for a model with a text
        side, the query map of text queries (fitted now when no query fitted it)."""
        h = self.history
        manifest = {"model": self.model.name, "params": self.model.get_params(), **self.meta}
        arrays = {
            "model": self.model.get_state(),
            "ids": {"users": self.users.ids, "items": self.items.ids},
            "history": {"indptr": h.indptr, "indices": h.indices, "data": h.data, "shape": np.asarray(h.shape)},
            LEXICAL.removesuffix(".npz"): lexical_state(self._text, self._source, self.item_text),
        }
        arrays.update(saved_query_map(self))
        # model.npz deflated: EASE's packed weights are 40% smaller, their last bits 75%
        target = artifacts.write_dir(directory, manifest, arrays, {"items.json": self.item_text}, compressed=("model",))
        save_pipeline_index(self.index, target)  # the ANN index, if any, goes to target/index
        if self._text is not None and self._text.dense is not None:  # the text embeddings' ANN index
            self._text.dense.sync(self._text.emb)  # items added since the last query join it
            save_text_vector_index(self._text.dense, target)
        return target

    @classmethod
    def load(cls, directory: str | Path) -> Pipeline:
        """Load a model directory written by :meth:`save`; no pickle is involved.

        Everything is checked before use (:func:`tailwise.pipeline.directory.read_model_dir`):
        a damaged directory is a :class:`~tailwise.errors.DataError` naming the file."""
        d = read_model_dir(directory)
        index = pipeline_index(d.model, directory)  # the saved ANN index, if any
        pipe = cls(d.model, d.users, d.items, d.history, d.item_text, d.meta, index=index)
        pipe._source = Path(directory)
        return pipe
