"""tailwise on Spark against the single-machine hybrid on ml-1m, in local mode.

    python bench/spark_ml1m.py                      # local[2], the default settings
    python bench/spark_ml1m.py --master 'local[4]' --conf spark.driver.memory=8g

Per-user random 80/20 split (seed 42) and the cold-item split (10% of items, seed 42), K = 20.
For each split: the single-machine hybrid with its factor backbone (``backbone=factors``; the
hybrid has no ALS backbone) is fitted and scored by ``tailwise evaluate``'s evaluator; the Spark
chain fits on the same training interactions (ids as strings, the whole catalogue with its
texts), writes every judged user's top-20 (ranking among the held-out items on the cold split),
and its lists are scored by the same evaluator and by the Spark evaluator (the largest
difference between the two is reported). The encoding stage is then run again on the same
catalogue (what a refit encodes: nothing). Wall times per stage; writes ``bench/results/spark-ml-1m.json``.
Item ids are put in string order first, the order Spark indexes them in, so both sides count the
same items as tail.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent
DATA = ROOT.parent / ".." / "shared" / "data"
COLS = ("ndcg", "recall", "tail_recall", "coverage", "aplt", "cold_recall")


def sorted_ids(ds):
    """The same dataset with users and items indexed in id string order."""
    from tailwise.data.dataset import Dataset
    from tailwise.data.idmap import IdMap

    users, items = IdMap(sorted(ds.users.ids.tolist())), IdMap(sorted(ds.items.ids.tolist()))
    text = None if ds.item_text is None else np.asarray(ds.item_text, dtype=object)[ds.items.indices(items.ids.tolist())]
    return Dataset(users=users, items=items, user_idx=users.indices(ds.users.ids[ds.user_idx].tolist()),
                   item_idx=items.indices(ds.items.ids[ds.item_idx].tolist()), item_text=text, name=ds.name)  # fmt: skip


def frames(spark, ds):
    import pandas as pd

    pairs = pd.DataFrame({"user_id": ds.users.ids[ds.user_idx], "item_id": ds.items.ids[ds.item_idx]})
    return spark.createDataFrame(pairs)


def main() -> None:
    from tailwise.data import load_movielens
    from tailwise.data.splits import cold_items, random_holdout
    from tailwise.eval.evaluator import EvalContext, evaluate_model
    from tailwise.models import Hybrid
    from tailwise.ranking import Recommendations
    from tailwise.spark import SparkConfig, evaluate, fit, ingest, parse_conf, start_session
    from tailwise.spark.encode import encode_items

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--conf", action="append", default=[])
    ap.add_argument("--factor-dim", type=int, default=SparkConfig.factor_dim)
    ap.add_argument("--als-iterations", type=int, default=SparkConfig.als_iterations)
    ap.add_argument("--skip-single", action="store_true", help="only the Spark side")
    ap.add_argument("--splits", default="random,cold", help="which splits to run (results merge into the JSON file)")
    args = ap.parse_args()
    import pandas as pd

    ds = sorted_ids(load_movielens(DATA / "ml-1m"))
    work = Path(tempfile.mkdtemp(prefix="tailwise-spark-bench-"))
    conf = {"spark.driver.memory": "6g", "spark.sql.shuffle.partitions": "8", "spark.local.dir": str(work / "local"),
            "spark.sql.warehouse.dir": str(work / "warehouse"), "spark.ui.enabled": "false", **parse_conf(args.conf)}  # fmt: skip
    spark = start_session(args.master, conf, "tailwise-bench")
    items = spark.createDataFrame(pd.DataFrame({"item_id": ds.items.ids, "title": ds.texts()}))
    cfg = SparkConfig(factor_dim=args.factor_dim, als_iterations=args.als_iterations)
    out: dict = {"master": args.master, "conf": {k: v for k, v in conf.items() if "dir" not in k}, "config": cfg.__dict__, "splits": {}}
    table = work / "embeddings"
    makers = {"random": lambda: random_holdout(ds, 0.2, 42), "cold": lambda: cold_items(ds, 0.1, 42)}
    for name in args.splits.split(","):
        split = makers[name]()
        ctx = EvalContext.build(split, k=20)
        res: dict = {"users": len(ctx.users)}
        if not args.skip_single:
            row = evaluate_model(Hybrid(backbone="factors", cache_dir=str(work / "cache")), ctx)
            res["single"] = {k: row.get(k) for k in (*COLS, "fit_s", "recommend_s")}
            print(f"{name} single: {res['single']}", file=sys.stderr)
        t0 = time.perf_counter()
        train = frames(spark, split.train)
        log = ingest(spark, train, items)
        t_ingest = time.perf_counter() - t0
        model = fit(spark, log, cfg, embedding_table=str(table))
        t_fit = time.perf_counter() - t0
        judged = spark.createDataFrame(pd.DataFrame({"user_id": split.train.users.ids[ctx.users]}))
        cands = None
        if split.cold_items is not None:
            cands = spark.createDataFrame(pd.DataFrame({"item_id": split.train.items.ids[split.cold_items]}))
        t1 = time.perf_counter()
        recs_df = model.recommend(k=20, users=judged, candidates=cands)
        recs_df.write.parquet(str(work / f"recs-{name}.parquet"))
        t_rec = time.perf_counter() - t1
        recs = pd.read_parquet(work / f"recs-{name}.parquet").sort_values(["user_id", "rank"])
        lists = np.full((len(ctx.users), 20), -1, np.int64)
        at = {u: r for r, u in enumerate(split.train.users.ids[ctx.users].tolist())}
        for uid, g in recs.groupby("user_id"):
            lists[at[uid], : len(g)] = split.train.items.indices(g.item_id.tolist())
        scored = ctx.score(Recommendations(lists, np.zeros(lists.shape, np.float32)))
        t2 = time.perf_counter()
        test = frames(spark, split.test)
        spark_scored = evaluate(spark, spark.read.parquet(str(work / f"recs-{name}.parquet")), train, test, 20, items=items,
                                candidates=cands)  # fmt: skip
        t_eval = time.perf_counter() - t2
        diff = max(abs(spark_scored[k] - v) for k, v in scored.items() if k in spark_scored and np.isfinite(v))
        res["spark"] = {k: scored.get(k) for k in COLS}
        res["spark"].update(ingest_s=t_ingest, stages_s=model.timings, fit_s=t_fit, recommend_s=t_rec,
                            fit_plus_recommend_s=t_fit + t_rec, encoded=model.encoded, evaluate_s=t_eval)  # fmt: skip
        res["evaluator_max_abs_diff"] = diff
        t3 = time.perf_counter()  # what a refit encodes: the encoding stage on the same catalogue
        _, res["refit_encoded"] = encode_items(spark, log.items, cfg.encoder, cfg.max_tokens, str(table))
        res["refit_encode_s"] = time.perf_counter() - t3
        print(f"{name} spark: {res['spark']} evaluator diff {diff:.2e} refit encoded {res['refit_encoded']}", file=sys.stderr)
        if "single" in res:
            s, p = res["single"], res["spark"]
            res["ratios"] = {k: p[k] / s[k] for k in ("ndcg", "tail_recall", "cold_recall") if s.get(k)}
        out["splits"][name] = res
        spark.catalog.clearCache()  # the next split starts from an empty cache (local mode shares the driver's memory)
    path = ROOT / "results" / "spark-ml-1m.json"
    path.parent.mkdir(exist_ok=True)
    if path.exists():  # splits run separately keep each other's results
        out["splits"] = {**json.loads(path.read_text()).get("splits", {}), **out["splits"]}
    path.write_text(json.dumps(out, indent=2, default=float))
    print(json.dumps(out, indent=2, default=float))
    spark.stop()


if __name__ == "__main__":
    main()
