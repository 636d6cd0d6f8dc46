"""The trade-off sweep: one fit per model, one candidate pass per re-ranker, a re-rank per knob
value, the same lists as the pipeline's two stages in one call, and the Pareto front."""

from __future__ import annotations

import numpy as np
import pytest

from tailwise.data.splits import random_holdout
from tailwise.eval.evaluator import EvalContext, fit_pipeline, score_pipeline
from tailwise.eval.runner import Experiment, ModelSpec, SplitSpec, SweepSpec, run
from tailwise.eval.tradeoff import mark_pareto, pareto, sweep_pipeline
from tailwise.models import EASE
from tailwise.pipeline import Pipeline
from tailwise.rerank import Exposure

METRICS = ("ndcg", "recall", "tail_recall", "coverage", "gini", "fit_s", "recommend_s", "rerank_s")


@pytest.fixture(scope="module")
def ctx(skewed) -> EvalContext:
    return EvalContext.build(random_holdout(skewed, 0.2, seed=1), k=10)


class TailEASE(EASE):
    """EASE with the hybrid's kind of default exposure: calibrated tail slots."""

    def default_exposure(self) -> dict[str, object]:
        return {"rerank": "tailslots", "tail_weight": 0.8}


def test_sweep_rows_fit_once_and_match_the_two_stage_path(skewed, ctx, monkeypatch):
    fits, steps = [], []
    original = EASE.fit
    monkeypatch.setattr(EASE, "fit", lambda self, ds, **kw: fits.append(1) or original(self, ds, **kw))
    exp = Experiment(
        (ModelSpec("ease", {"l2": 50.0}), ModelSpec("itemknn")), SplitSpec("random", 0.2, seed=1), k=10,
        exposure=Exposure(n_candidates=40), sweep=SweepSpec(("xquad", "calibrated"), (0.0, 0.5, 1.0)),
    )  # fmt: skip
    rows = run(exp, skewed, on_step=lambda *s: steps.append(s)).tradeoff
    assert len(fits) == 1
    assert len(rows) == 2 * 2 * 3 and len(steps) == 1 + exp.n_steps == 1 + 2 * (1 + 2 * 3)
    assert steps[1][0] == "Fitting and scoring ease" and "xquad at tail weight 0" in steps[2][0]
    assert [s[1] for s in steps[1:]] == list(range(exp.n_steps)) and {s[2] for s in steps} == {exp.n_steps}
    assert [(r["model"], r["rerank"], r["tail_weight"]) for r in rows[:3]] == [("ease", "xquad", w) for w in (0.0, 0.5, 1.0)]
    for r in rows:
        assert all(m in r for m in METRICS)
    # weight 0 is the model's own top-k
    pipe = fit_pipeline(EASE(l2=50.0), ctx)
    own = score_pipeline(pipe, ctx)[1]
    assert rows[0]["ndcg"] == pytest.approx(own["ndcg"]) and rows[0]["rerank_s"] == 0.0
    # a re-ranked point equals the pipeline's two stages run in one call at the same settings
    _, two_stage = score_pipeline(pipe, ctx, Exposure("xquad", 0.5, n_candidates=40))
    for m in ("ndcg", "tail_recall", "coverage"):
        assert rows[1][m] == pytest.approx(two_stage[m])
    assert two_stage["rerank"] == "xquad" and two_stage["tail_weight"] == 0.5
    # on popularity-biased data the tail-boosting knob trades NDCG for tail recall
    ease = [r for r in rows if r["model"] == "ease" and r["rerank"] == "xquad"]
    assert ease[2]["tail_recall"] > ease[0]["tail_recall"] and ease[2]["aplt"] > ease[0]["aplt"]


def test_one_candidate_pass_per_reranker(ctx, monkeypatch):
    calls = []
    original = Pipeline.candidates
    monkeypatch.setattr(Pipeline, "candidates", lambda self, *a, **kw: calls.append(a[-1].rerank) or original(self, *a, **kw))
    pipe = fit_pipeline(EASE(l2=50.0), ctx)
    rows = sweep_pipeline(pipe, ctx, ["xquad", "mmr"], [0.0, 0.3, 0.6, 1.0], Exposure(n_candidates=40))
    assert calls == ["xquad", "mmr"]
    assert len(rows) == 8 and rows[4]["rerank"] == "mmr" and rows[4]["tail_weight"] == 0.0
    for r in rows:
        if r["tail_weight"] > 0:
            assert r["recommend_s"] >= r["rerank_s"] > 0


def test_weight_zero_keeps_the_models_default_exposure(ctx):
    """The hybrid's tail slots are its default exposure: the sweep starts from them, and the
    re-rankers choose from plain top-N candidates (not from the tail-slot lists)."""
    pipe = fit_pipeline(TailEASE(l2=50.0), ctx)
    rows = sweep_pipeline(pipe, ctx, ["xquad"], [0.0, 0.5], Exposure(n_candidates=40))
    slotted = score_pipeline(pipe, ctx)[1]
    plain = score_pipeline(fit_pipeline(EASE(l2=50.0), ctx), ctx)[1]
    assert slotted["aplt"] > plain["aplt"], "the default exposure brings tail items in"
    assert rows[0]["aplt"] == pytest.approx(slotted["aplt"]) and rows[0]["ndcg"] == pytest.approx(slotted["ndcg"])
    reranked = score_pipeline(fit_pipeline(EASE(l2=50.0), ctx), ctx, Exposure("xquad", 0.5, n_candidates=40))[1]
    assert rows[1]["ndcg"] == pytest.approx(reranked["ndcg"]) and rows[1]["aplt"] == pytest.approx(reranked["aplt"])


def test_sweep_checks_names_and_weights_before_fitting():
    with pytest.raises(ValueError, match="choose from"):
        SweepSpec(("xquad", "nope"), (0.5,))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        SweepSpec(("xquad",), (0.5, 2.0))
    with pytest.raises(ValueError, match="one split"):
        Experiment((ModelSpec("ease"),), SplitSpec("kfold"), sweep=SweepSpec(("xquad",)))


def test_pareto_front():
    # (tail recall, ndcg): b and d tie on both and are kept; c is beaten by b; e has NaN
    x = [0.10, 0.20, 0.15, 0.20, np.nan]
    y = [0.40, 0.30, 0.20, 0.30, 0.9]
    assert pareto(x, y).tolist() == [True, True, False, True, False]
    rows = mark_pareto([{"ndcg": 0.4, "tail_recall": 0.1, "coverage": 0.5}, {"ndcg": 0.3, "tail_recall": 0.05, "coverage": 0.6}])
    assert [(r["pareto_tail"], r["pareto_coverage"]) for r in rows] == [(True, True), (False, True)]
