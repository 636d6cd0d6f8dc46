"""Block plumbing shared by the Spark stages: users in blocks of consecutive indices, each
block's histories with the vectors of only the items those histories touch (a cogroup, so the
shuffle is per block and distinct item, not per interaction), and sums of NumPy arrays
computed per partition on the executors and added up on the driver.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp


def with_blocks(inter: Any, block: int) -> Any:
    """`inter` (``u``, ``i``) with ``ub = u // block``, the user block of each interaction."""
    from pyspark.sql import functions as F

    return inter.withColumn("ub", (F.col("u") / block).cast("long"))


def cogroup_items(inter_b: Any, item_table: Any, fn: Callable, schema: str) -> Any:
    """Run ``fn(history, items)`` per user block: `history` the block's ``(ub, u, i)`` rows,
    `items` the rows of `item_table` (keyed by ``i``) for the items those histories hold."""
    from pyspark.sql import functions as F

    # fresh column ids on one side: both sides derive from `inter_b`, an ambiguous self-join otherwise
    pairs = inter_b.select(F.col("ub").alias("ub"), F.col("i").alias("i")).distinct().join(item_table, "i")
    return inter_b.select("ub", "u", "i").groupBy("ub").cogroup(pairs.groupBy("ub")).applyInPandas(fn, schema)


def local_rows(history: Any, items: Any) -> tuple[np.ndarray, sp.csr_matrix, np.ndarray]:
    """(users sorted, their binary history rows over the block's local items, the local items'
    global indices sorted) from a block's history and item frames."""
    users = np.unique(history["u"].to_numpy(np.int64))
    local = np.sort(items["i"].to_numpy(np.int64))
    r = np.searchsorted(users, history["u"].to_numpy(np.int64))
    c = np.searchsorted(local, history["i"].to_numpy(np.int64))
    rows = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(len(users), len(local)))
    rows.sum_duplicates()
    rows.data[:] = 1.0
    return users, rows, local


def stack(items: Any, col: str, order: np.ndarray | None = None) -> np.ndarray:
    """The array column `col` of a pandas frame as a float32 matrix (rows in `order`)."""
    values = items[col].to_numpy()
    if order is not None:
        values = values[order]
    if len(values) == 0:
        return np.zeros((0, 0), np.float32)
    return np.stack([np.asarray(v, dtype=np.float32) for v in values])


def by_item(items: Any) -> np.ndarray:
    """The order that sorts an item frame by ``i``."""
    return np.argsort(items["i"].to_numpy(np.int64), kind="stable")


def sum_partitions(df: Any, partial: Callable[[Any], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Sum, over every partition of `df`, the float64 arrays ``partial(pandas batch)`` returns
    (computed on the executors; only the per-partition sums reach the driver)."""
    import pandas as pd

    def run(batches: Iterator[Any]) -> Iterator[Any]:
        total: dict[str, np.ndarray] = {}
        for pdf in batches:
            for key, value in partial(pdf).items():
                value = np.asarray(value, dtype=np.float64)
                total[key] = total[key] + value if key in total else value
        if not total:  # a partition without rows sends nothing (an empty frame has no list types)
            return
        yield pd.DataFrame({
            "key": list(total), "shape": [list(v.shape) for v in total.values()],
            "data": [v.ravel().tobytes() for v in total.values()],
        })  # fmt: skip

    out: dict[str, np.ndarray] = {}
    for row in df.mapInPandas(run, "key string, shape array<long>, data binary").collect():
        value = np.frombuffer(row["data"], dtype=np.float64).reshape(row["shape"])
        out[row["key"]] = out[row["key"]] + value if row["key"] in out else value.copy()
    return out
