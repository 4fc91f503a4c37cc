"""Build (or reuse) the SparkSession a `SparkEngine` runs on.

One place decides the settings cvm depends on, so a cluster submit, Spark Connect and the
test suite all behave alike:

* ``spark.sql.session.timeZone=UTC`` and ``spark.sql.timestampType=TIMESTAMP_NTZ``: DuckDB's
  ``TIMESTAMP`` is a wall-clock time without zone, and so are cvm's timestamps (UTC-naive).
  With these two settings ``CAST('2024-01-01 00:00:00' AS TIMESTAMP)`` means the same instant
  on both engines and Arrow ``timestamp[us]`` columns round-trip without a zone appearing.
* ``spark.sql.execution.arrow.pyspark.enabled=true``: data moves as Arrow both ways; without
  it, ``toPandas``-style paths turn missing strings into the text ``'NaN'`` under pandas 3.
* ANSI mode stays on (Spark 4's default); the statements that need another spelling are
  rewritten in `cvm.engine.spark_sql`, one commented rule each.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

CVM_SPARK_CONF: dict[str, str] = {
    "spark.sql.session.timeZone": "UTC",
    "spark.sql.timestampType": "TIMESTAMP_NTZ",
    "spark.sql.execution.arrow.pyspark.enabled": "true",
    "spark.sql.execution.arrow.pyspark.fallback.enabled": "false",
    "spark.sql.ansi.enabled": "true",
}

# Settings for a small local session (tests, a laptop): few shuffle partitions, no web UI.
LOCAL_SPARK_CONF: dict[str, str] = {
    "spark.sql.shuffle.partitions": "4",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
}


def build_session(
    master: str,
    *,
    app_name: str = "cvm",
    conf: dict[str, str] | None = None,
) -> SparkSession:
    """A session for ``master``: ``local[*]``/``spark://...``/``yarn`` or a ``sc://`` Connect URL.

    ``getOrCreate`` returns the running session when there is one (spark-submit, a notebook, the
    test suite's shared session); the cvm settings are then applied as runtime settings, which
    is why none of them is a static (start-up only) setting.
    """
    from pyspark.sql import SparkSession

    settings = dict(CVM_SPARK_CONF)
    if master.startswith("local"):
        settings.update(LOCAL_SPARK_CONF)
        # Local Python workers must be this interpreter (the one with cvm installed), not
        # whatever `python3` is first on PATH; a cluster sets PYSPARK_PYTHON itself.
        # (PySpark reads PYSPARK_PYTHON when it starts the context.)
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    settings.update(conf or {})
    builder = SparkSession.builder.appName(app_name)
    if master.startswith("sc://"):
        builder = builder.remote(master)
    else:
        builder = builder.master(master)
    for key, value in settings.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    apply_runtime_conf(session, settings)
    return session


def apply_runtime_conf(session: SparkSession, settings: dict[str, str] | None = None) -> None:
    """Set the SQL settings cvm relies on for this session (they are per-session)."""
    for key, value in (settings or CVM_SPARK_CONF).items():
        # Static settings (warehouse dir, shuffle service...) only apply at start-up.
        if key.startswith("spark.sql.") and session.conf.isModifiable(key):
            session.conf.set(key, value)
