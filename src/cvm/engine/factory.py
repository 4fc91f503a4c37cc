"""Open the engine a workspace is configured for."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cvm.core.errors import WorkspaceError
from cvm.engine.base import Engine

if TYPE_CHECKING:
    from cvm.workspace.settings import WarehouseSection


def open_engine(settings: WarehouseSection, root: Path) -> Engine:
    match settings.engine:
        case "duckdb":
            from cvm.engine.duckdb_engine import DuckDBEngine

            path = Path(settings.path)
            return DuckDBEngine(
                path if path.is_absolute() else root / path, memory_limit=settings.memory_limit
            )
        case "spark":
            try:
                import pyspark  # noqa: F401

                from cvm.engine.spark_engine import SparkEngine
            except ImportError as err:
                raise WorkspaceError(
                    "engine = 'spark' needs the spark extra: pip install 'cvm[spark]'"
                ) from err
            # An object-store URL (s3a://, abfss://, gs://) is used as it is; a plain path is
            # relative to the workspace.
            lake = settings.lake_path
            lake_path = lake if "://" in lake else str(root / lake)
            return SparkEngine(master=settings.spark_master, lake_path=lake_path)
