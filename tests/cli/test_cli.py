"""The CLI end to end on a small real slice of the bundled ml-latest-small."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from tailwise.cli.main import main
from tailwise.data import demo_path

N_USERS = 40


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """train.csv (first 40 users), items.csv (all movies), users.txt (5 known + 1 unknown)."""
    root = tmp_path_factory.mktemp("slice")
    ratings = pd.read_csv(demo_path() / "ratings.csv")
    ratings = ratings[ratings.userId <= N_USERS].rename(columns={"userId": "user_id", "movieId": "item_id"})
    ratings.to_csv(root / "train.csv", index=False)
    movies = pd.read_csv(demo_path() / "movies.csv").rename(columns={"movieId": "item_id"})
    movies.to_csv(root / "items.csv", index=False)
    (root / "users.txt").write_text("user_id\n1\n2\n3\n\n4\n5\nnobody\n")
    return {"train": root / "train.csv", "items": root / "items.csv", "users": root / "users.txt", "root": root}


def fit(files, model: str, extra: list[str] = ()) -> Path:
    out = files["root"] / f"model-{model}"
    args = ["fit", "--interactions", str(files["train"]), "--items", str(files["items"]),
            "--model-dir", str(out), "--model", model, *extra]  # fmt: skip
    assert main(args) == 0
    return out


def read_recs(path: Path) -> list[dict]:
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize("model", ["popular", "itemknn", "ease", "als", "bpr", "content", "adapter", "hybrid"])
def test_fit_recommend_contract(files, model, tmp_path):
    if model in ("als", "bpr"):
        pytest.importorskip("implicit")
    model_dir = fit(files, model)
    manifest = json.loads((model_dir / "manifest.json").read_text())
    assert manifest["model"] == model and manifest["versions"]["tailwise"]
    out = tmp_path / "recs.csv"
    assert main(["recommend", "--model-dir", str(model_dir), "--users", str(files["users"]),
                 "--k", "7", "--output", str(out)]) == 0  # fmt: skip
    rows = read_recs(out)
    assert list(rows[0].keys()) == ["user_id", "item_id", "rank", "score"]
    train = pd.read_csv(files["train"], dtype=str)
    seen = set(zip(train.user_id, train.item_id))
    by_user: dict[str, list[dict]] = {}
    for r in rows:
        by_user.setdefault(r["user_id"], []).append(r)
    assert list(by_user) == ["1", "2", "3", "4", "5", "nobody"]
    for user, recs in by_user.items():
        assert [int(r["rank"]) for r in recs] == list(range(1, 8))
        assert len({r["item_id"] for r in recs}) == 7
        assert not any((user, r["item_id"]) in seen for r in recs), f"{model} recommended a seen item"
        scores = [float(r["score"]) for r in recs]
        assert scores == sorted(scores, reverse=True)


def test_unknown_user_gets_most_popular(files, tmp_path):
    model_dir = fit(files, "ease")
    out = tmp_path / "recs.csv"
    main(["recommend", "--model-dir", str(model_dir), "--users", str(files["users"]), "--k", "3", "--output", str(out)])
    got = [r["item_id"] for r in read_recs(out) if r["user_id"] == "nobody"]
    train = pd.read_csv(files["train"], dtype=str)
    counts = train.groupby("item_id").size()
    top = counts.sort_values(ascending=False, kind="stable")
    assert [counts[i] for i in got] == top.iloc[:3].tolist()


def test_candidates_restrict_items(files, tmp_path):
    model_dir = fit(files, "ease")
    cands = tmp_path / "cands.txt"
    allowed = ["1", "2", "3", "5", "6", "7", "10", "11", "99999999"]  # the last is unknown
    cands.write_text("\n".join(allowed) + "\n")
    out = tmp_path / "recs.csv"
    assert main(["recommend", "--model-dir", str(model_dir), "--users", str(files["users"]),
                 "--k", "5", "--output", str(out), "--candidates", str(cands)]) == 0  # fmt: skip
    rows = read_recs(out)
    assert rows and {r["item_id"] for r in rows} <= set(allowed)


def test_save_load_identity_through_cli(files, tmp_path):
    model_dir = fit(files, "itemknn")
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    for out in (a, b):
        main(["recommend", "--model-dir", str(model_dir), "--users", str(files["users"]), "--k", "10", "--output", str(out)])
    assert a.read_text() == b.read_text()


def test_evaluate_writes_table(files, tmp_path, capsys):
    out_csv, out_json = tmp_path / "r.csv", tmp_path / "r.json"
    assert main(["evaluate", "--interactions", str(files["train"]), "--items", str(files["items"]),
                 "--models", "popular,ease", "--k", "10", "--output", str(out_csv),
                 "--output", str(out_json), "--param", "ease.l2=200"]) == 0  # fmt: skip
    table = pd.read_csv(out_csv)
    assert table.model.tolist() == ["popular", "ease"]
    for col in ("recall", "ndcg", "tail_recall", "coverage", "aplt", "gini", "novelty", "fit_s"):
        assert col in table.columns
    assert json.loads(out_json.read_text())[1]["model"] == "ease"
    assert "ndcg@10" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fit", "--interactions", "missing.csv", "--model-dir", "{out}"], "file not found"),
        (["fit", "--interactions", "{bad}", "--model-dir", "{out}"], "line 3, field 'rating'"),
        (["fit", "--interactions", "{train}", "--model-dir", "{out}", "--model", "nope"], "unknown model 'nope'"),
        (["fit", "--interactions", "{train}", "--model-dir", "{out}", "--param", "nonsense=1"], "has no parameter 'nonsense'"),
        (["fit", "--interactions", "{train}", "--model-dir", "{out}", "--user-col", "uid"], "user id column 'uid' is missing"),
        (["recommend", "--model-dir", "{root}", "--users", "{users}", "--output", "{out}"], "not a tailwise model directory"),
    ],
)
def test_bad_input_fails_cleanly(files, tmp_path, capsys, argv, message):
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id,rating\n1,10,4\n1,11,four\n")
    out = tmp_path / "out"
    subs = {"{out}": str(out), "{bad}": str(bad), "{train}": str(files["train"]),
            "{root}": str(tmp_path), "{users}": str(files["users"])}  # fmt: skip
    assert main([subs.get(a, a) for a in argv]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists(), "nothing may be written when the command fails"


def test_failed_fit_keeps_existing_model(files, tmp_path):
    model_dir = fit(files, "popular")
    before = (model_dir / "manifest.json").read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text("user_id,item_id\n1,\n")
    assert main(["fit", "--interactions", str(bad), "--model-dir", str(model_dir)]) == 2
    assert (model_dir / "manifest.json").read_text() == before


def test_console_script_help_for_every_command():
    for cmd in ([], ["fit"], ["recommend"], ["evaluate"], ["demo"]):
        res = subprocess.run([sys.executable, "-m", "tailwise.cli.main", *cmd, "--help"],
                             capture_output=True, text=True, check=False)  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert "usage: tailwise" in res.stdout


def test_real_process_exit_code_and_message(tmp_path):
    res = subprocess.run([sys.executable, "-m", "tailwise.cli.main", "fit", "--interactions",
                          str(tmp_path / "none.csv"), "--model-dir", str(tmp_path / "m")],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert res.returncode == 2
    assert "file not found" in res.stderr and "Traceback" not in res.stderr


def test_cold_items_from_the_items_file_are_recommendable(files, tmp_path):
    """An item with text but no interaction can be recommended by the (default) hybrid."""
    items = pd.read_csv(files["items"], dtype=str)
    train = pd.read_csv(files["train"], dtype=str)
    cold = sorted(set(items.item_id) - set(train.item_id))[:300]
    cands = tmp_path / "cold.txt"
    cands.write_text("\n".join(cold) + "\n")
    model_dir = tmp_path / "hybrid"
    assert main(["fit", "--interactions", str(files["train"]), "--items", str(files["items"]),
                 "--model-dir", str(model_dir)]) == 0  # fmt: skip
    assert json.loads((model_dir / "manifest.json").read_text())["model"] == "hybrid"
    out = tmp_path / "recs.csv"
    assert main(["recommend", "--model-dir", str(model_dir), "--users", str(files["users"]),
                 "--k", "5", "--output", str(out), "--candidates", str(cands)]) == 0  # fmt: skip
    rows = read_recs(out)
    assert len(rows) == 6 * 5 and {r["item_id"] for r in rows} <= set(cold)


def test_demo_runs_on_bundled_data(tmp_path, capsys):
    assert main(["demo", "--models", "popular,itemknn", "--out-dir", str(tmp_path)]) == 0
    table = pd.read_csv(tmp_path / "results.csv")
    assert table.model.tolist() == ["popular", "itemknn"]
    assert table.loc[1, "ndcg"] > table.loc[0, "ndcg"] > 0
    assert "tail_recall@20" in capsys.readouterr().out


def test_evaluate_kfold_averages_folds(files, tmp_path):
    out = tmp_path / "r.json"
    assert main(["evaluate", "--interactions", str(files["train"]), "--models", "popular",
                 "--split", "kfold", "--folds", "3", "--k", "5", "--output", str(out)]) == 0  # fmt: skip
    row = json.loads(out.read_text())[0]
    assert row["split"] == "3-fold" and 0 < row["recall"] <= 1


def test_recommend_for_a_query_and_a_new_history(files, tmp_path):
    model_dir = fit(files, "hybrid")
    out = tmp_path / "q.csv"
    assert main(["recommend", "--model-dir", str(model_dir), "--query", "animated film for children",
                 "--k", "5", "--output", str(out)]) == 0  # fmt: skip
    rows = read_recs(out)
    assert [r["user_id"] for r in rows] == ["query"] * 5
    out2 = tmp_path / "h.csv"
    assert main(["recommend", "--model-dir", str(model_dir), "--history", "1,3114", "--k", "5", "--output", str(out2)]) == 0
    got = {r["item_id"] for r in read_recs(out2)}
    assert len(got) == 5 and not got & {"1", "3114"}
    assert main(["recommend", "--model-dir", str(model_dir), "--history", "no-such-item", "--k", "5", "--output", str(out2)]) == 2


# ---------------------------------------------------------------------------------- memory budget
def test_fit_above_the_memory_budget_stops_before_writing(files, tmp_path, capsys):
    out = tmp_path / "ease-model"
    args = ["fit", "--interactions", str(files["train"]), "--model", "ease", "--memory-budget", "1K"]
    assert main([*args, "--model-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "ease needs about" in err and "above the memory budget of 1.0 kB" in err
    assert "--model als" in err and "--memory-budget" in err
    assert not out.exists(), "nothing may be written when the fit is refused"
    existing = fit(files, "popular")
    before = {p: p.read_bytes() for p in sorted(existing.rglob("*")) if p.is_file()}
    assert main([*args, "--model-dir", str(existing)]) == 2
    assert {p: p.read_bytes() for p in sorted(existing.rglob("*")) if p.is_file()} == before
    assert sorted(p.name for p in existing.parent.iterdir() if p.name.startswith(existing.name)) == [existing.name]


def test_refused_fit_in_a_real_process(files, tmp_path):
    res = subprocess.run([sys.executable, "-m", "tailwise.cli.main", "fit", "--interactions", str(files["train"]),
                          "--model", "itemknn", "--memory-budget", "100", "--model-dir", str(tmp_path / "m")],
                         capture_output=True, text=True, check=False)  # fmt: skip
    assert res.returncode == 2
    assert "Traceback" not in res.stderr and "itemknn needs about" in res.stderr and "100 bytes" in res.stderr
    assert not (tmp_path / "m").exists()


def test_bad_memory_budget_is_a_clear_usage_error(files, tmp_path, capsys):
    with pytest.raises(SystemExit) as exc:
        main(["fit", "--interactions", str(files["train"]), "--model-dir", str(tmp_path / "m"), "--memory-budget", "nonsense"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "--memory-budget" in err and "'nonsense' is not a size" in err and "12G" in err
    assert not (tmp_path / "m").exists()


def test_fit_records_the_memory_budget(files, capsys):
    from tailwise.models.memory import default_budget

    manifest = json.loads((fit(files, "ease", ["--memory-budget", "2GB"]) / "manifest.json").read_text())
    assert manifest["memory_budget"] == 2 * 10**9 and manifest["fit_info"] == {}
    capsys.readouterr()
    model_dir = fit(files, "popular")
    assert json.loads((model_dir / "manifest.json").read_text())["memory_budget"] == default_budget()
    err = "".join(capsys.readouterr().err.split())
    assert err.startswith("fittedpopular") and err.endswith(str(model_dir).replace(" ", "")), "no fit_info lines"


def test_evaluate_refuses_before_fitting_any_model(files, tmp_path, capsys):
    out_csv = tmp_path / "r.csv"
    assert main(["evaluate", "--interactions", str(files["train"]), "--models", "popular,ease", "--k", "5",
                 "--memory-budget", "1K", "--output", str(out_csv)]) == 2  # fmt: skip
    err = capsys.readouterr().err
    assert "ease needs about" in err and "Traceback" not in err
    assert not out_csv.exists()


def test_fit_prints_what_the_fit_chose(files, monkeypatch, capsys):
    from tailwise.models.ease import EASE

    fit_ease = EASE._fit

    def choosing(self, train, dataset):
        self.fit_info_["backbone"] = "dense (EASE fits the budget)"
        fit_ease(self, train, dataset)

    monkeypatch.setattr(EASE, "_fit", choosing)
    model_dir = fit(files, "ease")
    assert "backbone: dense (EASE fits the budget)" in capsys.readouterr().err
    assert json.loads((model_dir / "manifest.json").read_text())["fit_info"] == {"backbone": "dense (EASE fits the budget)"}


def test_hybrid_takes_its_factor_backbone_below_the_budget_and_says_why(files, tmp_path, capsys):
    out = tmp_path / "hybrid-factors"
    args = ["fit", "--interactions", str(files["train"]), "--items", str(files["items"]), "--model-dir", str(out)]
    assert main([*args, "--memory-budget", "1M"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert "backbone: factors" in err and "above the memory budget of 1.0 MB" in err
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fit_info"]["backbone"] == "factors" and manifest["memory_budget"] == 10**6
    recs = tmp_path / "r.csv"
    assert main(["recommend", "--model-dir", str(out), "--users", str(files["users"]), "--k", "5", "--output", str(recs)]) == 0
    assert len(read_recs(recs)) == 6 * 5
    # forcing EASE under the same budget is refused like EASE itself, naming the way out
    assert main([*args[:-1], str(tmp_path / "forced"), "--param", "backbone=ease", "--memory-budget", "1M"]) == 2
    err = capsys.readouterr().err
    assert "backbone=factors" in err and "Traceback" not in err and not (tmp_path / "forced").exists()


def test_a_full_disk_while_writing_the_model_directory_leaves_nothing(files, tmp_path, capsys, monkeypatch):
    import errno

    import numpy as np

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    out = tmp_path / "m"
    assert main(["fit", "--interactions", str(files["train"]), "--model", "popular", "--model-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert list(tmp_path.iterdir()) == [], "no model directory and no half-written leftovers"
