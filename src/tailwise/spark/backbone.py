"""The CF backbone on Spark: ``pyspark.ml.recommendation.ALS`` (implicit preferences), turned
into the behaviour space of the hybrid's factor backbone.

ALS learns item factors ``Y`` [items, d]. Their column space is the behaviour subspace: with
``Y^T Y = W S^2 W^T``, ``U = Y W S^-1`` is an orthonormal basis of it. Inside that subspace the
hybrid's ridge filter is fitted exactly as on one machine (:class:`tailwise.models.Hybrid`,
factor backbone): ``G = U^T D^-n X^T X D^-n U`` (the popularity-normalised co-occurrences seen
through the subspace, summed over users on the executors) has eigenvectors ``R`` and values
``s``; the item factors are ``V = U R`` and the filter ``s / (s + lambda)``, ``lambda =
factor_l2 * mean_i c_i^(1 - 2n)``. So the CF score is ``(x_u D^-n V diag(f)) . (v_i c_i^n)``,
the hybrid's own formula with ALS's subspace in place of the spectral one; what is solved on
the driver is ``d x d``.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from tailwise.spark.blocks import cogroup_items, local_rows, stack, sum_partitions

log = logging.getLogger(__name__)


def als_item_factors(inter: Any, rank: int, reg: float, alpha: float, iterations: int, seed: int) -> Any:
    """``(i, y)``: ALS item factors of the items with interactions (implicit preferences)."""
    from pyspark.ml.recommendation import ALS
    from pyspark.sql import functions as F

    ratings = inter.select(F.col("u").cast("int").alias("u"), F.col("i").cast("int").alias("i"), F.lit(1.0).alias("r"))
    als = ALS(
        rank=rank, maxIter=iterations, regParam=reg, alpha=alpha, implicitPrefs=True, userCol="u",
        itemCol="i", ratingCol="r", seed=seed, coldStartStrategy="drop",
    )  # fmt: skip
    model = als.fit(ratings)
    return model.itemFactors.select(F.col("id").cast("long").alias("i"), F.col("features").alias("y"))


def _gram_of(col: str):
    def gram(pdf) -> dict[str, np.ndarray]:
        y = stack(pdf, col).astype(np.float64)
        return {"g": y.T @ y}

    return gram


def _times(matrix: np.ndarray, src: str, dst: str):
    def apply(batches):
        for pdf in batches:
            if len(pdf) == 0:  # an empty batch yields nothing (Arrow cannot type empty list columns)
                continue
            y = stack(pdf, src)
            out = pdf[["i"]].copy()
            out[dst] = list((y.astype(np.float64) @ matrix).astype(np.float32))
            yield out

    return apply


def behaviour_space(spark: Any, inter_b: Any, factors: Any, counts: Any, norm: float, l2: float) -> tuple[Any, np.ndarray]:
    """``(i, v)`` item factors ``V`` and the ridge filter (see the module docstring).

    `inter_b` is the log with user blocks, `factors` ALS's ``(i, y)``, `counts` ``(i, n)``
    training interactions per item."""
    yty = sum_partitions(factors, _gram_of("y"))["g"]
    s2, w = np.linalg.eigh(yty)
    keep = s2 > 1e-9 * max(float(s2.max()), 1e-30)
    basis = w[:, keep] / np.sqrt(s2[keep])[None, :]  # U = Y basis
    table = factors.join(counts, "i").mapInPandas(_times(basis, "y", "uvec"), "i long, uvec array<float>").join(counts, "i")

    def gram(history, items):
        import pandas as pd

        order = np.argsort(items["i"].to_numpy(np.int64), kind="stable")
        _, rows, _ = local_rows(history, items)
        u = stack(items, "uvec", order).astype(np.float64)
        c = items["n"].to_numpy(np.float64)[order]
        z = rows @ (u * np.maximum(c, 1.0)[:, None] ** -norm)
        g = z.T @ z
        return pd.DataFrame({"shape": [list(g.shape)], "data": [g.ravel().tobytes()]})

    parts = cogroup_items(inter_b, table, gram, "shape array<long>, data binary").collect()
    g = sum(np.frombuffer(p["data"], np.float64).reshape(p["shape"]) for p in parts)
    vals, r = np.linalg.eigh(g)
    order = np.argsort(vals)[::-1]
    vals, r = vals[order], r[:, order]
    from pyspark.sql import functions as F

    mean = counts.where("n > 0").select(F.avg(F.pow(F.col("n").cast("double"), 1 - 2 * norm))).first()[0]
    lam = l2 * float(mean) if mean is not None else 0.0
    cf_filter = (vals / np.maximum(vals + lam, 1e-12)).astype(np.float32)
    v = factors.mapInPandas(_times(basis @ r, "y", "v"), "i long, v array<float>")
    log.info("behaviour space: %d ALS directions, filter %.3f..%.3f", len(vals), cf_filter.max(), cf_filter.min())
    return v, cf_filter
