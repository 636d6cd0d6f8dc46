"""``tailwise tune`` end to end: a real small search, its params file read by ``fit``, the
report's tuning section, and bad input refused with exit code 2 before anything is written."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tailwise.cli.main import main
from tailwise.data import demo_path

from .conftest import write_data

pytest.importorskip("optuna")


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("tune-data")
    write_data(root)
    return root


def data_args(root: Path) -> list[str]:
    return ["--interactions", str(root / "train.csv"), "--items", str(root / "items.csv")]


def test_tune_writes_params_that_fit_reads_and_param_overrides(data, tmp_path, capsys):
    params, study = tmp_path / "params.json", tmp_path / "study.db"
    argv = ["tune", *data_args(data), "--model", "ease", "--trials", "3", "--k", "10", "--space", "l2=1:1000:log", "--study", str(study), "--output", str(params)]
    assert main(argv) == 0
    out = capsys.readouterr()
    summary = json.loads(params.read_text())
    assert summary["format"] == "tailwise-tune" and summary["model"] == "ease" and summary["n_trials"] == 3
    l2 = summary["params"]["l2"]
    assert summary["best"]["ndcg"] == max(t["ndcg"] for t in summary["trials"])
    assert "best validation NDCG@10" in out.out and f"{summary['best']['ndcg']:.4f}" in out.out
    assert "wrote" in out.err
    # a rerun continues the study: 2 more trials, the params file replaced (tune wrote it)
    more = list(argv)
    more[more.index("--trials") + 1] = "2"
    assert main(more) == 0
    assert json.loads(params.read_text())["n_trials"] == 5
    # fit reads the file (the model comes from it); --param overrides it
    for extra, want in (([], json.loads(params.read_text())["params"]["l2"]), (["--param", "l2=123"], 123)):
        model_dir = tmp_path / f"model{len(extra)}"
        assert main(["fit", *data_args(data), "--params", str(params), "--model-dir", str(model_dir), *extra]) == 0
        manifest = json.loads((model_dir / "manifest.json").read_text())
        assert manifest["model"] == "ease" and manifest["params"]["l2"] == pytest.approx(want)
    assert l2 > 0


def test_tail_floor_that_no_trial_reaches_writes_nothing(data, tmp_path, capsys):
    params = tmp_path / "params.json"
    rc = main(["tune", *data_args(data), "--model", "ease", "--trials", "2", "--tail-floor", "1", "--output", str(params)])
    assert rc == 1 and not params.exists()
    assert "no trial reached tail recall@20 >= 1" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model", "nope"], "unknown model 'nope'"),
        (["--model", "ease", "--space", "l2=5:1"], "low must be below high"),
        (["--model", "ease", "--space", "l2"], "must look like key=low:high"),
        (["--model", "ease", "--space", "lambda=1:2"], "has no parameter 'lambda'"),
        (["--model", "ease", "--param", "l2=100"], "nothing to search for model 'ease'"),
        (["--model", "popular"], "nothing to search"),
        (["--model", "ease", "--trials", "0"], "--trials must be at least 1"),
        (["--model", "ease", "--objective", "pareto", "--tail-floor", "0.1"], "--tail-floor goes with --objective accuracy"),
    ],
)
def test_bad_options_exit_2_before_reading_data(data, tmp_path, capsys, extra, message):
    params = tmp_path / "params.json"
    assert main(["tune", *data_args(data), *extra, "--output", str(params)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not params.exists()


def test_files_that_are_not_ours_are_never_replaced(data, tmp_path, capsys):
    notes = tmp_path / "notes.db"
    notes.write_text("keep me\n")
    mine = tmp_path / "mine.json"
    mine.write_text('{"mine": true}\n')
    for extra, message in ((["--study", str(notes)], "not a SQLite study file"), (["--output", str(mine)], "was not written by tailwise tune")):
        assert main(["tune", *data_args(data), "--model", "ease", "--trials", "1", *extra]) == 2
        assert message in capsys.readouterr().err
    assert notes.read_text() == "keep me\n" and mine.read_text() == '{"mine": true}\n'


def test_fit_params_file_errors(data, tmp_path, capsys):
    tuned = tmp_path / "tuned.json"
    tuned.write_text(json.dumps({"format": "tailwise-tune", "model": "ease", "params": {"l2": 50.0}}))
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    cases = [
        (["--params", str(tuned), "--model", "als"], "tuned for model 'ease', not --model 'als'"),
        (["--params", str(broken)], "is not a JSON params file"),
        (["--params", str(tmp_path / "missing.json")], "cannot read the params file"),
    ]
    for extra, message in cases:
        assert main(["fit", *data_args(data), "--model-dir", str(tmp_path / "m"), *extra]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    assert not (tmp_path / "m").exists()


@pytest.mark.slow
def test_report_shows_the_tuning_section(tmp_path, capsys):
    """A pareto search on a slice of ml-latest-small, then `report --tune STUDY`."""
    import pandas as pd

    ratings = pd.read_csv(demo_path() / "ratings.csv")
    ratings = ratings[ratings.userId <= 40].rename(columns={"userId": "user_id", "movieId": "item_id"})
    ratings.to_csv(tmp_path / "train.csv", index=False)
    data = ["--interactions", str(tmp_path / "train.csv")]
    study = tmp_path / "study.db"
    assert main(["tune", *data, "--model", "itemknn", "--objective", "pareto", "--trials", "4", "--study", str(study), "--output", str(tmp_path / "p.json")]) == 0
    assert "Pareto front" in capsys.readouterr().out
    page = tmp_path / "report.html"
    assert main(["report", *data, "--models", "popular", "--tune", str(study), "--output", str(page)]) == 0
    html = page.read_text()
    assert 'id="tuning"' in html and 'id="fig-tuning"' in html and 'id="tune-front"' in html
    front = json.loads((tmp_path / "p.json").read_text())["front"]
    rows = re.search(r'id="tune-front".*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    assert rows.count("<tr>") == len(front) and rows.count("★") == len(front)
    assert "--tune" in html  # the command line in the header names it
    # a report without --tune has no tuning section
    assert main(["report", *data, "--models", "popular", "--output", str(tmp_path / "plain.html")]) == 0
    assert 'id="tuning"' not in (tmp_path / "plain.html").read_text()
    # an unreadable --tune fails before any model is fitted
    (tmp_path / "junk.json").write_text("[]")
    assert main(["report", *data, "--models", "popular", "--tune", str(tmp_path / "junk.json"), "--output", str(tmp_path / "x.html")]) == 2
    assert "not a file written by tailwise tune" in capsys.readouterr().err
    assert not (tmp_path / "x.html").exists()
