"""The adapter on Spark: a bounded anchor set solved on the driver, every item's behaviour
vector computed on the executors.

The anchors are the ``max_anchors`` items with the most interactions (ties: lower index), as
in :class:`tailwise.models.Adapter`. Their texts, embeddings and behaviour factors are collected
to the driver, where the kernel ridge ``(K_aa + l2 I) dual = V_a`` is solved (``max_anchors^3``
time, ``max_anchors^2`` memory, whatever the catalogue). The TF-IDF vocabulary and the year
scale are fitted on the anchors' texts (on one machine they are fitted on every text). The
anchors' views and ``dual`` are broadcast, and each executor computes ``v_hat_i = k(i, anchors)
dual`` for its items with :meth:`TextSide.views_like <tailwise.text.side.TextSide.views_like>`,
the function that places new items in a served model.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla

from tailwise.models.adapter import Adapter
from tailwise.spark.blocks import by_item, stack
from tailwise.text.side import TextSide


def solve_anchors(table: Any, adapter: Adapter, dim: int) -> Adapter:
    """Collect the anchors of `table` (``i, n, text, emb, v``), solve the kernel ridge on the
    driver and keep the anchors' views in `adapter` (which then places any text)."""
    from pyspark.sql import functions as F

    anchors = (
        table.where("n > 0").orderBy(F.col("n").desc(), F.col("i").asc()).limit(adapter.max_anchors)
        .select("i", "text", "emb", "v").toPandas()
    )  # fmt: skip
    order = by_item(anchors)
    texts = anchors["text"].to_numpy()[order].tolist()
    feats, state = TextSide._views(texts, stack(anchors, "emb", order), adapter.tfidf, adapter.year)
    targets = stack(anchors, "v", order) if len(anchors) else np.zeros((0, dim), np.float32)
    k_ww = feats.kernel(feats)
    k_ww[np.diag_indices_from(k_ww)] += np.float32(adapter.l2)
    dual = sla.solve(k_ww, targets, assume_a="pos", overwrite_a=True, check_finite=False) if len(anchors) else targets
    adapter.dual_ = dual.astype(np.float32)
    adapter._keep_anchors(feats, state)
    return adapter


def item_vectors(spark: Any, table: Any, adapter: Adapter) -> Any:
    """``(i, l)``: every item's text-predicted behaviour vector, computed on the executors."""
    state = {k: getattr(adapter, f"text_{k}_") for k in adapter.text_state_.tolist()}
    shared = spark.sparkContext.broadcast((adapter._anchors(), state, adapter.dual_))

    def place(batches):
        anchors, st, dual = shared.value
        for pdf in batches:
            if len(pdf) == 0:  # an empty batch yields nothing (Arrow cannot type empty list columns)
                continue
            out = pdf[["i"]].copy()
            feats = TextSide.views_like(pdf["text"].tolist(), stack(pdf, "emb"), st)
            out["l"] = list((feats.kernel(anchors) @ dual).astype(np.float32))
            yield out

    return table.select("i", "text", "emb").mapInPandas(place, "i long, l array<float>")
