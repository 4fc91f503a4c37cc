"""Writing the demo company out: Parquet files, the warehouse, and `cvm demo`."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import sqlglot.expressions as exp

from cvm.core.errors import ConflictError, WorkspaceError
from cvm.demo import Company, DemoConfig, DemoGenerator, load_company_into, write_company
from cvm.demo.sinks import export_company
from cvm.engine.base import count_rows
from cvm.engine.duckdb_engine import DuckDBEngine
from cvm.workspace import open_workspace
from tests.demo.conftest import END, START

TABLES = ("customers", "transactions", "products", "events", "consents")


def test_write_company_round_trips_through_parquet(small_company: Company, tmp_path: Path) -> None:
    folder = write_company(small_company, tmp_path / "demo")
    for name in TABLES:
        assert pq.read_table(folder / f"{name}.parquet").equals(small_company.tables[name])
    for name in ("customers", "campaign"):
        assert pq.read_table(folder / "truth" / f"{name}.parquet").equals(small_company.truth[name])
    params = json.loads((folder / "truth" / "params.json").read_text())
    assert params["seed"] == 11
    assert params["bgnbd"]["r"] == 0.40 and params["gamma_gamma"]["q"] == 4.0
    assert params["totals"]["rows"]["transactions"] == small_company.transactions.num_rows


def test_load_into_engine_adds_lineage_and_truth(small_company: Company) -> None:
    engine = DuckDBEngine()
    try:
        counts = load_company_into(engine, small_company)
        assert counts == small_company.row_counts()
        for name in TABLES:
            assert engine.fetch_scalar(count_rows(name)) == counts[name]
            sources = exp.select("_source").distinct().from_(exp.to_table(name))
            assert engine.fetch_rows(sources) == [("demo",)]
            missing = count_rows(name).where("_ingest_run IS NULL OR _loaded_at IS NULL")
            assert engine.fetch_scalar(missing) == 0
        assert engine.fetch_scalar("SELECT count(*) FROM truth_customers") == 3000
        assert (
            engine.fetch_scalar("SELECT count(*) FROM truth_campaign")
            == small_company.truth["campaign"].num_rows
        )
        params = json.loads(str(engine.fetch_scalar("SELECT params FROM truth_params")))
        assert params["n_customers"] == 3000
        # JSON columns arrive as JSON the warehouse can query.
        assert (
            engine.fetch_scalar(
                "SELECT count(*) FROM customers WHERE json_extract_string(traits, '$.home_store') LIKE 'S-%'"
            )
            == 3000
        )
        runs = engine.fetch_rows(
            "SELECT table_name, rows_read, rows_accepted, rows_quarantined FROM ingest_runs ORDER BY table_name"
        )
        assert {r[0]: r[1] for r in runs} == counts
        assert all(r[1] == r[2] and r[3] == 0 for r in runs)
        with pytest.raises(ConflictError, match="already holds"):
            load_company_into(engine, small_company)
        load_company_into(engine, small_company, replace=True)
        assert engine.fetch_scalar("SELECT count(*) FROM customers") == 3000
    finally:
        engine.close()


def test_streaming_export_equals_the_in_memory_company(tmp_path: Path) -> None:
    config = DemoConfig(chunk_size=300)
    generator = DemoGenerator(700, 3, START, END, config)
    engine = DuckDBEngine()
    try:
        params = export_company(generator, folder=tmp_path / "d", engine=engine)
        from cvm.demo import generate_company

        whole = generate_company(700, 3, START, END, config)
        for name in TABLES:
            assert pq.read_table(tmp_path / "d" / f"{name}.parquet").equals(whole.tables[name])
            assert engine.fetch_scalar(count_rows(name)) == whole.tables[name].num_rows
        assert params == whole.params
    finally:
        engine.close()


def test_cli_creates_a_working_workspace(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from cvm.cli.app import app

    runner = CliRunner()
    ws_dir = tmp_path / "shop"
    args = ["demo", "--workspace", str(ws_dir), "--customers", "400", "--seed", "9"]
    done = runner.invoke(app, [*args, "--json"])
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert summary["customers"] == 400 and summary["transaction lines"] > 400
    assert summary["campaign audience"] > 0
    assert (ws_dir / "demo" / "truth" / "params.json").is_file()
    with open_workspace(ws_dir) as ws:
        assert ws.engine.fetch_scalar("SELECT count(*) FROM customers") == 400
        assert ws.engine.fetch_scalar("SELECT count(*) FROM truth_customers") == 400

    again = runner.invoke(app, args)
    assert isinstance(again.exception, WorkspaceError) and "--force" in again.exception.message
    forced = runner.invoke(app, [*args, "--force"])
    assert forced.exit_code == 0, forced.output
    assert "demo company" in forced.stdout
    with open_workspace(ws_dir) as ws:
        assert ws.engine.fetch_scalar("SELECT count(*) FROM customers") == 400

    bad = runner.invoke(app, ["demo", "--workspace", str(tmp_path / "x"), "--customers", "0"])
    assert bad.exit_code == 2 and not (tmp_path / "x").exists()


class _FailingGenerator(DemoGenerator):
    def chunks(self) -> Iterator[Company]:
        yield from list(super().chunks())[:1]
        raise RuntimeError("generator broke")


def test_export_surfaces_failures_and_leaves_no_thread_behind(tmp_path: Path) -> None:
    before = threading.active_count()
    broken = _FailingGenerator(200, 1, START, END, DemoConfig(chunk_size=100))
    with pytest.raises(RuntimeError, match="generator broke"):
        export_company(broken, folder=tmp_path / "a")
    engine = DuckDBEngine()
    engine.write_arrow = _refuse  # type: ignore[method-assign]
    try:
        with pytest.raises(OSError, match="disk full"):
            export_company(
                DemoGenerator(300, 1, START, END, DemoConfig(chunk_size=100)), engine=engine
            )
    finally:
        engine.close()
    assert threading.active_count() == before


def _refuse(*args: object, **kwargs: object) -> int:
    raise OSError("disk full")
