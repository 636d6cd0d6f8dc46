"""Session-wide test settings."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def embedding_cache(tmp_path_factory) -> str:
    """One embedding cache for the whole run, never the user's own (~/.cache/tailwise)."""
    path = str(tmp_path_factory.mktemp("embedding-cache"))
    mp = pytest.MonkeyPatch()
    mp.setenv("TAILWISE_CACHE", path)
    yield path
    mp.undo()


@pytest.fixture(scope="session", autouse=True)
def data_cache(tmp_path_factory) -> str:
    """Data sets downloaded by name go to a temporary cache, never the user's own."""
    path = str(tmp_path_factory.mktemp("data-cache"))
    mp = pytest.MonkeyPatch()
    mp.setenv("TAILWISE_DATA", path)
    yield path
    mp.undo()


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    """Say loudly, at the very end, how many browser tests did not run and how to run them."""
    from tailwise.testing.browser import report_skipped

    report_skipped(terminalreporter)


# ---------------------------------------------------------------------- Spark (tailwise[spark])
SPARK_USERS = 30


@pytest.fixture(scope="session")
def spark(tmp_path_factory):
    """One local[2] SparkSession for the whole run, its scratch folders under pytest's tmp
    folder and its logs quiet; the tests that use it skip, saying why, without pyspark or Java."""
    pytest.importorskip("pyspark", reason="the spark extra is not installed (pip install 'tailwise[spark]')")
    from tailwise.spark.session import java_found, start_session

    if not java_found():
        pytest.skip("no Java runtime (install openjdk-17-jre-headless)")
    root = tmp_path_factory.mktemp("spark")
    conf = {
        "spark.local.dir": str(root / "local"), "spark.sql.warehouse.dir": str(root / "warehouse"),
        "spark.ui.enabled": "false", "spark.sql.shuffle.partitions": "2", "spark.default.parallelism": "2",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={root / 'derby'}",
    }  # fmt: skip
    session = start_session("local[2]", conf, "tailwise-tests")
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def spark_slice():
    """The first 30 users of the bundled ml-latest-small on the movies at least 3 of them rated,
    ids in string order (the order Spark indexes them in)."""
    import numpy as np
    import pandas as pd

    from tailwise.data import Dataset, demo_path
    from tailwise.data.idmap import IdMap

    r = pd.read_csv(demo_path() / "ratings.csv")
    r = r[r.userId <= SPARK_USERS]
    keep = r.movieId.value_counts()
    r = r[r.movieId.isin(keep[keep >= 3].index)]
    m = pd.read_csv(demo_path() / "movies.csv")
    m = m[m.movieId.isin(r.movieId)]
    text = {str(i): f"{t}. {g.replace('|', ', ')}" for i, t, g in zip(m.movieId, m.title, m.genres)}
    users, items = IdMap(sorted(set(r.userId.astype(str)))), IdMap(sorted(text))
    return Dataset(
        users=users, items=items, user_idx=users.indices(r.userId.astype(str).tolist()),
        item_idx=items.indices(r.movieId.astype(str).tolist()),
        item_text=np.asarray([text[i] for i in items.ids.tolist()], dtype=object), name="spark-slice",
    )  # fmt: skip


@pytest.fixture(scope="session")
def spark_fitted(spark, tmp_path_factory):
    """The slice fitted on Spark (hash encoder, rank 16), its lists and its exported directory."""
    import pandas as pd

    from tailwise.spark import SparkConfig, fit, ingest

    ds = spark_slice()
    root = tmp_path_factory.mktemp("spark-fit")
    inter = spark.createDataFrame(pd.DataFrame({"user_id": ds.users.ids[ds.user_idx], "item_id": ds.items.ids[ds.item_idx]}))
    items = spark.createDataFrame(pd.DataFrame({"item_id": ds.items.ids, "title": ds.texts()}))
    log = ingest(spark, inter, items)
    cfg = SparkConfig(encoder="hash:16", factor_dim=16, als_iterations=5, user_block=8, item_block=200)
    model = fit(spark, log, cfg, embedding_table=str(root / "embeddings"))
    recs = model.recommend(k=10).toPandas()
    directory = model.export(root / "model")

    class Fitted:
        pass

    out = Fitted()
    out.dataset, out.inter, out.items, out.log, out.model, out.recs, out.dir, out.table = ds, inter, items, log, model, recs, directory, root / "embeddings"
    return out


@pytest.fixture(scope="session")
def spark_slice_data():
    """:func:`spark_slice` (conftest is not importable under ``--import-mode=importlib``)."""
    return spark_slice()
