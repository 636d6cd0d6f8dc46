"""tailwise on Spark over a synthetic log of bench/large_log.py: wall time per stage.

    python bench/large_log.py LOG --preset large                       # 20M interactions
    python bench/spark_log.py LOG                                     # local[2], fit + 10,000-user sample
    python bench/spark_log.py LOG --master spark://127.0.0.1:7077 --label cluster

Reads ``DIR/interactions.parquet`` and ``DIR/items.csv`` with ``tailwise.spark``; fits (ingest,
encode, ALS, behaviour space, adapter, fusion), then writes the lists of a random sample of
users (``--sample``, seed 42) to Parquet. Reports each stage's wall time, the number of Spark
jobs, and an estimate of Spark's fixed overhead: the jobs run times the mean wall time of an
empty job on the same session (scheduling, task launch, Python worker round trip), as a share
of the total. Writes ``bench/results/spark-log-<label>.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent


def empty_job_seconds(spark, n: int = 10) -> float:
    """Mean wall time of a job with no work: one task per core, nothing computed."""
    t0 = time.perf_counter()
    for _ in range(n):
        spark.sparkContext.parallelize([], spark.sparkContext.defaultParallelism).count()
    return (time.perf_counter() - t0) / n


def main() -> None:
    from tailwise.spark import SparkConfig, fit, ingest, parse_conf, read_table, start_session

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path, help="a folder written by bench/large_log.py")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--conf", action="append", default=[])
    ap.add_argument("--sample", type=int, default=10_000, help="users whose lists are computed")
    ap.add_argument("--encoder", default="use")
    ap.add_argument("--factor-dim", type=int, default=SparkConfig.factor_dim)
    ap.add_argument("--label", default="local")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tailwise-spark-log-"))
    conf = {"spark.driver.memory": "6g", "spark.sql.shuffle.partitions": "16", "spark.local.dir": str(work / "local"),
            "spark.ui.enabled": "false", **parse_conf(args.conf)}  # fmt: skip
    spark = start_session(args.master, conf, "tailwise-bench-log")
    overhead = empty_job_seconds(spark)
    tracker = spark.sparkContext.statusTracker()
    spark.sparkContext.setJobGroup("bench", "tailwise on Spark")
    t0 = time.perf_counter()
    inter = read_table(spark, args.data / "interactions.parquet")
    items = read_table(spark, args.data / "items.csv", what="items")
    log = ingest(spark, inter, items)
    t_ingest = time.perf_counter() - t0
    cfg = SparkConfig(encoder=args.encoder, factor_dim=args.factor_dim)
    model = fit(spark, log, cfg, embedding_table=str(work / "embeddings"))
    t_fit = time.perf_counter() - t0
    users = log.users.sample(fraction=min(1.0, args.sample / max(log.n_users, 1)), seed=42).limit(args.sample)
    t1 = time.perf_counter()
    model.recommend(k=20, users=users).write.parquet(str(work / "recs.parquet"))
    t_rec = time.perf_counter() - t1
    n_jobs = len(tracker.getJobIdsForGroup("bench"))
    total = t_fit + t_rec
    out = {
        "label": args.label, "master": args.master, "data": json.loads((args.data / "spec.json").read_text()).get("stats", {}),
        "users": log.n_users, "items": log.n_items, "interactions": log.inter.count(), "sample": args.sample,
        "config": cfg.__dict__, "ingest_s": t_ingest, "stages_s": model.timings, "fit_s": t_fit, "recommend_sample_s": t_rec,
        "jobs": n_jobs, "empty_job_s": overhead, "overhead_share": min(1.0, n_jobs * overhead / total),
    }  # fmt: skip
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / f"spark-log-{args.label}.json").write_text(json.dumps(out, indent=2, default=float))
    print(json.dumps(out, indent=2, default=float))
    print(f"fit {t_fit:.1f}s, {args.sample} users' lists {t_rec:.1f}s, {n_jobs} jobs, overhead ~{out['overhead_share']:.0%}", file=sys.stderr)
    spark.stop()


if __name__ == "__main__":
    main()
