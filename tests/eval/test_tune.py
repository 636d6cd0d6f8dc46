"""``tailwise.eval.tune``: real Optuna searches on tiny data, studies in real SQLite files."""

from __future__ import annotations

import sqlite3

import numpy as np
import pytest

from tailwise.data.dataset import Dataset
from tailwise.errors import DataError, ParameterError
from tailwise.eval.evaluator import evaluate_model
from tailwise.eval.tradeoff import pareto
from tailwise.eval.tune import TuneSpec, factor_ndcg, open_study, tune, validation_context
from tailwise.eval.tune_results import load_summary, read_params_file
from tailwise.models import make_model
from tailwise.models.spaces import SPACES, space_for

pytest.importorskip("optuna")


def clustered(n_users: int = 120, n_items: int = 60, seed: int = 0, name: str = "clusters") -> Dataset:
    """Users in 4 taste groups over 4 item blocks, plus a few popular items everyone may take:
    enough structure that settings differ in NDCG and in tail recall."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    block = n_items // 4
    for u in range(n_users):
        g = u % 4
        own = rng.choice(np.arange(g * block, (g + 1) * block), size=int(rng.integers(4, 10)), replace=False)
        pop = rng.choice(np.arange(4), size=int(rng.integers(1, 3)), replace=False)
        for i in np.r_[own, pop]:
            users.append(f"u{u}")
            items.append(f"i{i}")
    return Dataset.from_ids(users, items, name=name)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return clustered()


def ease_spec(**kw) -> TuneSpec:
    return TuneSpec("ease", space_for("ease", ["l2=0.1:1000:log"]), k=10, **kw)


def test_accuracy_search_starts_at_the_defaults_and_reports_the_best_trial(data):
    s = tune(ease_spec(), data, 5)
    assert s["n_trials"] == s["n_complete"] == 5 and s["n_pruned"] == s["n_failed"] == 0
    trials = s["trials"]
    assert trials[0]["params"] == {"l2": 500.0}  # the defaults come first
    assert all(0.1 <= t["params"]["l2"] <= 1000 for t in trials)
    best = max(trials, key=lambda t: t["ndcg"])
    assert s["best"]["trial"] == best["trial"] and s["params"] == {"l2": best["params"]["l2"]}
    # the figures are the evaluator's on the validation split carved from the data
    again = evaluate_model(make_model("ease", **s["params"]), validation_context(data, k=10))
    assert s["best"]["ndcg"] == pytest.approx(again["ndcg"]) and s["best"]["tail_recall"] == pytest.approx(again["tail_recall"])


def test_same_seed_same_trials(data):
    a, b = tune(ease_spec(), data, 4), tune(ease_spec(), data, 4)
    assert [t["params"] for t in a["trials"]] == [t["params"] for t in b["trials"]]


def test_resume_adds_trials_and_keeps_the_earlier_ones(data, tmp_path):
    path = tmp_path / "study.db"
    first = tune(ease_spec(), data, 2, study_path=path)
    second = tune(ease_spec(), data, 3, study_path=path)
    assert second["n_trials"] == 5
    assert second["trials"][:2] == first["trials"]
    assert len({t["params"]["l2"] for t in second["trials"]}) == 5  # the continuation does not replay
    assert load_summary(path)["n_trials"] == 5  # the report reads the study file as it is


def test_a_study_for_another_search_is_refused_and_left_alone(data, tmp_path):
    path = tmp_path / "study.db"
    tune(ease_spec(), data, 1, study_path=path)
    before = path.read_bytes()
    cases = [
        (TuneSpec("itemknn", space_for("itemknn"), k=10), data, "model 'ease', not 'itemknn'"),
        (ease_spec(objective="pareto"), data, "objective"),
        (TuneSpec("ease", space_for("ease", ["l2=1:50"]), k=10), data, "search space differs"),
        (ease_spec(), clustered(seed=1), "the data differ"),
        (TuneSpec("ease", space_for("ease", ["l2=0.1:1000:log"]), k=5), data, "cutoff k"),
    ]
    for spec, ds, words in cases:
        with pytest.raises(DataError, match=words):
            tune(spec, ds, 1, study_path=path)
    assert path.read_bytes() == before


def test_files_that_are_not_studies_are_refused_untouched(data, tmp_path):
    text = tmp_path / "notes.db"
    text.write_text("my notes\n")
    other = tmp_path / "other.db"
    con = sqlite3.connect(other)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    for path, words in ((text, "not a SQLite study file"), (other, "holds no tailwise tune study")):
        before = path.read_bytes()
        with pytest.raises(DataError, match=words) as err:
            tune(ease_spec(), data, 1, study_path=path)
        assert str(path) in str(err.value)
        assert path.read_bytes() == before


def test_tail_floor_only_feasible_trials_can_win(data):
    free = tune(ease_spec(), data, 6)
    tails = sorted(t["tail_recall"] for t in free["trials"])
    floor = tails[len(tails) // 2]  # about half the settings reach it
    s = tune(ease_spec(tail_floor=floor), data, 6)
    for t in s["trials"]:
        assert t["feasible"] == (t["tail_recall"] >= floor)
    feasible = [t for t in s["trials"] if t["feasible"]]
    assert feasible, "the floor was chosen so that some setting reaches it"
    assert s["best"]["tail_recall"] >= floor
    assert s["best"]["ndcg"] == max(t["ndcg"] for t in feasible)
    impossible = tune(ease_spec(tail_floor=1.0), data, 2)
    assert impossible["best"] is None and impossible["params"] is None


def test_pareto_front_is_exactly_the_non_dominated_trials(data):
    s = tune(TuneSpec("itemknn", space_for("itemknn"), objective="pareto", k=10), data, 8)
    done = s["trials"]
    front = {t["trial"] for t in s["front"]}
    assert front
    for t in done:
        dominated = any(
            o["ndcg"] >= t["ndcg"] and o["tail_recall"] >= t["tail_recall"]
            and (o["ndcg"] > t["ndcg"] or o["tail_recall"] > t["tail_recall"]) for o in done
        )  # fmt: skip
        assert (t["trial"] in front) == (not dominated)
    mask = pareto([t["ndcg"] for t in done], [t["tail_recall"] for t in done])
    assert front == {t["trial"] for t, on in zip(done, mask) if on}
    assert s["params"] == s["front"][0]["params"]  # the front's most accurate point


def test_als_reports_per_epoch_ndcg_and_a_weak_trial_is_pruned(data, tmp_path):
    pytest.importorskip("implicit")
    spec = TuneSpec("als", space_for("als", ["factors=8:16"], fixed={"iterations"}), fixed={"iterations": 12}, k=10)
    path = tmp_path / "als.db"
    s = tune(spec, data, 6, study_path=path)
    assert all(set(t["intermediate"]) == {"5", "10"} for t in s["trials"] if t["state"] == "complete")
    study = open_study(spec, s_fingerprint(data), path)
    study.enqueue_trial({"factors": 8, "regularization": 100.0, "alpha": 0.1})  # hopeless: heavy penalty, little signal
    s = tune(spec, data, 1, study_path=path)
    assert s["trials"][-1]["state"] == "pruned" and s["n_pruned"] >= 1
    assert s["best"]["trial"] != s["trials"][-1]["trial"]


def s_fingerprint(ds: Dataset) -> str:
    from tailwise.eval.tune import fingerprint

    return fingerprint(ds)


def test_factor_ndcg_is_the_evaluator_ndcg(data):
    pytest.importorskip("implicit")
    from tailwise.eval.evaluator import fit_pipeline, score_pipeline

    ctx = validation_context(data, k=10)
    pipe = fit_pipeline(make_model("als", factors=8, iterations=5), ctx)
    m = pipe.model
    assert factor_ndcg(m.user_factors_, m.item_factors_, ctx) == pytest.approx(score_pipeline(pipe, ctx)[1]["ndcg"], abs=1e-6)


def test_spaces_are_checked_against_the_parameter_rules():
    for model, space in SPACES.items():
        assert space_for(model) == space
    with pytest.raises(ParameterError, match="low must be below high"):
        space_for("ease", ["l2=5:1"])
    with pytest.raises(ParameterError, match="log range needs low > 0"):
        space_for("itemknn", ["shrink=0:10:log"])
    with pytest.raises(ParameterError, match="has no parameter 'lambda'"):
        space_for("ease", ["lambda=1:2"])
    with pytest.raises(ParameterError, match="must be a finite number in \\(0"):
        space_for("ease", ["l2=0:10"])
    with pytest.raises(ParameterError, match="nothing to search"):
        space_for("popular")
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        space_for("nope")
    assert space_for("als", fixed={"factors", "alpha", "iterations"}).keys() == {"regularization"}
    assert space_for("content", ["profile=mean,max"])["profile"].choices == ("mean", "max")


def test_params_file_plain_and_tuned(tmp_path):
    plain = tmp_path / "p.json"
    plain.write_text('{"l2": 250}')
    assert read_params_file(plain) == (None, {"l2": 250})
    bad = tmp_path / "bad.json"
    bad.write_text("{l2: 250")
    with pytest.raises(DataError, match="not a JSON params file"):
        read_params_file(bad)
