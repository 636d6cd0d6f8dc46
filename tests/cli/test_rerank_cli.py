"""--rerank/--tail-weight on `tailwise recommend` and `tailwise evaluate`, and `tailwise
tradeoff`, end to end on a small real slice of the bundled ml-latest-small."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pytest

from tailwise.cli.main import main
from tailwise.data import demo_path


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> dict[str, Path]:
    """ratings of the first 30 users, the movies they rated, a users file and a fitted EASE."""
    root = tmp_path_factory.mktemp("rerank-cli")
    ratings = pd.read_csv(demo_path() / "ratings.csv")
    ratings = ratings[ratings.userId <= 30].rename(columns={"userId": "user_id", "movieId": "item_id"})
    ratings.to_csv(root / "ratings.csv", index=False)
    movies = pd.read_csv(demo_path() / "movies.csv").rename(columns={"movieId": "item_id"})
    movies[movies.item_id.isin(ratings.item_id)].to_csv(root / "items.csv", index=False)
    (root / "users.txt").write_text("user_id\n1\n2\n3\n4\n5\nnobody\n")
    model = root / "model"
    assert main(["fit", "--interactions", str(root / "ratings.csv"), "--items", str(root / "items.csv"),
                 "--model-dir", str(model), "--model", "ease"]) == 0  # fmt: skip
    return {"root": root, "ratings": root / "ratings.csv", "items": root / "items.csv", "users": root / "users.txt", "model": model}


def recommend(data, out: Path, *extra: str) -> list[dict]:
    argv = ["recommend", "--model-dir", str(data["model"]), "--users", str(data["users"]), "--k", "10", "--output", str(out), *extra]
    assert main(argv) == 0
    with open(out, newline="") as fh:
        return list(csv.DictReader(fh))


def lists(rows: list[dict]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in rows:
        out.setdefault(r["user_id"], []).append(r["item_id"])
    return out


def test_recommend_with_rerank(data, tmp_path):
    plain = lists(recommend(data, tmp_path / "plain.csv"))
    assert lists(recommend(data, tmp_path / "zero.csv", "--rerank", "xquad", "--tail-weight", "0")) == plain
    rows = recommend(data, tmp_path / "xquad.csv", "--rerank", "xquad", "--tail-weight", "0.8", "--n-candidates", "100")
    boosted = lists(rows)
    assert list(boosted) == list(plain) and boosted["nobody"] == plain["nobody"]  # fallback untouched
    assert boosted != plain
    ratings = pd.read_csv(data["ratings"], dtype=str)
    seen = set(zip(ratings.user_id, ratings.item_id))
    counts = ratings.item_id.value_counts()
    head = set(counts.index[: round(0.2 * len(counts))])
    for user, items in boosted.items():
        assert len(items) == len(set(items)) == 10
        assert [int(r["rank"]) for r in rows if r["user_id"] == user] == list(range(1, 11))
        assert not any((user, i) in seen for i in items)
    known = [u for u in plain if u != "nobody"]
    tail_share = [sum(i not in head for u in known for i in lol[u]) for lol in (plain, boosted)]
    assert tail_share[1] > tail_share[0]


def test_stochastic_rerank_seed(data, tmp_path):
    a = lists(recommend(data, tmp_path / "a.csv", "--rerank", "stochastic", "--tail-weight", "0.7", "--rerank-seed", "1"))
    b = lists(recommend(data, tmp_path / "b.csv", "--rerank", "stochastic", "--tail-weight", "0.7", "--rerank-seed", "1"))
    c = lists(recommend(data, tmp_path / "c.csv", "--rerank", "stochastic", "--tail-weight", "0.7", "--rerank-seed", "2"))
    assert a == b and a != c


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rerank", "shuffle", "--tail-weight", "0.5"], "choose from none, xquad, calibrated, mmr, stochastic"),
        (["--rerank", "xquad", "--tail-weight", "1.5"], "tail_weight must be in [0, 1], not 1.5"),
        (["--tail-weight", "0.5"], "--tail-weight/--n-candidates: a tail weight needs a re-ranker"),
        (["--rerank", "xquad", "--n-candidates", "0"], "n_candidates must be at least 1"),
    ],
)
@pytest.mark.parametrize("command", ["recommend", "evaluate"])
def test_bad_rerank_options(data, tmp_path, capsys, command, extra, message):
    """recommend and evaluate read --rerank/--tail-weight the same way (one Exposure)."""
    out = tmp_path / "out.csv"
    if command == "recommend":
        argv = ["recommend", "--model-dir", str(data["model"]), "--users", str(data["users"]), "--output", str(out), *extra]
    else:
        argv = ["evaluate", "--interactions", str(data["ratings"]), "--models", "itemknn", "--output", str(out), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()


def test_evaluate_with_rerank(data, tmp_path):
    out = tmp_path / "eval.json"
    base = ["evaluate", "--interactions", str(data["ratings"]), "--items", str(data["items"]), "--models", "itemknn", "--k", "10"]
    assert main([*base, "--output", str(tmp_path / "plain.json")]) == 0
    assert main([*base, "--rerank", "calibrated", "--tail-weight", "0.9", "--output", str(out)]) == 0
    plain = json.loads((tmp_path / "plain.json").read_text())[0]
    row = json.loads(out.read_text())[0]
    assert row["model"] == "itemknn" and row["rerank"] == "calibrated" and row["tail_weight"] == 0.9
    assert row["ndcg"] != plain["ndcg"] and "rerank" not in plain
    assert main([*base, "--rerank", "mmr", "--tail-weight", "-1"]) == 2


def test_tradeoff_writes_the_frontier(data, tmp_path, capsys):
    csv_out, json_out = tmp_path / "frontier.csv", tmp_path / "frontier.json"
    argv = ["tradeoff", "--interactions", str(data["ratings"]), "--items", str(data["items"]), "--models", "ease,itemknn",
            "--rerank", "xquad,mmr", "--tail-weights", "0,0.5,1", "--k", "10", "--n-candidates", "50",
            "--output", str(csv_out), "--output", str(json_out)]  # fmt: skip
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert "NDCG@10" in err and "frontier" in err
    rows = json.loads(json_out.read_text())
    assert len(rows) == 2 * 2 * 3
    assert [(r["model"], r["rerank"], r["tail_weight"]) for r in rows[:3]] == [("ease", "xquad", 0.0), ("ease", "xquad", 0.5), ("ease", "xquad", 1.0)]
    assert any(r["pareto_tail"] for r in rows) and any(r["pareto_coverage"] for r in rows)
    best = max(rows, key=lambda r: r["ndcg"])
    assert best["pareto_tail"] and best["pareto_coverage"]  # the most accurate setting is never beaten
    with open(csv_out, newline="") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == 12 and {"ndcg", "tail_recall", "coverage", "pareto_tail", "rerank_s"} <= set(table[0])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--rerank", "xquad,bogus"], "unknown re-ranker 'bogus'"),
        (["--tail-weights", "0,a"], "--tail-weights must be numbers"),
        (["--tail-weights", "0,3"], "tail_weight must be in [0, 1], not 3.0"),
        (["--output", "frontier.txt"], "--output must end in .csv or .json"),
    ],
)
def test_tradeoff_bad_options(data, capsys, extra, message):
    argv = ["tradeoff", "--interactions", str(data["ratings"]), "--items", str(data["items"]), "--models", "itemknn", *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_tradeoff_help_explains_the_sweep(capsys):
    with pytest.raises(SystemExit):
        main(["tradeoff", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for phrase in ("--tail-weights", "0 = the model's own lists", "pareto_tail", "--n-candidates", "example: tailwise tradeoff"):
        assert phrase in text
