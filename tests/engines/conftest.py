"""Fixtures of the engine parity suite: the same data on DuckDB and on local Spark.

One Spark session (``local[2]``, 4 shuffle partitions, no UI) serves the whole test session;
every Spark engine works in its own child session and database over its own lake folder. The
``engine`` fixture is parametrised over ``["duckdb", "spark"]``; tests compare what a stage
function returns on it with what it returns on the DuckDB ``baseline`` holding the same rows
(on the ``duckdb`` parameter that is the baseline itself: the run checks that loading through
``write_arrow`` and the harness work, the ``spark`` parameter is the parity check).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from cvm.engine.base import Engine
from cvm.engine.duckdb_engine import DuckDBEngine

DEMO_SEED = 20240601
DEMO_CUSTOMERS = 800


@pytest.fixture(scope="session")
def spark_session(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The one local Spark session of the test run (skipped with the reason without pyspark)."""
    pytest.importorskip("pyspark", reason="the spark extra (pyspark) is not installed")
    from cvm.engine.spark_session import build_session

    warehouse = tmp_path_factory.mktemp("spark-warehouse")
    session = build_session(
        "local[2]",
        app_name="cvm-parity",
        conf={
            "spark.sql.warehouse.dir": str(warehouse),
            "spark.driver.memory": "1g",
            "spark.sql.adaptive.coalescePartitions.initialPartitionNum": "4",
        },
    )
    try:
        yield session
    finally:
        session.stop()


def new_engine(kind: str, request: pytest.FixtureRequest, folder: Path) -> Engine:
    if kind == "duckdb":
        return DuckDBEngine()
    from cvm.engine.spark_engine import SparkEngine, new_database_name

    session = request.getfixturevalue("spark_session")
    return SparkEngine(lake_path=folder / "lake", database=new_database_name(), session=session)


@dataclass
class Pair:
    """The engine under test and the DuckDB baseline, holding the same rows."""

    kind: str
    engine: Engine
    baseline: Engine


ENGINE_KINDS = ["duckdb", pytest.param("spark", marks=pytest.mark.spark)]


@pytest.fixture(scope="session")
def company() -> Any:
    from cvm.demo import generate_company

    return generate_company(n_customers=DEMO_CUSTOMERS, seed=DEMO_SEED)


@pytest.fixture(scope="session")
def demo_baseline(company: Any) -> Iterator[Engine]:
    from cvm.demo import load_company_into

    engine = DuckDBEngine()
    load_company_into(engine, company)
    yield engine
    engine.close()


@pytest.fixture(scope="session", params=ENGINE_KINDS)
def demo(
    request: pytest.FixtureRequest,
    company: Any,
    demo_baseline: Engine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    """The demo company (800 customers) loaded through ``write_arrow`` on each engine."""
    from cvm.demo import load_company_into

    if request.param == "duckdb":
        yield Pair("duckdb", demo_baseline, demo_baseline)
        return
    engine = new_engine(request.param, request, tmp_path_factory.mktemp("demo"))
    load_company_into(engine, company)
    yield Pair(request.param, engine, demo_baseline)
    engine.close()


@pytest.fixture(scope="session")
def observation_end(demo_baseline: Engine) -> dt.date:
    from cvm.value.summaries import last_transaction_date

    end = last_transaction_date(demo_baseline)
    assert end is not None
    return end


@pytest.fixture(scope="session")
def segment_data() -> Any:
    """The seeded segment test warehouse (customers, profiles, events, transactions, consents)."""
    from tests.segments.data import generate

    return generate(7)


def _load_segment_data(engine: Engine, data: Any) -> None:
    from cvm.engine.warehouse import ensure_warehouse
    from cvm.profiles.views import ensure_profile_tables

    ensure_warehouse(engine)
    ensure_profile_tables(engine)
    for name, table in data.arrow().items():
        engine.write_arrow(name, table)


@pytest.fixture(scope="session")
def segment_baseline(segment_data: Any) -> Iterator[Engine]:
    engine = DuckDBEngine()
    _load_segment_data(engine, segment_data)
    yield engine
    engine.close()


@pytest.fixture(scope="session", params=ENGINE_KINDS)
def segments(
    request: pytest.FixtureRequest,
    segment_data: Any,
    segment_baseline: Engine,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pair]:
    """The segment test data (every node kind has members in it) on each engine."""
    if request.param == "duckdb":
        yield Pair("duckdb", segment_baseline, segment_baseline)
        return
    engine = new_engine(request.param, request, tmp_path_factory.mktemp("segments"))
    _load_segment_data(engine, segment_data)
    yield Pair(request.param, engine, segment_baseline)
    engine.close()
