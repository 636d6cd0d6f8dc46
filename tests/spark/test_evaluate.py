"""The Spark evaluator equals ``tailwise evaluate``'s (EvalContext.score) on the same lists."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:The copy keyword is deprecated")


def _frame(spark, ds):
    return spark.createDataFrame(pd.DataFrame({"user_id": ds.users.ids[ds.user_idx], "item_id": ds.items.ids[ds.item_idx]}))


def _recs(spark, ds, ctx, recs):
    rows = [(ds.users.ids[u], ds.items.ids[i], r + 1) for u, lst in zip(ctx.users, recs.items) for r, i in enumerate(lst) if i >= 0]
    return spark.createDataFrame(pd.DataFrame(rows, columns=["user_id", "item_id", "rank"]))


@pytest.mark.parametrize("split_name", ["random", "cold"])
def test_spark_evaluator_equals_tailwise_evaluate(spark, spark_slice_data, split_name):
    from tailwise.data.splits import cold_items, random_holdout
    from tailwise.eval.evaluator import EvalContext, fit_pipeline
    from tailwise.models import EASE
    from tailwise.spark import evaluate

    ds = spark_slice_data
    split = random_holdout(ds, 0.2, 42) if split_name == "random" else cold_items(ds, 0.2, 42)
    ctx = EvalContext.build(split, k=10)
    recs = fit_pipeline(EASE(l2=50.0), ctx).run(ctx.users, ctx.history, 10, ctx.candidates)
    expected = ctx.score(recs)
    items = spark.createDataFrame(pd.DataFrame({"item_id": ds.items.ids}))
    cands = None if split.cold_items is None else spark.createDataFrame(pd.DataFrame({"item_id": ds.items.ids[split.cold_items]}))
    got = evaluate(spark, _recs(spark, ds, ctx, recs), _frame(spark, split.train), _frame(spark, split.test), 10, items, cands)
    assert got["users"] == len(ctx.users)
    assert set(expected) <= set(got)
    for key, value in expected.items():
        assert got[key] == pytest.approx(value, abs=1e-6, nan_ok=True), key
    if split_name == "cold":
        assert got["cold_recall"] > 0  # the held-out items are the cold ones


def test_missing_lists_count_as_empty(spark, spark_slice_data):
    from tailwise.data.splits import random_holdout
    from tailwise.eval.evaluator import EvalContext
    from tailwise.ranking import Recommendations
    from tailwise.spark import evaluate

    ds = spark_slice_data
    split = random_holdout(ds, 0.2, 42)
    ctx = EvalContext.build(split, k=5)
    items = np.full((len(ctx.users), 5), -1, np.int64)
    items[0, :2] = ctx.truth[0].indices[:2]  # one user gets two hits, the others nothing
    expected = ctx.score(Recommendations(items, np.zeros(items.shape, np.float32)))
    got = evaluate(spark, _recs(spark, ds, ctx, Recommendations(items, np.zeros(items.shape))), _frame(spark, split.train), _frame(spark, split.test), 5)
    for key in ("recall", "ndcg", "precision", "coverage", "gini"):
        assert got[key] == pytest.approx(expected[key], abs=1e-9), key
    assert got["recall"] > 0
