"""``tailwise report`` and the demo's report, end to end on a slice of ml-latest-small."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tailwise.cli.main import main
from tailwise.data import demo_path

N_USERS = 60
FIGURES = ("fig-catalog", "fig-recommendations", "fig-lorenz", "fig-buckets", "fig-tradeoff")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """train.csv (first 60 users) and items.csv (all movies, so cold items are in the catalogue)."""
    root = tmp_path_factory.mktemp("report-slice")
    ratings = pd.read_csv(demo_path() / "ratings.csv")
    ratings = ratings[ratings.userId <= N_USERS].rename(
        columns={"userId": "user_id", "movieId": "item_id"}
    )
    ratings.to_csv(root / "train.csv", index=False)
    movies = pd.read_csv(demo_path() / "movies.csv").rename(columns={"movieId": "item_id"})
    movies.to_csv(root / "items.csv", index=False)
    return {"train": root / "train.csv", "items": root / "items.csv"}


def data_args(files) -> list[str]:
    return ["--interactions", str(files["train"]), "--items", str(files["items"])]


@pytest.mark.slow
def test_report_writes_html_table_and_frontier_fitting_each_model_once(
    files, tmp_path, capsys, monkeypatch
):
    from tailwise.models.itemknn import ItemKNN

    fits = []
    original = ItemKNN.fit
    monkeypatch.setattr(ItemKNN, "fit", lambda self, ds, **kw: fits.append(1) or original(self, ds, **kw))
    out, table = tmp_path / "out" / "report.html", tmp_path / "out" / "results.csv"
    argv = ["report", *data_args(files), "--models", "popular,itemknn", "--k", "10",
            "--rerank", "xquad", "--tail-weights", "0,1",
            "--output", str(out), "--output", str(table)]  # fmt: skip
    assert main(argv) == 0
    assert len(fits) == 1, "the sweep's fit is reused for the model's own lists"
    page = out.read_text(encoding="utf-8")
    for fig in FIGURES:
        assert f'<figure id="{fig}"><img src="data:image/png;base64,' in page
    assert page.count("<tr data-model=") == 2
    assert "--models popular,itemknn" in page, "the header shows how to rerun it"
    section = page.split('<section id="tradeoff">')[1].split("</section>")[0]
    assert '<figure id="fig-tradeoff">' in section
    assert section.count("<td>xquad</td>") == 4  # 2 models x 2 weights
    assert pd.read_csv(table).model.tolist() == ["popular", "itemknn"]
    assert f"report written to {out}" in capsys.readouterr().err


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--output", "{tmp}/report.txt"], "must end in .html"),
        (["--output", "{tmp}/results.csv"], "no --output ends in .html"),
        (["--output", "{tmp}/report.html", "--split", "kfold"], "--split kfold is not supported"),
        (["--output", "{tmp}/report.html", "--models", "popular,nope"], "unknown model 'nope'"),
        (["--output", "{tmp}/report.html", "--rerank", "shuffle"], "unknown re-ranker 'shuffle'"),
        (["--output", "{tmp}/report.html", "--rerank", "xquad", "--tail-weights", "0,2"], "[0, 1]"),
        (["--output", "{tmp}/report.html", "--tail-weights", "0,1"], "--tail-weights needs --rerank"),
    ],
)
def test_bad_options_fail_before_writing(files, tmp_path, capsys, extra, message):
    out = tmp_path / "report.html"
    out.write_text("the old report")
    argv = ["report", *data_args(files), "--models", "popular"]
    argv += [a.replace("{tmp}", str(tmp_path)) for a in extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert out.read_text() == "the old report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report.html"]


def test_bad_data_keeps_the_old_report(tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,rating\n1,10,4\n1,11,four\n")
    out = tmp_path / "report.html"
    out.write_text("the old report")
    assert (
        main(["report", "--interactions", str(bad), "--models", "popular", "--output", str(out)])
        == 2
    )
    assert "line 3, field 'rating'" in capsys.readouterr().err
    assert out.read_text() == "the old report"


@pytest.mark.slow
def test_cold_item_split_gets_a_cold_section(files, tmp_path):
    out = tmp_path / "cold.html"
    argv = ["report", *data_args(files), "--models", "popular,itemknn", "--split", "cold-item",
            "--k", "10", "--output", str(out)]  # fmt: skip
    assert main(argv) == 0
    cold = out.read_text(encoding="utf-8").split('<section id="cold">')[1].split("</section>")[0]
    assert '<figure id="fig-cold">' in cold and "cold-item split" in cold


def test_demo_writes_the_report_and_prints_its_path(tmp_path, capsys):
    assert main(["demo", "--models", "popular", "--out-dir", str(tmp_path)]) == 0
    report = tmp_path / "report.html"
    assert report.exists() and (tmp_path / "results.csv").exists()
    page = report.read_text(encoding="utf-8")
    assert "ml-latest-small" in page and page.count("<tr data-model=") == 1
    tradeoff = page.split('<section id="tradeoff">')[1]
    assert "--rerank" in tradeoff, "no frontier (no ease or hybrid): the section says how"
    assert str(report) in capsys.readouterr().err


def test_report_help_runs_as_a_real_process():
    res = subprocess.run([sys.executable, "-m", "tailwise.cli.main", "report", "--help"],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "usage: tailwise report" in res.stdout and "--rerank" in res.stdout
