"""Views that outlive the Spark session: their definitions are kept in the lake.

DuckDB stores a ``CREATE VIEW`` in its database file, so ``customer_360`` is there for every
later command. Spark's default (in-memory) catalog forgets views with the session, and every
``cvm`` command is a new session, so ``cvm report`` after ``cvm run`` would find no
``customer_360``. The lake therefore keeps every persistent view's Spark SQL in a small Parquet
table ``<lake>/<database>/_views`` (name, position, SQL), and re-creates the views, in the
order they were defined, when it is opened. With a persistent catalog (Hive, Unity, Glue) the
re-creation is a harmless ``CREATE OR REPLACE``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

VIEWS_FOLDER = "_views"
_SCHEMA = pa.schema([("position", pa.int64()), ("name", pa.string()), ("sql", pa.string())])


class ViewBook:
    """The view definitions of one lake database, in definition order."""

    def __init__(
        self, spark: SparkSession, location: str, exists: Callable[[], bool | None]
    ) -> None:
        self.spark = spark
        self.location = location
        # False when the folder is known to be absent (None: cannot tell, as on Spark Connect).
        self._exists = exists

    def definitions(self) -> list[tuple[str, str]]:
        """(name, Spark SQL of the query) of every saved view, oldest first."""
        from pyspark.errors import AnalysisException

        if self._exists() is False:
            return []
        try:
            rows = self.spark.read.parquet(self.location).toArrow()
        except AnalysisException:  # no view was ever saved in this lake
            return []
        ordered = rows.sort_by("position").to_pylist()
        return [(str(r["name"]), str(r["sql"])) for r in ordered]

    def _write(self, definitions: list[tuple[str, str]]) -> None:
        table = pa.table(
            {
                "position": list(range(len(definitions))),
                "name": [n for n, _ in definitions],
                "sql": [s for _, s in definitions],
            },
            schema=_SCHEMA,
        )
        # The old content is already on the driver: overwriting the folder is safe.
        self.spark.createDataFrame(table).coalesce(1).write.mode("overwrite").parquet(self.location)

    def save(self, name: str, sql: str) -> None:
        """Record (or replace, keeping its place) the definition of view ``name``."""
        current = self.definitions()
        if (name, sql) in current:
            return
        names = [n for n, _ in current]
        if name in names:
            current[names.index(name)] = (name, sql)
        else:
            current.append((name, sql))
        self._write(current)

    def forget(self, name: str) -> None:
        current = self.definitions()
        kept = [(n, s) for n, s in current if n != name]
        if len(kept) != len(current):
            self._write(kept)
