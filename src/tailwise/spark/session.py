"""Starting Spark for tailwise: pyspark and Java checked first, then one session.

The master is ``local[*]`` unless one is given (``--master``), or unless the process runs under
``spark-submit``, which sets it itself. Repeated ``key=value`` settings pass straight to Spark
(object stores, executor memory, ...). The library never changes a session it is handed; a
session it starts gets Arrow transfers on and Spark's own log level at WARN.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from tailwise.errors import DataError, MissingExtraError

INSTALL = 'pip install "tailwise[spark]"'


def require_spark() -> ModuleType:
    """Import pyspark, or raise :class:`MissingExtraError` naming what to install (pyspark, or a
    Java runtime when none is found)."""
    try:
        import pyspark
    except ImportError as exc:
        raise MissingExtraError(f"tailwise on Spark needs the optional package 'pyspark', which is not installed. Install it with: {INSTALL}") from exc
    if not java_found():
        raise MissingExtraError(
            "tailwise on Spark needs a Java runtime (17 or later), and none was found on PATH or in "
            "JAVA_HOME. Install one, e.g. Debian's openjdk-17-jre-headless (apt-get install openjdk-17-jre-headless), "
            "or set JAVA_HOME"
        )
    return pyspark


def java_found() -> bool:
    """Whether a ``java`` executable is on PATH or under ``$JAVA_HOME/bin``."""
    home = os.environ.get("JAVA_HOME")
    return bool(shutil.which("java")) or bool(home and (Path(home) / "bin" / "java").exists())


def parse_conf(pairs: list[str] | None) -> dict[str, str]:
    """``key=value`` settings (``--conf``) as a dict; a pair without ``=`` is a DataError.

    >>> parse_conf(["spark.executor.memory=4g", "spark.sql.shuffle.partitions=64"])
    {'spark.executor.memory': '4g', 'spark.sql.shuffle.partitions': '64'}
    """
    out: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise DataError(f"--conf must look like key=value, not {pair!r}", field="conf")
        out[key.strip()] = value.strip()
    return out


def under_spark_submit() -> bool:
    """Whether this Python process was started by ``spark-submit`` (which sets the master)."""
    return "PYSPARK_GATEWAY_PORT" in os.environ or "SPARK_SUBMIT_OPTS" in os.environ


def start_session(master: str | None = None, conf: dict[str, str] | None = None, app: str = "tailwise") -> Any:
    """A SparkSession (an existing one is reused): `master` when given, else the one
    ``spark-submit`` chose, else ``local[*]``; `conf` is passed through."""
    require_spark()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app)
    if master or not under_spark_submit():
        builder = builder.master(master or "local[*]")
        # Python workers run this interpreter (its packages), unless the user's settings say otherwise
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings = {"spark.sql.execution.arrow.pyspark.enabled": "true", "spark.ui.showConsoleProgress": "false"}
    for key, value in {**settings, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
