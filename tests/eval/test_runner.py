"""The experiment runner: frozen specs in, results out; and evaluate, tradeoff, report and demo as
thin shells over it (the same specification gives the same numbers in every command)."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest

from tailwise.cli.main import main
from tailwise.data.splits import k_fold, random_holdout
from tailwise.eval import runner as R
from tailwise.eval.evaluator import ACCURACY, LONG_TAIL, EvalContext, evaluate_model, fit_pipeline
from tailwise.eval.runner import Experiment, ModelSpec, SplitSpec, SweepSpec, run
from tailwise.models import EASE, ItemKNN, Popular
from tailwise.rerank import Exposure
from tailwise.testing.contract import random_dataset

METRICS = (*ACCURACY, *LONG_TAIL)


@pytest.fixture(scope="module")
def ds():
    return random_dataset(80, 50, density=0.15, seed=7)


def same_metrics(a: dict, b: dict) -> bool:
    return all(a[m] == pytest.approx(b[m], nan_ok=True) for m in METRICS)


# ---------------------------------------------------------------------------------- specs
def test_model_spec_checks_at_once_and_builds_fresh_models():
    spec = ModelSpec("ease", {"l2": 10.0})
    a, b = spec.build(), spec.build()
    assert isinstance(a, EASE) and a is not b and a.l2 == 10.0
    assert spec == ModelSpec("ease", {"l2": 10.0}) and hash(spec) == hash(ModelSpec("ease", {"l2": 10.0}))
    with pytest.raises(TypeError):
        spec.params["l2"] = 1.0  # frozen all the way down
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        ModelSpec("nope")
    with pytest.raises(ValueError, match="no parameter 'l3'"):
        ModelSpec("ease", {"l3": 1.0})


def test_split_spec(ds):
    assert SplitSpec().n_splits == 1 and SplitSpec("kfold", folds=3).n_splits == 3
    (split,) = SplitSpec("random", 0.3, seed=2).make(ds)
    assert split.test.n_interactions == random_holdout(ds, 0.3, seed=2).test.n_interactions
    assert [s.name for s in SplitSpec("kfold", folds=3, seed=1).make(ds)] == [s.name for s in k_fold(ds, 3, 1)]
    with pytest.raises(ValueError, match="unknown split 'daily'"):
        SplitSpec("daily")
    with pytest.raises(ValueError, match="folds must be at least 2"):
        SplitSpec("kfold", folds=1)


def test_sweep_spec_normalises_and_checks():
    sweep = SweepSpec((" XQuAD", "mmr"), (0, 1), models=["ease"])
    assert sweep.rerankers == ("xquad", "mmr") and sweep.weights == (0.0, 1.0) and sweep.models == ("ease",)
    assert sweep.covers("ease") and not sweep.covers("popular") and SweepSpec(("mmr",)).covers("popular")
    assert sweep.n_points == 4
    for bad, message in [((), "at least one re-ranker"), (("shuffle",), "unknown re-ranker 'shuffle'")]:
        with pytest.raises(ValueError, match=message):
            SweepSpec(bad, (0.5,))
    with pytest.raises(ValueError, match="at least one tail weight"):
        SweepSpec(("xquad",), ())


def test_experiment_checks_and_counts_steps():
    models = (ModelSpec("popular"), ModelSpec("ease"), ModelSpec("itemknn"))
    assert Experiment(models).n_steps == 3
    assert Experiment(models, SplitSpec("kfold", folds=4)).n_steps == 12
    swept = Experiment(models, sweep=SweepSpec(("xquad", "mmr"), (0, 0.5, 1), models=("ease", "itemknn")))
    assert [m.name for m in swept.swept()] == ["ease", "itemknn"] and swept.n_steps == 3 + 2 * 6
    with pytest.raises(ValueError, match="at least one model"):
        Experiment(())
    with pytest.raises(ValueError, match="k must be at least 1"):
        Experiment(models, k=0)
    with pytest.raises(ValueError, match="head_share"):
        Experiment(models, head_share=1.5)


# ---------------------------------------------------------------------------------- run
def test_run_rows_runs_and_progress(ds):
    steps = []
    exp = Experiment((ModelSpec("popular"), ModelSpec("ease", {"l2": 10.0})), SplitSpec("random", 0.2, seed=3), k=5)
    res = run(exp, ds, on_step=lambda *s: steps.append(s))
    assert [s[0] for s in steps] == ["Splitting", "Fitting and scoring popular", "Fitting and scoring ease"]
    assert [s[1:] for s in steps] == [(0, 2), (0, 2), (1, 2)]
    assert [r["model"] for r in res.rows] == [r.name for r in res.runs] == ["popular", "ease"]
    assert res.dataset == ds.name and res.split == res.ctx.split.name == "random-0.2" and res.tradeoff == []
    assert all(r["dataset"] == ds.name and r["split"] == res.split for r in res.rows)
    ctx = EvalContext.build(random_holdout(ds, 0.2, seed=3), k=5)
    for run_, model in zip(res.runs, (Popular(), EASE(l2=10.0))):
        assert run_.items.shape == (len(res.ctx.users), 5)
        assert same_metrics(run_.row, evaluate_model(model, ctx)), "the runner scores as the evaluator does"
        assert {**run_.row, "dataset": ds.name, "split": res.split} == next(r for r in res.rows if r["model"] == run_.name)


def test_memory_budget_reaches_every_fit_and_refuses_before_any(ds, monkeypatch):
    from tailwise.errors import MemoryBudgetError

    with pytest.raises(ValueError, match="memory_budget must be above 0"):
        Experiment((ModelSpec("popular"),), memory_budget=0)
    fitted = []
    monkeypatch.setattr(R, "fit_pipeline", lambda model, ctx, budget: fitted.append(model.name) or fit_pipeline(model, ctx, budget))
    models = (ModelSpec("popular"), ModelSpec("ease", {"l2": 10.0}))
    with pytest.raises(MemoryBudgetError, match="ease needs about .* above the memory budget of 1.0 kB"):
        run(Experiment(models, k=5, memory_budget=1000), ds)
    assert fitted == [], "no model is fitted when one of them is above the budget"
    res = run(Experiment(models, k=5, memory_budget=10**9), ds)
    assert fitted == ["popular", "ease"] and len(res.rows) == 2


def test_head_share_reaches_metrics_and_rerankers(ds):
    exp = Experiment((ModelSpec("itemknn"),), k=5, head_share=0.4)
    res = run(exp, ds)
    assert res.ctx.head_share == 0.4
    pipe = fit_pipeline(ItemKNN(), res.ctx)
    np.testing.assert_array_equal(pipe.rerank_context().tail, res.ctx.tail)


def test_kfold_rows_are_means_over_folds(ds):
    exp = Experiment((ModelSpec("itemknn"),), SplitSpec("kfold", folds=3, seed=5), k=5)
    res = run(exp, ds)
    per_fold = [evaluate_model(ItemKNN(), EvalContext.build(s, k=5)) for s in k_fold(ds, 3, 5)]
    assert res.split == "3-fold" and len(res.runs) == 1 and res.ctx.split.name == "fold-1-of-3"
    for m in METRICS:
        assert res.rows[0][m] == pytest.approx(float(np.nanmean([r[m] for r in per_fold])), nan_ok=True)


def test_exposure_labels_rows_and_sweep_starts_from_own_lists(ds):
    models = (ModelSpec("ease", {"l2": 10.0}),)
    plain = run(Experiment(models, k=5), ds)
    exp = Experiment(models, k=5, exposure=Exposure("xquad", 0.9, n_candidates=30), sweep=SweepSpec(("xquad",), (0.0, 0.9)))
    res = run(exp, ds)
    row = res.rows[0]
    assert (row["rerank"], row["tail_weight"]) == ("xquad", 0.9) and "rerank" not in plain.rows[0]
    zero, full = res.tradeoff
    assert same_metrics(zero, plain.rows[0]), "weight 0 is the model's own lists, not the experiment's exposure"
    assert same_metrics(full, row), "the sweep's point equals the one-call pipeline at the same settings"
    assert {"pareto_tail", "pareto_coverage", "dataset", "split"} <= set(zero)


def test_sweep_fits_each_model_once_and_only_the_swept(ds, monkeypatch):
    fits = []
    original = EASE.fit
    monkeypatch.setattr(EASE, "fit", lambda self, d, **kw: fits.append(1) or original(self, d, **kw))
    sweep = SweepSpec(("xquad", "calibrated"), (0.0, 1.0), models=("ease",))
    res = run(Experiment((ModelSpec("popular"), ModelSpec("ease", {"l2": 10.0})), k=5, sweep=sweep), ds)
    assert len(fits) == 1
    assert [(r["model"], r["rerank"], r["tail_weight"]) for r in res.tradeoff] == [
        ("ease", "xquad", 0.0), ("ease", "xquad", 1.0), ("ease", "calibrated", 0.0), ("ease", "calibrated", 1.0),
    ]  # fmt: skip
    ease = res.rows[1]
    assert same_metrics(res.tradeoff[0], ease) and res.tradeoff[0]["fit_s"] == ease["fit_s"]


def test_mean_rows():
    rows = [{"model": "a", "x": 1.0, "y": math.nan, "n": 3}, {"model": "a", "x": 3.0, "y": 2.0, "n": 5}]
    assert R.mean_rows(rows) == {"model": "a", "x": 2.0, "y": 2.0, "n": 3}
    assert R.mean_rows(rows[:1]) == rows[0]


# ---------------------------------------------------------------------------------- the commands
def test_commands_run_one_runner_and_agree(tmp_path, monkeypatch):
    """evaluate, report, tradeoff and demo, given the same models, split and k, hand the runner
    the same experiment (apart from the sweep) and write the same metric rows."""
    seen: list[Experiment] = []
    original = R.run
    monkeypatch.setattr(R, "run", lambda exp, ds, on_step=None: seen.append(exp) or original(exp, ds, on_step))
    spec = ["--models", "popular,itemknn", "--param", "itemknn.neighbours=20", "--k", "10", "--seed", "3"]
    data = ["--demo-data"]
    out = {name: tmp_path / f"{name}.json" for name in ("evaluate", "report", "tradeoff")}
    assert main(["evaluate", *data, *spec, "--output", str(out["evaluate"])]) == 0
    assert main(["report", *data, *spec, "--output", str(tmp_path / "r.html"), "--output", str(out["report"])]) == 0
    assert main(["tradeoff", *data, *spec, "--rerank", "xquad", "--tail-weights", "0", "--output", str(out["tradeoff"])]) == 0
    assert main(["demo", *spec, "--out-dir", str(tmp_path / "demo")]) == 0
    assert len(seen) == 4
    assert len({dataclasses.replace(e, sweep=None) for e in seen}) == 1, "one experiment, four commands"
    rows = {name: json.loads(path.read_text()) for name, path in out.items()}
    rows["demo"] = json.loads((tmp_path / "demo" / "results.json").read_text())
    reference = rows["evaluate"]
    assert [r["model"] for r in reference] == ["popular", "itemknn"]
    for name, table in rows.items():
        assert [r["model"] for r in table] == ["popular", "itemknn"], name
        for got, want in zip(table, reference):
            for m in METRICS:
                assert got[m] == pytest.approx(want[m]), (name, got["model"], m)
