"""The trade-off sweep: one fit and one candidate pass per model, a re-rank per knob value, the
same lists as the two-stage recommend, and the Pareto front."""

from __future__ import annotations

import numpy as np
import pytest

from tailwise.data.splits import random_holdout
from tailwise.eval.evaluator import EvalContext, evaluate_model
from tailwise.eval.tradeoff import evaluate_reranked, mark_pareto, pareto, sweep
from tailwise.models import EASE, ItemKNN

METRICS = ("ndcg", "recall", "tail_recall", "coverage", "gini", "fit_s", "recommend_s", "rerank_s")


@pytest.fixture(scope="module")
def ctx(skewed) -> EvalContext:
    return EvalContext.build(random_holdout(skewed, 0.2, seed=1), k=10)


class CountingEASE(EASE):
    fits = 0

    def fit(self, dataset):
        type(self).fits += 1
        return super().fit(dataset)


def test_sweep_rows_fit_once_and_match_the_two_stage_path(ctx):
    steps = []
    CountingEASE.fits = 0
    rows = sweep([CountingEASE(l2=50.0), ItemKNN()], ctx, ["xquad", "calibrated"], [0.0, 0.5, 1.0], on_step=lambda *s: steps.append(s), n_candidates=40)
    assert CountingEASE.fits == 1
    assert len(rows) == 2 * 2 * 3 and len(steps) == 2 * (1 + 2 * 3)
    assert steps[0] == ("ease", "fit") and steps[1] == ("ease", "xquad", 0.0)
    assert [(r["model"], r["rerank"], r["tail_weight"]) for r in rows[:3]] == [("ease", "xquad", w) for w in (0.0, 0.5, 1.0)]
    for r in rows:
        assert all(m in r for m in METRICS)
    # weight 0 is the model's own top-k
    own = evaluate_model(EASE(l2=50.0), ctx)
    assert rows[0]["ndcg"] == pytest.approx(own["ndcg"]) and rows[0]["rerank_s"] == 0.0
    # a re-ranked point equals the two-stage recommend at the same settings
    two_stage = evaluate_reranked(EASE(l2=50.0), ctx, "xquad", 0.5, n_candidates=40)
    for m in ("ndcg", "tail_recall", "coverage"):
        assert rows[1][m] == pytest.approx(two_stage[m])
    assert two_stage["rerank"] == "xquad" and two_stage["tail_weight"] == 0.5
    # on popularity-biased data the tail-boosting knob trades NDCG for tail recall
    ease = [r for r in rows if r["model"] == "ease" and r["rerank"] == "xquad"]
    assert ease[2]["tail_recall"] > ease[0]["tail_recall"] and ease[2]["aplt"] > ease[0]["aplt"]


def test_sweep_checks_names_and_weights_before_fitting(ctx):
    CountingEASE.fits = 0
    with pytest.raises(ValueError, match="choose from"):
        sweep([CountingEASE()], ctx, ["xquad", "nope"], [0.5])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        sweep([CountingEASE()], ctx, ["xquad"], [0.5, 2.0])
    assert CountingEASE.fits == 0


def test_pareto_front():
    # (tail recall, ndcg): b and d tie on both and are kept; c is beaten by b; e has NaN
    x = [0.10, 0.20, 0.15, 0.20, np.nan]
    y = [0.40, 0.30, 0.20, 0.30, 0.9]
    assert pareto(x, y).tolist() == [True, True, False, True, False]
    rows = mark_pareto([{"ndcg": 0.4, "tail_recall": 0.1, "coverage": 0.5}, {"ndcg": 0.3, "tail_recall": 0.05, "coverage": 0.6}])
    assert [(r["pareto_tail"], r["pareto_coverage"]) for r in rows] == [(True, True), (False, True)]
