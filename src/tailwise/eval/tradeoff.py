"""The accuracy-tail trade-off: models x re-rankers x knob values on one split.

Each model is fitted once and asked once for its top-N candidates; only the re-ranking varies
per knob value, so a sweep costs one fit and one candidate pass per model plus a cheap re-rank
per point. Rows are what :meth:`EvalContext.score` measures, labelled with the model, the
re-ranker and the tail weight, plus timings; :func:`pareto` marks the frontier.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from tailwise.eval.evaluator import EvalContext
from tailwise.models.base import Recommender
from tailwise.ranking import Recommendations
from tailwise.rerank import RerankContext, Reranker, item_vector_loader, make_reranker

log = logging.getLogger(__name__)

#: the default knob values of a sweep
DEFAULT_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)


def rerank_context(model: Recommender, ctx: EvalContext) -> RerankContext:
    """The re-rankers' context on a split: popularity and tail as the evaluation counts them,
    item vectors (MMR) from the model's text side or the training matrix, loaded on first use."""
    train = ctx.split.train
    loader = item_vector_loader(model, train.texts(), train.matrix())
    return RerankContext(ctx.item_pop, ctx.tail, loader=loader)


def evaluate_reranked(
    model: Recommender,
    ctx: EvalContext,
    rerank: str | None,
    tail_weight: float,
    n_candidates: int = 300,
    seed: int = 0,
    fit: bool = True,
) -> dict:
    """Like :func:`~tailwise.eval.evaluator.evaluate_model`, through the two-stage recommend.

    The row adds ``rerank`` and ``tail_weight``; ``recommend_s`` covers both stages.
    """
    reranker = make_reranker(rerank, tail_weight, seed=seed)
    t0 = time.perf_counter()
    if fit:
        model.fit(ctx.split.train)
    fit_s = time.perf_counter() - t0
    extra = {} if reranker is None else {"rerank": reranker, "rerank_ctx": rerank_context(model, ctx), "n_candidates": n_candidates}
    t0 = time.perf_counter()
    recs = model.recommend(ctx.users, ctx.history, k=ctx.k, candidates=ctx.candidates, **extra)
    rec_s = time.perf_counter() - t0
    label = {"model": model.name, "rerank": rerank or "none", "tail_weight": float(tail_weight)}
    return {**label, **ctx.score(recs), "fit_s": fit_s, "recommend_s": rec_s}


def sweep(
    models: Iterable[Recommender],
    ctx: EvalContext,
    rerankers: Sequence[str],
    weights: Sequence[float] = DEFAULT_WEIGHTS,
    on_step: Callable[..., None] | None = None,
    n_candidates: int = 300,
    seed: int = 0,
) -> list[dict]:
    """Evaluate every model with every re-ranker at every knob value.

    Parameters
    ----------
    models : iterable of Recommender
        Unfitted models; each is fitted once on the split's train side.
    ctx : EvalContext
        The split and the cutoff k.
    rerankers : list of str
        Names from :data:`tailwise.rerank.RERANKERS`.
    weights : list of float
        Knob values in [0, 1]; 0 is the model's own top-k (each re-ranker's line starts there).
    on_step : callable, optional
        Called as ``on_step(model_name, stage)`` before fitting (``"fit"``) and as
        ``on_step(model_name, rerank, tail_weight)`` before each point, e.g. for a progress bar.
    n_candidates : int
        Top-N candidates per user that the re-rankers choose from (default 300).
    seed : int
        Seed of the stochastic re-ranker.

    Returns
    -------
    list of dict
        One row per (model, re-ranker, weight): ``model``, ``rerank``, ``tail_weight``, every
        metric of :meth:`EvalContext.score`, ``fit_s``, ``recommend_s`` (the model's own top-k
        at weight 0, else the candidate pass plus the re-ranking) and ``rerank_s``.
    """
    rerankers = [r.strip().lower() for r in rerankers]
    weights = [float(w) for w in weights]
    for name in rerankers:  # bad names or weights fail before any fitting
        for w in weights:
            make_reranker(name, w)
    rows: list[dict] = []
    for model in models:
        if on_step is not None:
            on_step(model.name, "fit")
        t0 = time.perf_counter()
        model.fit(ctx.split.train)
        fit_s = time.perf_counter() - t0
        own, own_s = _timed(model.recommend, ctx.users, ctx.history, k=ctx.k, candidates=ctx.candidates)
        own_scores = ctx.score(own)
        n = max(n_candidates, ctx.k)
        rctx = rerank_context(model, ctx)
        first = {"rerank": TopN(), "rerank_ctx": rctx, "n_candidates": n}  # stage one of recommend
        cands, cand_s = _timed(model.recommend, ctx.users, ctx.history, k=n, candidates=ctx.candidates, **first)
        for name in rerankers:
            for w in weights:
                if on_step is not None:
                    on_step(model.name, name, w)
                label = {"model": model.name, "rerank": name, "tail_weight": w}
                reranker = make_reranker(name, w, seed=seed)
                if reranker is None:
                    rows.append({**label, **own_scores, "fit_s": fit_s, "recommend_s": own_s, "rerank_s": 0.0})
                    continue
                if name == "mmr":
                    rctx.vectors()  # loading the vectors is a one-off, not re-ranking time
                recs, rerank_s = _timed(_rerank, reranker, cands, ctx, rctx)
                scores = ctx.score(recs)
                rows.append({**label, **scores, "fit_s": fit_s, "recommend_s": cand_s + rerank_s, "rerank_s": rerank_s})
                log.info("%s + %s @ %.2f: ndcg=%.4f tail_recall=%.4f", model.name, name, w, scores["ndcg"], scores["tail_recall"])
    return rows


class TopN(Reranker):
    """The first stage alone: keeps the top-N candidates as they are (how the sweep reuses
    one candidate pass for every knob value)."""

    name = "topn"

    def __init__(self) -> None:
        super().__init__(tail_weight=0.0)

    def _rerank(self, items, scores, valid, rows, k, ctx) -> np.ndarray:
        return np.where(valid[:, :k], np.arange(k)[None, :], -1)


def _rerank(reranker, cands: Recommendations, ctx: EvalContext, rctx: RerankContext) -> Recommendations:
    items, scores = reranker.rerank(cands.items, cands.scores, ctx.history, ctx.k, rctx)
    return Recommendations(items, scores)


def _timed(fn: Callable[..., Recommendations], *args, **kwargs) -> tuple[Recommendations, float]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - t0


def pareto(x: Sequence[float], y: Sequence[float]) -> np.ndarray:
    """Mask of the points no other point beats on both axes (higher is better on each).

    A point is dominated when another is at least as good on both and better on one; equal
    points are all kept. NaN points are never on the front.

    Examples
    --------
    >>> pareto([0.1, 0.2, 0.15, 0.2], [0.4, 0.3, 0.2, 0.3]).tolist()
    [True, True, False, True]
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    front = np.zeros(len(x), dtype=bool)
    for i in np.flatnonzero(ok):
        better = ok & (x >= x[i]) & (y >= y[i]) & ((x > x[i]) | (y > y[i]))
        front[i] = not better.any()
    return front


def mark_pareto(rows: list[dict]) -> list[dict]:
    """Rows with two frontier flags: ``pareto_tail`` (NDCG vs tail recall) and
    ``pareto_coverage`` (NDCG vs catalogue coverage)."""
    ndcg = [r.get("ndcg", np.nan) for r in rows]
    tail = pareto([r.get("tail_recall", np.nan) for r in rows], ndcg)
    cover = pareto([r.get("coverage", np.nan) for r in rows], ndcg)
    return [{**r, "pareto_tail": bool(t), "pareto_coverage": bool(c)} for r, t, c in zip(rows, tail, cover)]
