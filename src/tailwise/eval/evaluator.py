"""What a model is judged against on one split, and how one fitted pipeline's lists are scored.

:class:`EvalContext` holds a split's evaluated users, their training rows and held-out truth,
the training popularity and the tail; :meth:`EvalContext.score` averages every metric of
:mod:`tailwise.metrics` over a batch of lists. :func:`fit_pipeline` and
:func:`score_pipeline` are the two steps the experiment runner (:mod:`tailwise.eval.runner`)
takes per model and split: the lists always come from the :class:`~tailwise.pipeline.Pipeline`,
so a model keeps its default exposure (the hybrid's tail slots) exactly as it does when serving.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tailwise import metrics as M
from tailwise.data.popularity import tail_mask
from tailwise.data.splits import Split
from tailwise.models.base import Recommender
from tailwise.pipeline import Pipeline
from tailwise.ranking import Recommendations
from tailwise.rerank import Exposure

log = logging.getLogger(__name__)

#: metric columns in the order they are printed
ACCURACY = ("recall", "precision", "ndcg", "hit_rate", "mrr")
LONG_TAIL = (
    "tail_recall", "head_recall", "coverage", "tail_coverage", "aplt", "arp", "gini",
    "novelty", "diversity",
)  # fmt: skip


@dataclass(frozen=True)
class EvalContext:
    """What every model is judged against on one split: test users, truth, popularity groups."""

    split: Split
    k: int
    users: np.ndarray  # evaluated user indices
    history: sp.csr_matrix  # their training rows
    truth: sp.csr_matrix  # their held-out rows
    item_pop: np.ndarray  # training interaction counts per item
    tail: np.ndarray  # bool per item
    cold: np.ndarray  # bool per item: no training interaction
    candidates: np.ndarray | None
    item_vectors: sp.csr_matrix  # for intra-list diversity
    head_share: float = 0.2  # share of items counted as head (the complement of `tail`)

    @classmethod
    def build(
        cls,
        split: Split,
        k: int = 20,
        head_share: float = 0.2,
        candidates: np.ndarray | None = None,
        item_vectors: np.ndarray | sp.spmatrix | None = None,
    ) -> EvalContext:
        """Judge users with at least one held-out and one training interaction.

        For a cold-item split the candidates default to the held-out items, so models rank only
        among them.
        """
        train, test = split.train.matrix(), split.test.matrix()
        users = np.flatnonzero((np.diff(test.indptr) > 0) & (np.diff(train.indptr) > 0))
        if len(users) == 0:
            raise ValueError(f"split {split.name!r} leaves no user with both train and test data")
        if candidates is None and split.cold_items is not None:
            candidates = split.cold_items
        item_pop = split.train.item_counts
        return cls(
            split=split,
            k=k,
            users=users,
            history=train[users],
            truth=test[users],
            item_pop=item_pop,
            tail=tail_mask(item_pop, head_share),
            cold=item_pop == 0,
            candidates=candidates,
            item_vectors=sp.csr_matrix(train.T) if item_vectors is None else item_vectors,
            head_share=head_share,
        )

    def score(self, recs: Recommendations) -> dict[str, float]:
        """Every metric for a batch of lists, averaged over the evaluated users."""
        r, t, k = recs.items, self.truth, self.k
        n_items = len(self.item_pop)
        n_users = self.split.train.n_users
        per_user = {
            "recall": M.recall(r, t, k),
            "precision": M.precision(r, t, k),
            "ndcg": M.ndcg(r, t, k),
            "hit_rate": M.hit_rate(r, t, k),
            "mrr": M.mrr(r, t, k),
            "tail_recall": M.tail_recall(r, t, self.tail, k),
            "head_recall": M.head_recall(r, t, self.tail, k),
            "aplt": M.aplt(r, self.tail, k),
            "arp": M.arp(r, self.item_pop, k),
            "novelty": M.novelty(r, self.item_pop, n_users, k),
            "diversity": M.intra_list_diversity(r, self.item_vectors, k),
        }
        out = {name: _nanmean(v) for name, v in per_user.items()}
        catalogue = n_items if self.candidates is None else len(self.candidates)
        out["coverage"] = M.catalog_coverage(r, catalogue, k)
        out["tail_coverage"] = M.tail_coverage(r, self._tail_in_candidates(), k)
        out["gini"] = M.gini(r, n_items, k)
        if self.cold.any() and t[:, self.cold].nnz:
            out["cold_recall"] = _nanmean(M.cold_recall(r, t, self.cold, k))
        return out

    def _tail_in_candidates(self) -> np.ndarray:
        if self.candidates is None:
            return self.tail
        tail = np.zeros_like(self.tail)
        tail[self.candidates] = self.tail[self.candidates]
        return tail


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


def fit_pipeline(model: Recommender, ctx: EvalContext, memory_budget: int | None = None) -> Pipeline:
    """Fit `model` on the split's train side through :meth:`Pipeline.fit`, with the context's
    head share (so the re-rankers' tail is the tail the metrics count) and `memory_budget`
    (bytes; default a share of the machine's memory); the fit time is in
    ``pipe.meta["fit_seconds"]``."""
    return Pipeline.fit(model, ctx.split.train, head_share=ctx.head_share, memory_budget=memory_budget)


def score_pipeline(pipe: Pipeline, ctx: EvalContext, exposure: Exposure | None = None) -> tuple[Recommendations, dict]:
    """The top-k lists of the context's users through every stage of `pipe`, and their row.

    Parameters
    ----------
    pipe : Pipeline
        A pipeline fitted on ``ctx.split.train`` (:func:`fit_pipeline`).
    ctx : EvalContext
        The users, their histories, the cutoff k and the candidate whitelist.
    exposure : Exposure, optional
        The re-ranking stage's settings; default (or a knob of 0): the model's own lists,
        shaped by its default exposure.

    Returns
    -------
    recs : Recommendations
        One row per user of ``ctx.users``.
    row : dict
        ``model``, then ``rerank`` and ``tail_weight`` when `exposure` names a re-ranker, every
        metric of :meth:`EvalContext.score`, ``fit_s`` and ``recommend_s`` (every stage).
    """
    exposure = Exposure() if exposure is None else exposure
    t0 = time.perf_counter()
    recs = pipe.run(ctx.users, ctx.history, ctx.k, ctx.candidates, exposure)
    rec_s = time.perf_counter() - t0
    label: dict = {"model": pipe.model.name}
    if exposure.rerank is not None:
        label.update(rerank=exposure.rerank, tail_weight=exposure.tail_weight)
    row = {**label, **ctx.score(recs), "fit_s": float(pipe.meta.get("fit_seconds", np.nan)), "recommend_s": rec_s}
    log.info("%s: ndcg@%d=%.4f", pipe.model.name, ctx.k, row["ndcg"])
    return recs, row


def evaluate_model(model: Recommender, ctx: EvalContext, exposure: Exposure | None = None) -> dict:
    """Fit `model` on the split's train side and score its lists: the row of
    :func:`score_pipeline` (a one-model shortcut of :func:`tailwise.eval.runner.run`)."""
    return score_pipeline(fit_pipeline(model, ctx), ctx, exposure)[1]
