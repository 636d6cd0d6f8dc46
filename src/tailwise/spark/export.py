"""A Spark-fitted hybrid as a normal model directory (manifest, arrays, ids, history, texts).

The item arrays (behaviour factors, text-predicted vectors, counts), the ids and the training
history are collected to the driver and written through :meth:`tailwise.pipeline.Pipeline.save`,
so the directory is exactly what ``tailwise fit`` writes for the hybrid's factor backbone:
``tailwise serve --model-dir`` and ``tailwise recommend`` read it, and the ANN index is built
when the catalogue is large enough to call for one. What the driver holds here is what the
served model holds: ``n_items x (2 d)`` floats plus the history.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from tailwise.data.idmap import IdMap
from tailwise.models.hybrid import Hybrid
from tailwise.spark.blocks import stack


def exported_hybrid(model: Any) -> Hybrid:
    """The single-machine :class:`Hybrid` holding the Spark fit's arrays."""
    n_items, n_users = model.log.n_items, model.log.n_users
    rows = model.items.select("i", "n", "v", "l").toPandas()
    order = np.argsort(rows["i"].to_numpy(np.int64), kind="stable")
    if not np.array_equal(rows["i"].to_numpy(np.int64)[order], np.arange(n_items)):
        raise RuntimeError("the item table does not hold every item index once")
    adapter = model.adapter
    adapter.item_factors_ = stack(rows, "v", order)
    adapter.item_vectors_ = stack(rows, "l", order)
    adapter.n_items_, adapter.n_users_ = n_items, n_users
    dim = adapter.item_factors_.shape[1]
    state = {f"adapter.{k}": v for k, v in adapter.get_state().items()}
    state.update(
        item_counts_=rows["n"].to_numpy(np.float32)[order], backbone_=np.asarray("factors"),
        cf_filter_=np.asarray(model.stats.cf_filter, np.float32), bias_scale_=np.asarray(model.stats.bias_scale),
        n_items_=np.asarray(n_items), n_users_=np.asarray(n_users),
    )  # fmt: skip
    cfg = model.config
    hybrid = dataclasses.replace(cfg, factor_dim=dim).hybrid()
    return hybrid.set_state(state)


def _ids(df: Any, col: str, idx: str, n: int) -> IdMap:
    rows = df.select(col, idx).toPandas()
    ids = np.empty(n, dtype=object)
    ids[rows[idx].to_numpy(np.int64)] = rows[col].to_numpy()
    return IdMap(ids.tolist())


def export_model(model: Any, directory: str | Path, meta: dict) -> Path:
    """Write `model` (a :class:`tailwise.spark.model.SparkHybrid`) to `directory`."""
    from tailwise.index import pipeline_index
    from tailwise.pipeline import Pipeline
    from tailwise.spark.model import config_dict

    data = model.log
    hybrid = exported_hybrid(model)
    pairs = data.inter.toPandas()
    history = sp.csr_matrix(
        (np.ones(len(pairs), np.float32), (pairs["u"].to_numpy(np.int64), pairs["i"].to_numpy(np.int64))),
        shape=(data.n_users, data.n_items), dtype=np.float32,
    )
    history.sum_duplicates()
    history.sort_indices()
    texts = data.items.select("i", "text").toPandas()
    item_text = np.empty(data.n_items, dtype=object)
    item_text[texts["i"].to_numpy(np.int64)] = texts["text"].to_numpy()
    info = {
        "fitted_on": "spark", "spark": config_dict(model.config), "stage_seconds": dict(model.timings),
        "dataset": {"users": data.n_users, "items": data.n_items, "interactions": int(history.nnz)},
        "fit_info": {"backbone": "factors", "why": "fitted on Spark: ALS's subspace with the hybrid's ridge filter"}, **meta,
    }  # fmt: skip
    pipe = Pipeline(hybrid, _ids(data.users, "user_id", "u", data.n_users), _ids(data.items, "item_id", "i", data.n_items),
                    history, [str(t) for t in item_text], info, index=pipeline_index(hybrid), head_share=model.config.head_share)  # fmt: skip
    return pipe.save(directory)


def load_model(spark: Any, directory: str | Path) -> Any:
    """A :class:`tailwise.spark.model.SparkHybrid` from a model directory (one exported by a
    Spark fit, or a single-machine hybrid with the factor backbone and gate fusion), so that
    its lists for every user are computed on the cluster.

    Raises
    ------
    DataError
        When the directory is damaged, or holds another model.
    """
    import pandas as pd

    from tailwise.errors import DataError
    from tailwise.pipeline.directory import read_model_dir
    from tailwise.spark.fusion import fusion_stats, item_table
    from tailwise.spark.logs import Log
    from tailwise.spark.model import SparkConfig, SparkHybrid

    d = read_model_dir(directory)
    h = d.model
    if not isinstance(h, Hybrid) or not h.dot_product or h.fusion != "gate":
        raise DataError(f"Spark recommends for the hybrid with the factor backbone and gate fusion; this directory holds {h.name} "
                        f"({getattr(h, 'backbone_', '-')} backbone, {getattr(h, 'fusion', '-')} fusion)", path=Path(directory) / "manifest.json")  # fmt: skip
    fields = {f.name for f in dataclasses.fields(SparkConfig)}
    saved = {k: v for k, v in d.meta.get("spark", {}).items() if k in fields}
    params = {k: v for k, v in h.get_params().items() if k in fields}
    cfg = SparkConfig(**{**saved, **params})
    users = spark.createDataFrame(pd.DataFrame({"user_id": d.users.ids.tolist(), "u": np.arange(len(d.users), dtype=np.int64)}))
    items = spark.createDataFrame(pd.DataFrame({"item_id": d.items.ids.tolist(), "i": np.arange(len(d.items), dtype=np.int64), "text": d.item_text}))
    r, c = d.history.nonzero()
    inter = spark.createDataFrame(pd.DataFrame({"u": r.astype(np.int64), "i": c.astype(np.int64)})).cache()
    a = h.adapter_
    vec = pd.DataFrame({"i": np.arange(len(d.items), dtype=np.int64), "n": np.asarray(h.item_counts_, np.float64),
                        "v": list(a.item_factors_), "l": list(a.item_vectors_)})  # fmt: skip
    vectors = spark.createDataFrame(vec, "i long, n double, v array<float>, l array<float>")
    table = item_table(vectors, cfg.alpha, cfg.evidence, cfg.factor_norm).cache()
    stats = dataclasses.replace(fusion_stats(table, len(d.items), np.asarray(h.cf_filter_), cfg.factor_norm), bias_scale=float(h.bias_scale_))
    return SparkHybrid(spark, cfg, Log(inter, users.cache(), items.cache(), len(d.users), len(d.items)), table, stats, a, 0, {})
