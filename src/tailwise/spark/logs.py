"""Ingest on Spark: read Parquet/CSV, check the columns, deduplicate, index the ids.

Everything here is a DataFrame operation (distributed): the ids are indexed by sorting the
distinct ids and numbering them (``zipWithIndex``), so user ``u`` and item ``i`` are the
positions of their ids in string order, the order the exported model directory keeps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tailwise.errors import DataError

#: file name endings read as CSV (with a header) and the separator each implies
DELIMITED = {".csv": ",", ".csv.gz": ",", ".tsv": "\t", ".tsv.gz": "\t"}


@dataclass(frozen=True)
class Log:
    """An indexed interaction log on Spark.

    ``inter`` holds ``(u, i)`` pairs, one per distinct (user, item), cached; ``users`` maps
    ``user_id -> u``, ``items`` maps ``item_id -> i`` with each item's ``text`` ("" when none).
    """

    inter: Any
    users: Any
    items: Any
    n_users: int
    n_items: int


def _local(path: str) -> Path | None:
    """The local file behind `path`, or None for a URI of another file system (hdfs://, s3a://)."""
    if "://" in path and not path.startswith("file://"):
        return None
    return Path(path.removeprefix("file://"))


def read_table(spark: Any, path: str | Path, fmt: str | None = None, sep: str | None = None, what: str = "interactions") -> Any:
    """A DataFrame of the Parquet or CSV/TSV file (or folder) at `path`.

    `fmt` is ``"parquet"``, ``"csv"`` or ``"tsv"`` (default: from the name; a folder is
    Parquet). CSV files need a header; every column is read as a string.

    Raises
    ------
    DataError
        When a local path does not exist, or the file holds no rows.
    """
    path = str(path)
    local = _local(path)
    if local is not None and not local.exists():
        raise DataError(f"the {what} file does not exist", path=path)
    name = path.lower()
    if fmt is None:
        fmt = next(("tsv" if "tsv" in end else "csv" for end in DELIMITED if name.endswith(end)), "parquet")
    if fmt not in ("parquet", "csv", "tsv"):
        raise DataError(f"unknown format {fmt!r}; choose parquet, csv or tsv", path=path, field="format")
    from py4j.protocol import Py4JJavaError
    from pyspark.errors import PySparkException

    try:
        if fmt == "parquet":
            df = spark.read.parquet(path)
        else:
            df = spark.read.option("header", "true").option("sep", sep or ("\t" if fmt == "tsv" else ",")).csv(path)
    except (PySparkException, Py4JJavaError) as exc:  # name the file, not the JVM stack
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"Spark cannot read it as {fmt}: {first}", path=path) from None
    if not df.columns or df.limit(1).count() == 0:
        raise DataError(f"the {what} file holds no rows", path=path)
    return df


def require_columns(df: Any, columns: list[str], path: str | Path | None, what: str) -> None:
    """A DataError naming the first missing column and the columns there are."""
    for col in columns:
        if col not in df.columns:
            raise DataError(f"the {what} have no column {col!r} (columns: {', '.join(df.columns)})", path=path, field=col)


def index_ids(ids: Any, col: str, idx: str) -> Any:
    """``(col, idx)``: the distinct values of `col` numbered 0.. in string order."""
    distinct = ids.select(ids[col].cast("string").alias(col)).distinct().orderBy(col)
    pairs = distinct.rdd.map(lambda row: row[0]).zipWithIndex()
    return ids.sparkSession.createDataFrame(pairs, f"{col} string, {idx} long")  # a schema: no sampling job


def ingest(
    spark: Any,
    interactions: Any,
    items: Any | None = None,
    user_col: str = "user_id",
    item_col: str = "item_id",
    text_cols: list[str] | None = None,
    source: str | Path | None = None,
    items_source: str | Path | None = None,
) -> Log:
    """Check, deduplicate and index an interaction DataFrame (and an optional item table).

    `items` holds `item_col` and text columns (`text_cols`, default every other column,
    joined by ``". "``); items listed there without interactions join the catalogue as cold
    items. `source` and `items_source` name the files in errors.

    Raises
    ------
    DataError
        For a missing column, an empty input, or an item listed twice in `items`.
    """
    from pyspark.sql import functions as F

    require_columns(interactions, [user_col, item_col], source, "interactions")
    pairs = (
        interactions.select(F.col(user_col).cast("string").alias("user_id"), F.col(item_col).cast("string").alias("item_id"))
        .where(F.col("user_id").isNotNull() & F.col("item_id").isNotNull())
        .distinct()
    )
    if pairs.limit(1).count() == 0:
        raise DataError("the interactions hold no rows with both a user and an item id", path=source)
    texts = None
    if items is not None:
        require_columns(items, [item_col], items_source, "items")
        cols = text_cols or [c for c in items.columns if c != item_col]
        require_columns(items, cols, items_source, "items")
        parts = [F.when(F.trim(F.col(c).cast("string")).isin("", "N/A"), None).otherwise(F.trim(F.col(c).cast("string"))) for c in cols]
        texts = items.select(F.col(item_col).cast("string").alias("item_id"), F.concat_ws(". ", *parts).alias("text")).where(F.col("item_id").isNotNull())
        twice = texts.groupBy("item_id").count().where("count > 1").limit(1).collect()
        if twice:
            raise DataError(f"item {twice[0]['item_id']!r} is listed {twice[0]['count']} times", path=items_source, field=item_col)
    users = index_ids(pairs, "user_id", "u")
    item_ids = pairs.select("item_id") if texts is None else pairs.select("item_id").unionByName(texts.select("item_id"))
    item_map = index_ids(item_ids, "item_id", "i")
    if texts is not None:
        item_map = item_map.join(texts, "item_id", "left")
    else:
        item_map = item_map.withColumn("text", F.lit(""))
    item_map = item_map.withColumn("text", F.coalesce(F.col("text"), F.lit(""))).cache()
    users = users.cache()
    inter = pairs.join(users, "user_id").join(item_map.select("item_id", "i"), "item_id").select("u", "i").cache()
    return Log(inter, users, item_map, users.count(), item_map.count())
