"""``tailwise spark fit | recommend | evaluate``: the hybrid's chain on Spark (``tailwise[spark]``).

Each command starts (or, under ``spark-submit``, joins) a Spark session: ``--master`` (default
``local[*]``, or what ``spark-submit`` set) and repeated ``--conf key=value`` pass through.
Inputs are Parquet or CSV/TSV paths Spark reads (local, ``hdfs://``, object stores through
your own Spark settings); outputs are Parquet folders, never written over an existing path.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

from tailwise.cli.common import console, parse_params, refuse_non_model_dir, status


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "spark",
        help="fit, recommend and evaluate on Spark (logs and catalogues beyond one machine)",
        description="The hybrid's chain on Spark DataFrames: ingest, text encoding, ALS, the adapter, "
        "evidence-gated fusion, tail slots and evaluation, with a model directory `tailwise serve` serves. "
        'Needs pyspark (pip install "tailwise[spark]") and Java 17.',
    )
    cmds = p.add_subparsers(title="spark commands", metavar="COMMAND", required=True)
    f = cmds.add_parser("fit", help="fit on Spark and write a model directory (and, with --recs, every user's list)")
    _add_inputs(f)
    f.add_argument("--model-dir", type=Path, required=True, help="model directory to write: new, empty, or a model directory")
    f.add_argument("--force", action="store_true", help="replace --model-dir even when it is not a model directory")
    f.add_argument("--recs", help="also write every user's top-k here (Parquet: user_id, rank, item_id, score)")
    f.add_argument("--k", type=int, default=20, help="list length for --recs (default 20)")
    f.add_argument("--embedding-table", help="Parquet folder of cached item embeddings (default: spark/ in the embedding cache folder; on a cluster, a path every executor reaches)")
    f.add_argument("--param", action="append", metavar="KEY=VALUE", help="a Spark fit setting, e.g. factor_dim=128, als_iterations=10, encoder=use (repeatable)")
    _add_spark(f)
    f.set_defaults(run=run_fit)
    r = cmds.add_parser("recommend", help="every user's top-k from a model directory, computed on Spark")
    r.add_argument("--model-dir", type=Path, required=True, help="a model directory of `tailwise spark fit` (or a factor-backbone hybrid)")
    r.add_argument("--out", required=True, help="Parquet folder to write (user_id, rank, item_id, score)")
    r.add_argument("--k", type=int, default=20, help="list length (default 20)")
    r.add_argument("--users", help="only these users: a Parquet/CSV file with a user_id column")
    r.add_argument("--candidates", help="rank only these items: a Parquet/CSV file with an item_id column")
    _add_spark(r)
    r.set_defaults(run=run_recommend)
    e = cmds.add_parser("evaluate", help="the metrics of `tailwise evaluate` for lists in Parquet, on Spark")
    e.add_argument("--recs", required=True, help="the lists: user_id, item_id, rank")
    e.add_argument("--train", required=True, help="training interactions: user_id, item_id")
    e.add_argument("--test", required=True, help="held-out interactions: user_id, item_id")
    e.add_argument("--items", help="catalogue items without interactions (item_id column)")
    e.add_argument("--candidates", help="the whitelist the lists were drawn from (item_id column)")
    e.add_argument("--k", type=int, default=20, help="cutoff (default 20)")
    e.add_argument("--head-share", type=float, default=0.2, help="share of items counted as head (default 0.2)")
    e.add_argument("--out", type=Path, help="also write the metrics to this JSON file (new)")
    _add_spark(e)
    e.set_defaults(run=run_evaluate)


def _add_inputs(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("data")
    g.add_argument("--interactions", required=True, help="Parquet or CSV/TSV (with a header) holding user and item ids")
    g.add_argument("--items", help="item table: item id plus text columns")
    g.add_argument("--text-cols", help="comma-separated item columns joined into the text (default: every other column)")
    g.add_argument("--user-col", default="user_id", help="user id column (default: user_id)")
    g.add_argument("--item-col", default="item_id", help="item id column (default: item_id)")
    g.add_argument("--format", choices=["parquet", "csv", "tsv"], help="format of the inputs (default: from the names; a folder is Parquet)")
    g.add_argument("--sep", help="field separator of delimited inputs")


def _add_spark(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("spark")
    g.add_argument("--master", help="Spark master URL (default: local[*], or the one spark-submit sets)")
    g.add_argument("--conf", action="append", metavar="KEY=VALUE", help="a Spark setting, e.g. spark.executor.memory=8g (repeatable)")


@contextlib.contextmanager
def spark_errors() -> Iterator[None]:
    """Spark's own errors (a JVM stack, an analysis error) as one DataError line."""
    from tailwise.errors import DataError, TailwiseError

    try:
        yield
    except (TailwiseError, ValueError, KeyError, OSError):
        raise
    except Exception as exc:
        module = type(exc).__module__
        if not module.startswith(("pyspark", "py4j")):
            raise
        text = str(exc).strip()
        first = next((line for line in text.splitlines() if line.strip()), type(exc).__name__)
        raise DataError(f"Spark failed: {first[:500]}") from None


def _session(args: argparse.Namespace):
    from tailwise.spark import parse_conf, start_session

    return start_session(args.master, parse_conf(args.conf), "tailwise")


def _refuse_existing(path: str | None, option: str) -> None:
    from tailwise.errors import DataError
    from tailwise.spark.logs import _local

    local = None if path is None else _local(path)
    if local is not None and local.exists():
        raise DataError(f"{option} exists and would be replaced; choose another path", path=path)


def _check_k(k: int) -> None:
    from tailwise.errors import DataError

    if k < 1:
        raise DataError(f"--k must be at least 1, not {k}", field="k")


def run_fit(args: argparse.Namespace) -> int:
    from tailwise.spark import SparkConfig, fit, ingest, read_table, require_spark

    cfg = SparkConfig.from_params(parse_params(args.param).get("*", {}))  # bad settings fail before Spark starts
    _check_k(args.k)
    refuse_non_model_dir(args.model_dir, "--model-dir", args.force)
    _refuse_existing(args.recs, "--recs")
    require_spark()
    text_cols = [c.strip() for c in args.text_cols.split(",") if c.strip()] if args.text_cols else None
    with spark_errors():
        spark = _session(args)
        with status("Reading and indexing the log"):
            inter = read_table(spark, args.interactions, args.format, args.sep)
            items = read_table(spark, args.items, args.format, args.sep, what="items") if args.items else None
            log = ingest(spark, inter, items, args.user_col, args.item_col, text_cols, args.interactions, args.items)
        console.print(f"{log.n_users:,} users x {log.n_items:,} items")
        with status("Fitting on Spark"):
            model = fit(spark, log, cfg, args.embedding_table)
        console.print(f"encoded {model.encoded:,} new item texts; stages (s): {json.dumps(model.timings)}")
        if args.recs:
            with status(f"Writing every user's top-{args.k}"):
                model.recommend(args.k).write.parquet(args.recs)
            console.print(f"wrote the lists to {args.recs}")
        with status("Writing the model directory"):
            model.export(args.model_dir)
    console.print(f"wrote the model directory {args.model_dir} (tailwise serve --model-dir {args.model_dir})")
    return 0


def run_recommend(args: argparse.Namespace) -> int:
    from tailwise.spark import read_table, require_spark
    from tailwise.spark.export import load_model

    _check_k(args.k)
    _refuse_existing(args.out, "--out")
    require_spark()
    with spark_errors():
        spark = _session(args)
        model = load_model(spark, args.model_dir)
        users = read_table(spark, args.users, what="users") if args.users else None
        cands = read_table(spark, args.candidates, what="candidates") if args.candidates else None
        from tailwise.spark.logs import require_columns

        if users is not None:
            require_columns(users, ["user_id"], args.users, "users")
        if cands is not None:
            require_columns(cands, ["item_id"], args.candidates, "candidates")
        with status(f"Computing every user's top-{args.k}"):
            model.recommend(args.k, users, cands).write.parquet(args.out)
    console.print(f"wrote the lists to {args.out}")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    from tailwise.errors import DataError
    from tailwise.spark import evaluate, read_table, require_spark

    _check_k(args.k)
    if args.out is not None and args.out.exists():
        raise DataError("--out exists and would be replaced; choose another path", path=args.out)
    require_spark()
    with spark_errors():
        spark = _session(args)
        tables = {name: read_table(spark, getattr(args, name), what=name) for name in ("recs", "train", "test")}
        items = read_table(spark, args.items, what="items") if args.items else None
        cands = read_table(spark, args.candidates, what="candidates") if args.candidates else None
        with status("Scoring the lists on Spark"):
            scores = evaluate(spark, tables["recs"], tables["train"], tables["test"], args.k, items, cands, args.head_share)
    for key, value in scores.items():
        print(f"{key}\t{value:.6f}" if isinstance(value, float) else f"{key}\t{value}")
    if args.out is not None:
        from tailwise.artifacts import atomic_write_text

        atomic_write_text(args.out, json.dumps(scores, indent=2))
    return 0
