"""tailwise on Spark: the hybrid's chain on DataFrames, writing a normal model directory.

Needs the ``spark`` extra (``pip install "tailwise[spark]"``) and a Java runtime; nothing here
is imported by ``import tailwise``, and this package imports pyspark only when a function runs.

>>> from tailwise.spark import SparkConfig
>>> SparkConfig().encoder
'use'

Typical use, with a session of your own (or :func:`start_session`)::

    from tailwise.spark import SparkConfig, evaluate, fit, ingest, read_table, start_session
    spark = start_session("local[*]")
    log = ingest(spark, read_table(spark, "interactions.parquet"), read_table(spark, "items.csv", what="items"))
    model = fit(spark, log, SparkConfig(factor_dim=128))
    model.recommend(k=20).write.parquet("recs.parquet")
    model.export("model-dir")              # tailwise serve --model-dir model-dir
"""

from __future__ import annotations

from tailwise.spark.session import parse_conf, require_spark, start_session

__all__ = ["SparkConfig", "SparkHybrid", "evaluate", "fit", "ingest", "parse_conf", "read_table", "require_spark", "start_session"]


def __getattr__(name: str):  # the stages import on first use (they need numpy/scipy only at import)
    if name in ("SparkConfig", "SparkHybrid", "fit"):
        from tailwise.spark import model as module

        return getattr(module, name)
    if name in ("ingest", "read_table"):
        from tailwise.spark import logs as module

        return getattr(module, name)
    if name == "evaluate":
        from tailwise.spark.metrics import evaluate

        return evaluate
    raise AttributeError(f"module 'tailwise.spark' has no attribute {name!r}")
