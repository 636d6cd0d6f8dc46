"""The whole chain on Spark: :func:`fit` returns a :class:`SparkHybrid`, whose
:meth:`~SparkHybrid.recommend` writes every user's list and :meth:`~SparkHybrid.export` a normal
model directory that ``tailwise serve`` serves.

Stages and where they run (``timings`` holds each one's wall time):

========  ==================================================================  ==============
stage     what                                                                where
========  ==================================================================  ==============
ingest    read, check, deduplicate, index ids                                 executors
encode    item texts not in the embedding table, ``mapInPandas``             executors
als       ``pyspark.ml.recommendation.ALS``, implicit preferences             executors
space     ALS subspace, the ridge filter (``d x d`` on the driver)            both
adapter   anchors' kernel ridge (driver), every item's vector (executors)     both
fusion    item gates, moments (summed per partition)                          executors
========  ==================================================================  ==============
"""

from __future__ import annotations

import dataclasses
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from tailwise.data.popularity import tail_mask
from tailwise.models.adapter import Adapter
from tailwise.models.hybrid import Hybrid
from tailwise.spark import adapter as spark_adapter
from tailwise.spark.backbone import als_item_factors, behaviour_space
from tailwise.spark.blocks import with_blocks
from tailwise.spark.encode import encode_items
from tailwise.spark.fusion import FusionStats, fusion_stats, item_blocks, item_table, user_queries
from tailwise.spark.logs import Log
from tailwise.spark.recommend import recommend_blocks

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SparkConfig:
    """Every setting of a Spark fit (the exported hybrid's parameters come from here).

    ``factor_dim`` is ALS's rank; ``als_*`` its settings; ``alpha``, ``evidence``,
    ``tail_share``, ``head_share``, ``factor_norm``, ``factor_l2``, ``adapter_l2`` and
    ``max_tokens`` mean what they mean for :class:`tailwise.models.Hybrid`; ``max_anchors`` for
    :class:`tailwise.models.Adapter`. ``user_block`` and ``item_block`` size the scoring blocks.
    """

    encoder: str = "use"
    factor_dim: int = 64
    als_reg: float = 0.1
    als_alpha: float = 10.0
    als_iterations: int = 10
    factor_norm: float = 0.25
    factor_l2: float = 8.0
    alpha: float = 0.4
    evidence: float = 10.0
    tail_share: float = 0.5
    head_share: float = 0.2
    adapter_l2: float = 1.0
    max_tokens: int = 128
    max_anchors: int = 5000
    seed: int = 42
    user_block: int = 1024
    item_block: int = 32768

    @classmethod
    def from_params(cls, params: dict[str, object]) -> SparkConfig:
        """Settings from ``--param`` values, each checked: an unknown name, a value of the wrong
        type or (through :meth:`hybrid`) out of range is a :class:`~tailwise.errors.DataError`
        naming the parameter."""
        from tailwise.errors import DataError, ParameterError

        fields = {f.name: f for f in dataclasses.fields(cls)}
        values: dict[str, object] = {}
        for key, value in params.items():
            if key not in fields:
                raise DataError(f"unknown Spark parameter {key!r}; choose from {', '.join(fields)}", field=f"param.{key}")
            kind = type(getattr(cls, key))
            if kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, kind) or isinstance(value, bool):
                raise DataError(f"{key} must be a {kind.__name__}, not {value!r}", field=f"param.{key}")
            values[key] = value
        for key in ("factor_dim", "als_iterations", "max_anchors", "user_block", "item_block", "max_tokens"):
            if int(values.get(key, 1)) < 1:
                raise DataError(f"{key} must be at least 1, not {values[key]}", field=f"param.{key}")
        for key in ("als_reg", "als_alpha"):
            if float(values.get(key, 0.0)) < 0:
                raise DataError(f"{key} must not be negative, not {values[key]}", field=f"param.{key}")
        cfg = cls(**values)
        try:
            cfg.hybrid()
        except ParameterError as exc:
            raise DataError(str(exc), field=f"param.{exc.param}") from None
        return cfg

    def hybrid(self) -> Hybrid:
        """The single-machine hybrid with these settings (factor backbone)."""
        from tailwise.models import make_model

        return make_model("hybrid",
            alpha=self.alpha, evidence=self.evidence, tail_share=self.tail_share, head_share=self.head_share,
            encoder=self.encoder, factors=self.factor_dim, adapter_l2=self.adapter_l2, max_tokens=self.max_tokens,
            backbone="factors", factor_dim=self.factor_dim, factor_norm=self.factor_norm, factor_l2=self.factor_l2,
        )  # fmt: skip


@dataclass
class SparkHybrid:
    """A hybrid fitted on Spark: the item table (``i, n, v, q, l, w``) stays on the cluster."""

    spark: Any
    config: SparkConfig
    log: Log
    items: Any
    stats: FusionStats
    adapter: Adapter
    encoded: int
    timings: dict[str, float] = field(default_factory=dict)

    # ------------------------------------------------------------------ recommend
    def recommend(self, k: int = 20, users: Any | None = None, candidates: Any | None = None) -> Any:
        """``(user_id, rank, item_id, score)``: the top-k of every user (or of the ids in the
        ``user_id`` column of `users`), never an item of the user's history; `candidates` (an
        ``item_id`` column) restricts the lists to those items."""
        import pandas as pd
        from pyspark.sql import functions as F

        if k < 1:
            raise ValueError(f"k must be at least 1, not {k}")
        t0 = time.perf_counter()
        inter = self.log.inter
        if users is not None:
            wanted = users.select(F.col("user_id").cast("string")).distinct().join(self.log.users, "user_id")
            inter = inter.join(wanted.select("u"), "u")
        inter_b = with_blocks(inter, self.config.user_block)
        queries = user_queries(inter_b, self.items, self.stats).cache()
        items = self.items
        if candidates is not None:
            allowed = candidates.select(F.col("item_id").cast("string")).distinct().join(self.log.items, "item_id")
            items = items.join(allowed.select("i"), "i")
        pop = self.item_pop()
        tail = tail_mask(pop, self.config.head_share)
        tail_df = self.spark.createDataFrame(pd.DataFrame({"i": np.arange(len(tail), dtype=np.int64), "tail": tail}))
        blocks = item_blocks(items, tail_df, self.config.item_block, self.stats.bias_scale).cache()
        reranker, ctx = self._reranker(pop, tail)
        lists = recommend_blocks(self.spark, queries, blocks, k, self.log.n_items, reranker, ctx)
        out = (
            lists.join(self.log.users, "u").join(self.log.items.select("item_id", "i"), "i")
            .select("user_id", "rank", "item_id", "score")
        )  # fmt: skip
        self.timings["recommend_plan"] = time.perf_counter() - t0
        return out

    def _reranker(self, pop: np.ndarray, tail: np.ndarray) -> tuple[Any, Any]:
        from tailwise.rerank import Exposure, RerankContext

        default = self.config.hybrid().default_exposure()
        reranker = Exposure(**default).reranker() if default else None
        return reranker, (RerankContext(pop, tail) if reranker is not None else None)

    def item_pop(self) -> np.ndarray:
        """Training interactions per item, float64 [n_items] (collected: one number per item)."""
        rows = self.items.select("i", "n").toPandas()
        pop = np.zeros(self.log.n_items, np.float64)
        pop[rows["i"].to_numpy(np.int64)] = rows["n"].to_numpy(np.float64)
        return pop

    # ------------------------------------------------------------------ export
    def export(self, directory: str | Path, meta: dict | None = None) -> Path:
        """Write a model directory ``tailwise serve --model-dir`` serves (see
        :mod:`tailwise.spark.export`)."""
        from tailwise.spark.export import export_model

        return export_model(self, directory, meta or {})


def fit(spark: Any, data: Log, config: SparkConfig | None = None, embedding_table: str | Path | None = None) -> SparkHybrid:
    """Fit the hybrid on an ingested log (:func:`tailwise.spark.logs.ingest`).

    `embedding_table` is the Parquet folder of cached item embeddings (default: ``spark/``
    inside the single-machine cache folder, :func:`tailwise.text.cache.default_cache_dir`;
    on a cluster, give a path every executor reaches).
    """
    from pyspark.sql import functions as F

    from tailwise.text.cache import default_cache_dir

    cfg = config or SparkConfig()
    cfg.hybrid()  # parameters out of range fail here, before any Spark job
    table = str(embedding_table or default_cache_dir() / "spark")
    timings: dict[str, float] = {}

    def timed(name: str, t0: float) -> float:
        timings[name] = round(time.perf_counter() - t0, 3)
        return time.perf_counter()

    t = time.perf_counter()
    counts = data.items.select("i").join(data.inter.groupBy("i").agg(F.count("*").cast("double").alias("n")), "i", "left")
    counts = counts.fillna(0.0, ["n"]).cache()
    emb, encoded = encode_items(spark, data.items, cfg.encoder, cfg.max_tokens, table)
    emb = emb.cache()
    emb.count()
    t = timed("encode", t)
    factors = als_item_factors(data.inter, cfg.factor_dim, cfg.als_reg, cfg.als_alpha, cfg.als_iterations, cfg.seed).cache()
    factors.count()
    t = timed("als", t)
    inter_b = with_blocks(data.inter, cfg.user_block)
    v, cf_filter = behaviour_space(spark, inter_b, factors, counts, cfg.factor_norm, cfg.factor_l2)
    dim = len(cf_filter)
    zero = F.array(*[F.lit(0.0).cast("float") for _ in range(dim)])
    table_df = (
        data.items.select("i", "text").join(counts, "i").join(emb, "i").join(v, "i", "left")
        .withColumn("v", F.coalesce(F.col("v"), zero)).cache()
    )  # fmt: skip
    table_df.count()
    t = timed("space", t)
    adapter = spark_adapter.solve_anchors(table_df, _adapter(cfg, dim), dim)
    lm = spark_adapter.item_vectors(spark, table_df, adapter)
    vectors = table_df.select("i", "n", "v").join(lm, "i")
    items = item_table(vectors, cfg.alpha, cfg.evidence, cfg.factor_norm).cache()
    items.count()
    t = timed("adapter", t)
    stats = fusion_stats(items, data.n_items, cf_filter, cfg.factor_norm)
    timed("fusion", t)
    table_df.unpersist()
    log.info("spark fit: %s", timings)
    return SparkHybrid(spark, cfg, data, items, stats, adapter, encoded, timings)


def _adapter(cfg: SparkConfig, dim: int) -> Adapter:
    return Adapter(encoder=cfg.encoder, factors=dim, l2=cfg.adapter_l2, max_tokens=cfg.max_tokens, max_anchors=cfg.max_anchors, random_state=cfg.seed)


def config_dict(cfg: SparkConfig) -> dict[str, object]:
    """The settings as JSON-ready values (for manifests and benchmark results)."""
    return asdict(cfg)
