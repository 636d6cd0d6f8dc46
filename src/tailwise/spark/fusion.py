"""Evidence-gated fusion on Spark: item and user vectors whose dot product is the hybrid score.

Per item (on the executors): the CF item vector ``q_i = v_i c_i^n``, the language-side vector
``l_i`` and the gate ``w_i = (1 - alpha) c_i / (c_i + evidence)``. Per user the mean and
deviation of each side over the catalogue follow from the column sums and second moments of
``q`` and ``l`` (``d x d`` each, summed per partition on the executors), so the fused user
vector needs only the user's own history items: :class:`tailwise.models.fusion.FusedVectors`
builds both sides, exactly as the served hybrid does.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from tailwise.models.fusion import FusedVectors, Moments
from tailwise.spark.blocks import cogroup_items, local_rows, stack, sum_partitions

#: items of which the bias-column scale is measured (as :func:`tailwise.models.fusion.bias_scale`)
BIAS_SAMPLE = 100_000


@dataclass(frozen=True)
class FusionStats:
    """What every user vector needs: each side's moments, the ridge filter, the bias scale."""

    cf: Moments
    lm: Moments
    cf_filter: np.ndarray
    bias_scale: float
    norm: float


def item_table(vectors: Any, alpha: float, evidence: float, norm: float) -> Any:
    """``(i, n, v, q, l, w)`` from ``(i, n, v, l)``: the CF item vector and the gate per item."""

    def fuse(batches):
        for pdf in batches:
            if len(pdf) == 0:  # an empty batch yields nothing (Arrow cannot type empty list columns)
                continue
            n = pdf["n"].to_numpy(np.float32)
            v = stack(pdf, "v")
            out = pdf.copy()
            out["q"] = list(v * (np.maximum(n, 1.0) ** np.float32(norm)).astype(np.float32)[:, None])
            out["w"] = (1 - alpha) * (n / (n + np.float32(evidence)))
            yield out

    return vectors.mapInPandas(fuse, "i long, n double, v array<float>, l array<float>, q array<float>, w float")


def fusion_stats(items: Any, n_items: int, cf_filter: np.ndarray, norm: float) -> FusionStats:
    """Moments and bias scale of the item table, summed on the executors."""
    step = max(1, n_items // BIAS_SAMPLE)

    def partial(pdf):
        q, l = stack(pdf, "q").astype(np.float64), stack(pdf, "l").astype(np.float64)
        w = pdf["w"].to_numpy(np.float32).astype(np.float64)
        pick = pdf["i"].to_numpy(np.int64) % step == 0
        wp = w[pick, None]
        return {
            "n": np.asarray(len(pdf)), "q": q.sum(axis=0), "qq": q.T @ q, "l": l.sum(axis=0), "ll": l.T @ l,
            "rest": np.asarray(((wp * q[pick]) ** 2).sum() + (((1 - wp) * l[pick]) ** 2).sum()),
            "bias": np.asarray((wp**2).sum() + ((1 - wp) ** 2).sum()), "m": np.asarray(pick.sum()),
        }  # fmt: skip

    s = sum_partitions(items, partial)
    n, d, m = int(s["n"]), s["q"].shape[0], float(s["m"])
    rms_rest, rms_bias = np.sqrt(s["rest"] / (m * 2 * d)), np.sqrt(s["bias"] / (2 * m))
    scale = float(rms_rest / rms_bias) if rms_rest > 0 and rms_bias > 0 else 1.0
    return FusionStats(Moments(n, s["q"], s["qq"]), Moments(n, s["l"], s["ll"]), cf_filter, scale, norm)


def user_queries(inter_b: Any, items: Any, stats: FusionStats) -> Any:
    """One row per user block: ``users``, the fused user vectors (``queries``, float32 bytes,
    ``dim`` wide) and the histories (``indptr``, ``hist``: global item indices)."""
    import pandas as pd

    def build(history, block):
        if len(history) == 0:
            return pd.DataFrame(columns=["ub", "users", "queries", "dim", "indptr", "hist"])
        users, rows, local = local_rows(history, block)
        order = np.argsort(block["i"].to_numpy(np.int64), kind="stable")
        v, q, l = (stack(block, c, order) for c in ("v", "q", "l"))
        counts = block["n"].to_numpy(np.float32)[order]
        scale = (np.maximum(counts, 1.0) ** -stats.norm).astype(np.float32)
        scaled = rows.copy()
        scaled.data = rows.data * scale[rows.indices]
        cf_users = np.asarray(scaled @ v, dtype=np.float32) * stats.cf_filter
        lm_users = np.asarray(rows @ v, dtype=np.float32)
        fused = FusedVectors(q, l, np.zeros(len(q), np.float32), stats.cf, stats.lm, stats.bias_scale)
        queries = fused.queries(cf_users, lm_users, rows)
        return pd.DataFrame({
            "ub": [int(history["ub"].iloc[0])], "users": [users], "queries": [queries.tobytes()],
            "dim": [queries.shape[1]], "indptr": [rows.indptr.astype(np.int64)], "hist": [local[rows.indices]],
        })  # fmt: skip

    schema = "ub long, users array<long>, queries binary, dim int, indptr array<long>, hist array<long>"
    return cogroup_items(inter_b, items.select("i", "n", "v", "q", "l"), build, schema)


def item_blocks(items: Any, tail: Any, block: int, bias: float) -> Any:
    """The fused item vectors in blocks of `block` consecutive indices: ``(ib, items, vectors,
    dim, tail)``; `tail` is ``(i, tail)``."""
    import pandas as pd
    from pyspark.sql import functions as F

    def pack(pdf):
        order = np.argsort(pdf["i"].to_numpy(np.int64), kind="stable")
        q, l = stack(pdf, "q", order), stack(pdf, "l", order)
        w = pdf["w"].to_numpy(np.float32)[order][:, None]
        b = np.float32(bias)
        vecs = np.hstack([w * q, (1 - w) * l, b * w, b * (1 - w)]).astype(np.float32)
        return pd.DataFrame({
            "ib": [int(pdf["ib"].iloc[0])], "items": [pdf["i"].to_numpy(np.int64)[order]],
            "vectors": [vecs.tobytes()], "dim": [vecs.shape[1]], "tail": [pdf["tail"].to_numpy(bool)[order]],
        })  # fmt: skip

    keyed = items.join(tail, "i").withColumn("ib", (F.col("i") / block).cast("long"))
    keyed = keyed.select("ib", "i", "q", "l", "w", "tail")
    return keyed.groupBy("ib").applyInPandas(pack, "ib long, items array<long>, vectors binary, dim int, tail array<boolean>")
