"""The Spark chain stage by stage on a small slice (local[2]), against the single-machine code."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:The copy keyword is deprecated")


def test_ingest_deduplicates_and_indexes_ids_in_string_order(spark):
    from tailwise.spark import ingest

    inter = spark.createDataFrame(pd.DataFrame({"user_id": ["b", "a", "a", "b", "a"], "item_id": ["x", "y", "y", "z", "x"], "rating": [1, 2, 3, 4, 5]}))
    items = spark.createDataFrame(pd.DataFrame({"item_id": ["w", "x"], "title": ["Cold one", "Warm one"], "year": ["N/A", "1999"]}))
    log = ingest(spark, inter, items)
    assert (log.n_users, log.n_items) == (2, 4)  # w is a catalogue item without interactions
    assert log.inter.count() == 4  # (a, y) once
    assert log.users.orderBy("u").toPandas().user_id.tolist() == ["a", "b"]
    texts = log.items.orderBy("i").toPandas()
    assert texts.item_id.tolist() == ["w", "x", "y", "z"]
    assert texts.text.tolist() == ["Cold one", "Warm one. 1999", "", ""]


def test_embedding_table_encodes_only_new_texts(spark, spark_fitted):
    from tailwise.spark.encode import encode_items
    from tailwise.text.encoders import make_encoder

    items = spark_fitted.log.items
    n_texts = items.select("text").distinct().count()
    assert spark_fitted.model.encoded == n_texts  # the first fit encoded every distinct text
    _, encoded = encode_items(spark, items, "hash:16", 128, spark_fitted.table)
    assert encoded == 0  # a refit on the same catalogue encodes nothing
    new = spark.createDataFrame(pd.DataFrame({"i": [10_000, 10_001], "text": ["A brand new film (2031)", items.first()["text"]]}))
    emb2, encoded2 = encode_items(spark, items.select("i", "text").unionByName(new), "hash:16", 128, spark_fitted.table)
    assert encoded2 == 1  # only the one new text
    got = emb2.where("i = 10000").first()["emb"]
    np.testing.assert_allclose(got, make_encoder("hash:16").encode_items(["A brand new film (2031)"], progress=False)[0], atol=1e-6)


def test_real_use_encoder_on_executors_matches_the_encoder(spark, tmp_path):
    from tailwise.spark.encode import encode_items
    from tailwise.text.encoders import make_encoder

    texts = ["Toy Story (1995). Animation, Children's, Comedy", "Heat (1995). Action, Crime, Thriller", "Persuasion (1995). Romance"]
    items = spark.createDataFrame(pd.DataFrame({"i": np.arange(3), "text": texts}))
    emb, encoded = encode_items(spark, items, "use", 128, tmp_path / "table")
    assert encoded == 3
    got = np.stack(emb.orderBy("i").toPandas().emb.map(np.asarray))
    np.testing.assert_allclose(got, make_encoder("use").encode_items(texts, progress=False), atol=1e-5)


def test_behaviour_space_is_orthonormal_with_a_shrinking_filter(spark_fitted):
    h = spark_fitted.dir
    from tailwise.pipeline import Pipeline

    model = Pipeline.load(h).model
    v = model.adapter_.item_factors_.astype(np.float64)
    np.testing.assert_allclose(v.T @ v, np.eye(v.shape[1]), atol=1e-4)
    assert np.all((model.cf_filter_ > 0) & (model.cf_filter_ < 1))
    assert np.all(np.diff(model.cf_filter_) <= 1e-6)  # strongest directions first, shrunk least
    cold = model.item_counts_ == 0
    assert not cold.any() or np.abs(v[cold]).max() == 0  # no interactions, no behaviour factor


def test_executor_item_vectors_equal_the_driver_placement(spark_fitted):
    from tailwise.pipeline import Pipeline

    pipe = Pipeline.load(spark_fitted.dir)
    adapter = pipe.model.adapter_
    placed = adapter._vectors(pipe.item_text, progress=False)  # what the service does for a new item
    np.testing.assert_allclose(adapter.item_vectors_, placed, rtol=1e-4, atol=1e-5)


def test_spark_lists_equal_the_exported_pipeline_lists(spark_fitted):
    from tailwise.pipeline import Pipeline

    pipe = Pipeline.load(spark_fitted.dir)
    users = np.arange(len(pipe.users))
    lists = pipe.run(users, pipe.history, 10)
    recs = spark_fitted.recs.sort_values(["user_id", "rank"])
    assert len(recs) == 10 * len(users)
    for u in users:
        got = recs[recs.user_id == pipe.users.ids[u]]
        assert got.item_id.tolist() == pipe.items.ids[lists.items[u]].tolist()
        np.testing.assert_allclose(got.score.to_numpy(), lists.scores[u], rtol=1e-4, atol=1e-4)
        seen = set(pipe.items.ids[pipe.history[u].indices].tolist())
        assert not seen & set(got.item_id)


def test_recommend_from_a_model_directory_and_for_a_sample(spark, spark_fitted):
    from tailwise.spark.export import load_model

    model = load_model(spark, spark_fitted.dir)
    some = spark_fitted.recs.user_id.drop_duplicates().iloc[:5].tolist()
    cands = spark_fitted.recs.item_id.drop_duplicates().iloc[:40].tolist()
    recs = model.recommend(10, users=spark.createDataFrame(pd.DataFrame({"user_id": some}))).toPandas()
    assert sorted(recs.user_id.unique()) == sorted(some)
    full = spark_fitted.recs[spark_fitted.recs.user_id.isin(some)].sort_values(["user_id", "rank"])
    assert recs.sort_values(["user_id", "rank"]).item_id.tolist() == full.item_id.tolist()
    only = model.recommend(5, candidates=spark.createDataFrame(pd.DataFrame({"item_id": cands}))).toPandas()
    assert set(only.item_id) <= set(cands) and len(only)


def test_tailwise_spark_cannot_start_without_pyspark_or_java(monkeypatch):
    import sys

    from tailwise.errors import MissingExtraError
    from tailwise.spark import session

    monkeypatch.setitem(sys.modules, "pyspark", None)
    with pytest.raises(MissingExtraError, match=r'pip install "tailwise\[spark\]"'):
        session.require_spark()
    monkeypatch.undo()
    monkeypatch.setattr(session, "java_found", lambda: False)
    with pytest.raises(MissingExtraError, match="openjdk-17-jre-headless"):
        session.require_spark()
