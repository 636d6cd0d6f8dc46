"""Evaluation on Spark: the metrics of ``tailwise evaluate`` (:mod:`tailwise.metrics`),
per user on the executors, averaged on the driver.

The judged users, the tail and the averages are those of
:class:`tailwise.eval.evaluator.EvalContext`: users with at least one training and one held-out
item; popularity = training users per item; the tail = all but the ``head_share`` most popular
items (ties: lower index, items indexed in id string order, as :mod:`tailwise.spark.logs`
does); per-user metrics averaged over the users where they are defined. Each executor calls the
metric functions themselves on its batch of users, with the popularity, the tail and (for
intra-list diversity) the item-user matrix broadcast; coverage, tail coverage and Gini come
from the per-item exposure counts. Diversity is left out (``nan``) when the training log has
more than `diversity_max` interactions, because its item vectors are broadcast.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp

from tailwise import metrics as M
from tailwise.data.popularity import tail_mask
from tailwise.eval.evaluator import ACCURACY, LONG_TAIL
from tailwise.spark.blocks import sum_partitions
from tailwise.spark.logs import index_ids, require_columns

PER_USER = ("recall", "precision", "ndcg", "hit_rate", "mrr", "tail_recall", "head_recall", "aplt", "arp", "novelty", "diversity", "cold_recall")


def _pairs(df: Any, what: str, extra: tuple[str, ...] = ()) -> Any:
    from pyspark.sql import functions as F

    require_columns(df, ["user_id", "item_id", *extra], None, what)
    cols = [F.col("user_id").cast("string").alias("user_id"), F.col("item_id").cast("string").alias("item_id"), *[F.col(c) for c in extra]]
    return df.select(*cols).where(F.col("user_id").isNotNull() & F.col("item_id").isNotNull())


def evaluate(
    spark: Any, recs: Any, train: Any, test: Any, k: int = 20, items: Any | None = None,
    candidates: Any | None = None, head_share: float = 0.2, diversity_max: int = 50_000_000,
) -> dict[str, float]:  # fmt: skip
    """Every metric of ``tailwise evaluate`` for the lists in `recs` (``user_id, item_id,
    rank``; rank 1 = first) against `test` (``user_id, item_id``), with `train` the training
    log; `items` (``item_id``) adds catalogue items without interactions, `candidates`
    (``item_id``) is the whitelist the lists were drawn from (coverage counts within it).

    Raises
    ------
    DataError
        For a missing column or an empty train or test log.
    """
    from pyspark.sql import functions as F

    from tailwise.errors import DataError

    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    recs, train, test = _pairs(recs, "recommendations", ("rank",)), _pairs(train, "training interactions").distinct(), _pairs(test, "test interactions").distinct()
    for df, what in ((train, "training"), (test, "test")):
        if df.limit(1).count() == 0:
            raise DataError(f"the {what} interactions hold no rows")
    ids = train.select("item_id").unionByName(test.select("item_id"))
    if items is not None:
        require_columns(items, ["item_id"], None, "items")
        ids = ids.unionByName(items.select(F.col("item_id").cast("string")))
    item_map = index_ids(ids, "item_id", "i").cache()
    user_map = index_ids(train.select("user_id").unionByName(test.select("user_id")), "user_id", "u").cache()
    n_items, n_users = item_map.count(), user_map.count()
    tr = train.join(user_map, "user_id").join(item_map, "item_id").select("u", "i").cache()
    te = test.join(user_map, "user_id").join(item_map, "item_id").select("u", "i")
    pop_rows = tr.groupBy("i").count().toPandas()
    pop = np.zeros(n_items, np.int64)
    pop[pop_rows["i"].to_numpy(np.int64)] = pop_rows["count"].to_numpy(np.int64)
    tail, cold = tail_mask(pop, head_share), pop == 0
    vectors = None
    if tr.count() <= diversity_max:
        p = tr.toPandas()
        vectors = sp.csr_matrix((np.ones(len(p), np.float32), (p["i"], p["u"])), shape=(n_items, n_users))
    judged = tr.select("u").distinct().join(te.select("u").distinct(), "u")
    truth = te.groupBy("u").agg(F.collect_list("i").alias("truth"))
    lists = (
        recs.join(user_map, "user_id").join(item_map, "item_id").groupBy("u")
        .agg(F.sort_array(F.collect_list(F.struct(F.col("rank").cast("double").alias("r"), F.col("i").alias("i")))).alias("l"))
        .select("u", F.col("l.i").alias("recs"))
    )  # fmt: skip
    table = judged.join(truth, "u").join(lists, "u", "left")
    shared = spark.sparkContext.broadcast((pop, tail, cold, vectors))
    sums = sum_partitions(table, _per_user(shared, k, n_items, n_users))
    n_judged = int(sums.get("users", 0))
    out = {name: float(sums[f"{name}.sum"] / sums[f"{name}.n"]) if sums.get(f"{name}.n", 0) > 0 else float("nan") for name in PER_USER}
    if not (cold.any() and out_has_cold(sums)):
        out.pop("cold_recall")
    exposure = _exposure(recs, user_map, item_map, judged, k, n_items)
    catalogue = n_items
    tail_in = tail
    if candidates is not None:
        allowed = candidates.select(F.col("item_id").cast("string")).distinct().join(item_map, "item_id").select("i").toPandas()["i"].to_numpy(np.int64)
        catalogue, tail_in = len(allowed), np.zeros_like(tail)
        tail_in[allowed] = tail[allowed]
    shown = exposure > 0
    out["coverage"] = float(shown.sum() / catalogue)
    out["tail_coverage"] = float(np.count_nonzero(tail_in & shown) / tail_in.sum()) if tail_in.any() else 0.0
    out["gini"] = M.exposure_gini(exposure)
    out["users"] = n_judged
    for cached in (item_map, user_map, tr):
        cached.unpersist()
    shared.unpersist()
    order = [*ACCURACY, *LONG_TAIL, "cold_recall", "users"]
    return {key: out[key] for key in order if key in out}


def out_has_cold(sums: dict[str, np.ndarray]) -> bool:
    """Whether any judged user's held-out items include an item without training data."""
    return float(sums.get("cold_truth", 0)) > 0


def _exposure(recs: Any, user_map: Any, item_map: Any, judged: Any, k: int, n_items: int) -> np.ndarray:
    """How many judged users' top-k lists hold each item (counted on the executors)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    ranked = recs.join(user_map, "user_id").join(judged, "u").join(item_map, "item_id")
    ranked = ranked.withColumn("pos", F.row_number().over(Window.partitionBy("u").orderBy(F.col("rank").cast("double"), "i")))
    rows = ranked.where(F.col("pos") <= k).groupBy("i").count().toPandas()
    out = np.zeros(n_items, np.int64)
    out[rows["i"].to_numpy(np.int64)] = rows["count"].to_numpy(np.int64)
    return out


def _per_user(shared: Any, k: int, n_items: int, n_users: int):
    def partial(pdf) -> dict[str, np.ndarray]:
        pop, tail, cold, vectors = shared.value
        n = len(pdf)
        recs = np.full((n, k), -1, np.int64)
        for r, lst in enumerate(pdf["recs"].tolist()):
            if lst is not None and len(lst):
                lst = np.asarray(lst, np.int64)[:k]
                recs[r, : len(lst)] = lst
        t_rows = np.repeat(np.arange(n), [len(t) for t in pdf["truth"]])
        t_cols = np.concatenate([np.asarray(t, np.int64) for t in pdf["truth"]]) if n else np.zeros(0, np.int64)
        truth = sp.csr_matrix((np.ones(len(t_rows)), (t_rows, t_cols)), shape=(n, n_items))
        per = {
            "recall": M.recall(recs, truth, k), "precision": M.precision(recs, truth, k), "ndcg": M.ndcg(recs, truth, k),
            "hit_rate": M.hit_rate(recs, truth, k), "mrr": M.mrr(recs, truth, k),
            "tail_recall": M.tail_recall(recs, truth, tail, k), "head_recall": M.head_recall(recs, truth, tail, k),
            "aplt": M.aplt(recs, tail, k), "arp": M.arp(recs, pop, k), "novelty": M.novelty(recs, pop, n_users, k),
            "diversity": M.intra_list_diversity(recs, vectors, k) if vectors is not None else np.full(n, np.nan),
            "cold_recall": M.cold_recall(recs, truth, cold, k) if cold.any() else np.full(n, np.nan),
        }  # fmt: skip
        out = {"users": np.asarray(n), "cold_truth": np.asarray(truth[:, cold].nnz if cold.any() else 0)}
        for name, values in per.items():
            values = np.asarray(values, np.float64)
            ok = np.isfinite(values)
            out[f"{name}.sum"], out[f"{name}.n"] = np.asarray(values[ok].sum()), np.asarray(ok.sum())
        return out

    return partial
