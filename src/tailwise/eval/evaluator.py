"""Fit models on a split and measure accuracy and long-tail quality side by side."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from tailwise.data.popularity import tail_mask
from tailwise.data.splits import Split
from tailwise.eval import metrics as M
from tailwise.models.base import Recommender
from tailwise.ranking import Recommendations

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


def evaluate_model(
    model: Recommender,
    ctx: EvalContext,
    fit: bool = True,
    on_recs: Callable[[Recommendations], None] | None = None,
) -> dict[str, float]:
    """Fit `model` on the split's train side (unless `fit` is false) and score its top-k lists.

    `on_recs`, when given, receives the lists (one row per user of ``ctx.users``) before they
    are scored, e.g. for the report's exposure and bucket figures.
    """
    t0 = time.perf_counter()
    if fit:
        model.fit(ctx.split.train)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    recs = model.recommend(ctx.users, ctx.history, k=ctx.k, candidates=ctx.candidates)
    rec_s = time.perf_counter() - t0
    if on_recs is not None:
        on_recs(recs)
    row = {"model": model.name, **ctx.score(recs), "fit_s": fit_s, "recommend_s": rec_s}
    log.info("%s: ndcg@%d=%.4f fit %.1fs", model.name, ctx.k, row["ndcg"], fit_s)
    return row


def evaluate(
    models: Iterable[Recommender],
    ctx: EvalContext,
    on_model: Callable[[str], None] | None = None,
) -> list[dict[str, float]]:
    """One result row per model, in order; `on_model` is called with each name as it starts."""
    rows = []
    for model in models:
        if on_model is not None:
            on_model(model.name)
        rows.append(evaluate_model(model, ctx))
    return rows
