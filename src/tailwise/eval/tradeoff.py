"""The accuracy-tail trade-off of one fitted pipeline: re-rankers x knob values on one split.

Each re-ranker gets one candidate pass (:meth:`Pipeline.candidates`) and each knob value only a
re-ranking of it (:meth:`Pipeline.rerank`), so a sweep costs one fit per model (done by the
experiment runner, :mod:`tailwise.eval.runner`), one candidate pass per re-ranker and a cheap
re-rank per point. Knob value 0 is the model's own lists with its default exposure (the
hybrid's tail slots), where every re-ranker's line starts. Rows are what
:meth:`EvalContext.score` measures, labelled with the model, the re-ranker and the tail weight,
plus timings; :func:`mark_pareto` marks the frontier.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

import numpy as np

from tailwise.eval.evaluator import EvalContext, score_pipeline
from tailwise.pipeline import Pipeline
from tailwise.rerank import Exposure

log = logging.getLogger(__name__)

#: the default knob values of a sweep
DEFAULT_WEIGHTS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
#: the labels of a row (the rest are metrics and timings)
LABELS = ("model", "rerank", "tail_weight")


def sweep_pipeline(
    pipe: Pipeline,
    ctx: EvalContext,
    rerankers: Sequence[str],
    weights: Sequence[float],
    exposure: Exposure | None = None,
    own: dict | None = None,
    on_point: Callable[[str, float], None] | None = None,
) -> list[dict]:
    """Score a fitted pipeline's lists with every re-ranker at every knob value.

    Parameters
    ----------
    pipe : Pipeline
        Fitted on the context's train side (:func:`~tailwise.eval.evaluator.fit_pipeline`).
    ctx : EvalContext
        The split and the cutoff k.
    rerankers : list of str
        Names from :data:`tailwise.rerank.RERANKERS`.
    weights : list of float
        Knob values in [0, 1]; 0 is the model's own lists.
    exposure : Exposure, optional
        Candidates per user (``n_candidates``) and ``seed`` of every point; its re-ranker is
        ignored.
    own : dict, optional
        The row of the model's own lists (:func:`~tailwise.eval.evaluator.score_pipeline`
        without a re-ranker), when already scored; computed here otherwise.
    on_point : callable, optional
        Called as ``on_point(rerank, tail_weight)`` before each point (a progress bar).

    Returns
    -------
    list of dict
        One row per (re-ranker, weight): ``model``, ``rerank``, ``tail_weight``, every metric
        of :meth:`EvalContext.score`, ``fit_s``, ``recommend_s`` (the model's own lists at
        weight 0, else the candidate pass plus the re-ranking) and ``rerank_s``.
    """
    base = Exposure() if exposure is None else exposure
    points = [(Exposure(name, w, base.n_candidates, base.seed, base.head_share), float(w)) for name in rerankers for w in weights]
    if own is None and any(not ex.active for ex, _ in points):
        own = score_pipeline(pipe, ctx, base.replace(rerank=None, tail_weight=0.0))[1]
    rows: list[dict] = []
    cands: dict[str, tuple] = {}  # re-ranker -> (candidates, seconds): one pass per re-ranker
    for ex, w in points:
        if on_point is not None:
            on_point(ex.rerank, w)
        label = {"model": pipe.model.name, "rerank": ex.rerank, "tail_weight": w}
        if not ex.active:
            rest = {k: v for k, v in own.items() if k not in LABELS}
            rows.append({**label, **rest, "rerank_s": 0.0})
            continue
        if ex.rerank not in cands:  # a re-ranker's candidate pools do not depend on its knob
            t0 = time.perf_counter()
            cands[ex.rerank] = (pipe.candidates(ctx.users, ctx.history, ctx.k, ctx.candidates, ex), time.perf_counter() - t0)
            if ex.rerank == "mmr":
                pipe.rerank_context().vectors()  # loading the vectors is a one-off, not re-ranking time
        first, cand_s = cands[ex.rerank]
        t0 = time.perf_counter()
        recs = pipe.rerank(first, ctx.history, ctx.k, ex)
        rerank_s = time.perf_counter() - t0
        scores = ctx.score(recs)
        fit_s = float(pipe.meta.get("fit_seconds", np.nan))
        rows.append({**label, **scores, "fit_s": fit_s, "recommend_s": cand_s + rerank_s, "rerank_s": rerank_s})
        log.info("%s + %s @ %.2f: ndcg=%.4f tail_recall=%.4f", pipe.model.name, ex.rerank, w, scores["ndcg"], scores["tail_recall"])
    return rows


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
