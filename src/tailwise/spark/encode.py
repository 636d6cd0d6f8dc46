"""Item-text encoding on the executors, cached in an embedding table keyed by text hash.

Each item's text is cut to the token budget and hashed (the 16-byte BLAKE2b of the single-
machine cache, :func:`tailwise.text.cache.text_key`, in hex). The embedding table is a Parquet
folder per encoder, ``<table>/<encoder folder>/``, of ``(key, emb)`` rows: a fit anti-joins the
catalogue's keys against it, encodes only the texts it lacks in ``mapInPandas`` (each Python
worker builds the encoder once and keeps it), and appends them. A refit on the same texts
encodes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

#: encoders built in this Python worker, by spec (a worker encodes many partitions)
_ENCODERS: dict[str, Any] = {}


def worker_encoder(spec: str) -> Any:
    """The encoder `spec` names, built once per Python process."""
    from tailwise.text.encoders import make_encoder

    enc = _ENCODERS.get(spec)
    if enc is None:
        enc = _ENCODERS[spec] = make_encoder(spec)
    return enc


def table_folder(table: str | Path, spec: str) -> str:
    """The Parquet folder of `spec`'s embeddings inside the embedding table `table`.

    Raises
    ------
    ValueError
        For an encoder fitted on the catalogue (TF-IDF): its vectors depend on every text, so
        they cannot be cached text by text or encoded partition by partition.
    """
    from tailwise.text.cache import folder_name
    from tailwise.text.side import needs_catalogue

    if needs_catalogue(spec):
        raise ValueError(f"the {spec!r} encoder is fitted on the whole catalogue and cannot run on Spark; use use, hash:<dim>, onnx-minilm or e5")
    return f"{str(table).rstrip('/')}/{folder_name(worker_encoder(spec).id)}"


def _keys(max_tokens: int):
    def keyed(batches: Iterator[Any]) -> Iterator[Any]:
        from tailwise.text.cache import text_key
        from tailwise.text.template import truncate_words

        for pdf in batches:
            if len(pdf) == 0:  # an empty batch yields nothing (Arrow cannot type empty list columns)
                continue
            clipped = [truncate_words(t, max_tokens) for t in pdf["text"].tolist()]
            pdf = pdf[["i"]].copy()
            pdf["key"] = [text_key(t).hex() for t in clipped]
            pdf["clipped"] = clipped
            yield pdf

    return keyed


def _encode(spec: str):
    def encode(batches: Iterator[Any]) -> Iterator[Any]:
        import pandas as pd

        enc = worker_encoder(spec)
        for pdf in batches:
            if len(pdf) == 0:  # an empty batch yields nothing (Arrow cannot type empty list columns)
                continue
            vecs = np.asarray(enc.encode_items(pdf["clipped"].tolist(), progress=False), dtype=np.float32)
            yield pd.DataFrame({"key": pdf["key"], "emb": list(vecs)})

    return encode


def _read_cache(spark: Any, folder: str) -> Any | None:
    from tailwise.spark.logs import _local

    local = _local(folder)
    if local is not None and not local.exists():
        return None
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        return spark.read.parquet(folder)
    except (PySparkException, Py4JJavaError):  # no table yet (a first fit), or an empty folder
        return None


def encode_items(spark: Any, items: Any, spec: str, max_tokens: int, table: str | Path, partitions: int | None = None) -> tuple[Any, int]:
    """``(i, emb)`` for every item of ``items`` (columns ``i``, ``text``), and how many distinct
    texts had to be encoded (0 when the table held them all)."""
    folder = table_folder(table, spec)
    keyed = items.select("i", "text").mapInPandas(_keys(max_tokens), "i long, key string, clipped string").cache()
    cached = _read_cache(spark, folder)
    todo = keyed.select("key", "clipped").dropDuplicates(["key"])
    if cached is not None:
        todo = todo.join(cached.select("key"), "key", "left_anti")
    todo = todo.cache()
    n_new = todo.count()
    if n_new:
        parts = partitions or spark.sparkContext.defaultParallelism
        log.info("encoding %d new item texts with %s on %d partitions", n_new, spec, parts)
        fresh = todo.repartition(parts).mapInPandas(_encode(spec), "key string, emb array<float>")
        fresh.write.mode("append").parquet(folder)
        cached = spark.read.parquet(folder)
    todo.unpersist()
    emb = keyed.join(cached.dropDuplicates(["key"]), "key").select("i", "emb")
    return emb, int(n_new)
