"""``tailwise spark`` commands end to end on small files, and their answers to bad input."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from tailwise.cli.main import main

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:The copy keyword is deprecated")

SPARK = ["--master", "local[2]"]


@pytest.fixture
def files(tmp_path):
    inter = pd.DataFrame({"user": [f"u{u}" for u in range(12) for _ in range(4)],
                          "item": [f"m{(u * 3 + j) % 15}" for u in range(12) for j in range(4)]})  # fmt: skip
    inter.to_csv(tmp_path / "inter.csv", index=False)
    pd.DataFrame({"item": [f"m{i}" for i in range(16)], "title": [f"Film number {i} ({1990 + i})" for i in range(16)]}).to_csv(tmp_path / "items.csv", index=False)
    return tmp_path


def test_fit_recommend_evaluate(spark, files, capsys):
    from tailwise.pipeline import Pipeline

    t = files
    rc = main(["spark", "fit", "--interactions", str(t / "inter.csv"), "--items", str(t / "items.csv"), "--user-col", "user",
               "--item-col", "item", "--model-dir", str(t / "model"), "--recs", str(t / "recs"), "--k", "3",
               "--embedding-table", str(t / "emb"), "--param", "encoder=hash:8", "--param", "factor_dim=4",
               "--param", "als_iterations=3", *SPARK])  # fmt: skip
    assert rc == 0, capsys.readouterr().err
    recs = pd.read_parquet(t / "recs")
    assert set(recs.columns) == {"user_id", "rank", "item_id", "score"}
    assert recs.groupby("user_id").size().eq(3).all() and recs.user_id.nunique() == 12
    pipe = Pipeline.load(t / "model")
    assert len(pipe.items) == 16 and pipe.meta["fitted_on"] == "spark"
    rc = main(["spark", "recommend", "--model-dir", str(t / "model"), "--out", str(t / "again"), "--k", "3", *SPARK])
    assert rc == 0
    again = pd.read_parquet(t / "again").sort_values(["user_id", "rank"])
    assert again.item_id.tolist() == recs.sort_values(["user_id", "rank"]).item_id.tolist()
    test = pd.DataFrame({"user_id": ["u0", "u1"], "item_id": [recs[recs.user_id == "u0"].item_id.iloc[0], "m14"]})
    test.to_csv(t / "test.csv", index=False)
    pd.read_csv(t / "inter.csv").rename(columns={"user": "user_id", "item": "item_id"}).to_csv(t / "train.csv", index=False)
    capsys.readouterr()
    rc = main(["spark", "evaluate", "--recs", str(t / "recs"), "--train", str(t / "train.csv"), "--test", str(t / "test.csv"),
               "--k", "3", "--out", str(t / "m.json"), *SPARK])  # fmt: skip
    assert rc == 0
    scores = json.loads((t / "m.json").read_text())
    assert scores["users"] == 2 and scores["hit_rate"] == pytest.approx(0.5)  # u0 hits, m14 is not in u1's list
    assert "ndcg\t" in capsys.readouterr().out


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing-column", "no column 'user_id'"),
        ("no-such-file", "does not exist"),
        ("empty", "holds no rows"),
        ("bad-param", "unknown Spark parameter 'rank'"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(spark, files, capsys, case, message):
    t = files
    inter = t / "inter.csv"
    extra: list[str] = ["--user-col", "user", "--item-col", "item"]
    if case == "missing-column":
        extra = ["--item-col", "item"]  # the user column is "user", not user_id
    elif case == "no-such-file":
        inter = t / "nothing.parquet"
    elif case == "empty":
        (t / "empty.csv").write_text("user,item\n")
        inter = t / "empty.csv"
    elif case == "bad-param":
        extra += ["--param", "rank=8"]
    rc = main(["spark", "fit", "--interactions", str(inter), "--model-dir", str(t / "model"), "--embedding-table", str(t / "emb"),
               "--param", "encoder=hash:8", *extra, *SPARK])  # fmt: skip
    err = capsys.readouterr().err
    assert rc == 2
    assert message in err and "Traceback" not in err
    assert not (t / "model").exists()  # nothing written half-way


def test_empty_dataframe_and_missing_item_column_in_the_api(spark):
    from tailwise.errors import DataError
    from tailwise.spark import ingest

    empty = spark.createDataFrame([], "user_id string, item_id string")
    with pytest.raises(DataError, match="no rows"):
        ingest(spark, empty)
    inter = spark.createDataFrame([("a", "x")], "user_id string, item_id string")
    items = spark.createDataFrame([("x", "t")], "id string, title string")
    with pytest.raises(DataError, match="no column 'item_id'"):
        ingest(spark, inter, items)


def test_existing_outputs_are_never_replaced(spark, files, capsys):
    t = files
    (t / "recs").mkdir()
    rc = main(["spark", "fit", "--interactions", str(t / "inter.csv"), "--user-col", "user", "--item-col", "item",
               "--model-dir", str(t / "model"), "--recs", str(t / "recs"), *SPARK])  # fmt: skip
    assert rc == 2 and "--recs exists" in capsys.readouterr().err
