"""The demo company's report is the same, to rounding, on DuckDB and on Spark (issue #11).

One demo company (fixed seed) goes into two workspaces, one with ``engine = "duckdb"`` and one
with ``engine = "spark"`` (local master, lake in a temporary folder), each with the demo's
offers (``examples/demo/offers.yaml``) and the programme data `cvm demo` adds (spend, survey
answers, a loyalty programme with history). The whole loop (`cvm.pipeline.run_loop`, what
``cvm run`` runs: value, score, segments, measure, decide, campaigns, report) runs on each.
Then the report's sections are built from each warehouse and every number they show is
compared (KPIs, value, model metrics, segment sizes, campaign and program results), together
with the stage summaries (decisions: customers, contacted, controls, spend, profit).

Nothing is skipped on Spark and no number is excluded: a difference is fixed where it arises
(engine, SQL, row order), never here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.engines.report_compare import compare_summaries, differences, section_texts

pytestmark = [pytest.mark.slow, pytest.mark.spark]

CUSTOMERS = 1_500
SEED = 42
OFFERS = Path(__file__).resolve().parents[2] / "examples" / "demo" / "offers.yaml"


@dataclass
class Outcome:
    stages: dict[str, dict[str, Any]]
    sections: dict[str, Any]  # section id → Section


def _run_demo(root: Path, engine: str) -> Outcome:
    from cvm.decide.offer_store import save_offers
    from cvm.decide.offers import offers_in_document, parse_offers
    from cvm.demo import DemoGenerator, export_company
    from cvm.demo.extras import add_programme_data
    from cvm.engine.warehouse import ensure_warehouse
    from cvm.pipeline import run_loop
    from cvm.profiles.views import ensure_profile_tables
    from cvm.report.builder import SECTION_BUILDERS
    from cvm.report.model import ReportContext
    from cvm.segments.definition import read_document
    from cvm.value.summaries import last_transaction_date
    from cvm.workspace.settings import Settings, WarehouseSection
    from cvm.workspace.workspace import CONFIG_FILE, Workspace

    root.mkdir(parents=True)
    settings = Settings(warehouse=WarehouseSection(engine=engine, lake_path="lake"))  # type: ignore[arg-type]
    settings.workspace.name = "demo"
    settings.dump(root / CONFIG_FILE)
    ws = Workspace(root, Settings.load(root / CONFIG_FILE))
    try:
        ensure_warehouse(ws.engine)
        ensure_profile_tables(ws.engine)
        params = export_company(
            DemoGenerator(CUSTOMERS, SEED), folder=root / "demo", engine=ws.engine
        )
        # What `cvm demo` adds: acquisition spend, survey answers, the loyalty programme.
        add_programme_data(ws, seed=SEED, currency=params["currency"])
        offers = parse_offers(offers_in_document(read_document(OFFERS.read_text())))
        save_offers(ws.engine, offers, str(OFFERS))
        results = run_loop(ws)
        assert [r.status for r in results] == ["ok"] * len(results)
        as_of = last_transaction_date(ws.engine)
        assert as_of is not None
        ctx = ReportContext(
            engine=ws.engine,
            settings=ws.settings,
            workspace_root=ws.root,
            as_of=as_of,
            runs_dir=ws.runs_dir,
        )
        sections = {s.id: s for s in (build(ctx) for build in SECTION_BUILDERS) if s is not None}
        assert (ws.reports_dir / "report.html").is_file()
        return Outcome({r.stage: r.summary for r in results}, sections)
    finally:
        ws.close()


@pytest.fixture(scope="module")
def outcomes(spark_session: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Outcome]:
    folder = tmp_path_factory.mktemp("demo-report")
    # The Spark workspace opens `local[2]` through the workspace factory, which reuses the test
    # run's session (getOrCreate) as `cvm run` would reuse a spark-submit session.
    return {kind: _run_demo(folder / kind, kind) for kind in ("duckdb", "spark")}


CORE_SECTIONS = ["kpis", "value", "models", "segments", "campaigns", "program"]


def test_every_section_is_there_on_both(outcomes: dict[str, Outcome]) -> None:
    assert list(outcomes["spark"].sections) == list(outcomes["duckdb"].sections)
    assert set(CORE_SECTIONS) <= set(outcomes["duckdb"].sections)


@pytest.mark.parametrize("section", CORE_SECTIONS)
def test_section_numbers_are_identical_to_rounding(
    outcomes: dict[str, Outcome], section: str
) -> None:
    want = section_texts(outcomes["duckdb"].sections[section])
    got = section_texts(outcomes["spark"].sections[section])
    assert sum(len(w.numbers) for w in want) > 3, "a section without numbers proves nothing"
    problems = differences(got, want)
    assert not problems, "\n".join(problems[:25])


def test_sections_added_later_are_identical_too(outcomes: dict[str, Outcome]) -> None:
    # Sections other stages contribute (loyalty, acquisition, ...) when they have data.
    assert {"loyalty", "acquisition", "feedback"} <= set(outcomes["duckdb"].sections)
    for section in set(outcomes["duckdb"].sections) - set(CORE_SECTIONS):
        want = section_texts(outcomes["duckdb"].sections[section])
        got = section_texts(outcomes["spark"].sections[section])
        problems = differences(got, want)
        assert not problems, f"{section}:\n" + "\n".join(problems[:25])


@pytest.mark.parametrize("stage", ["value", "loyalty", "score", "segments", "measure", "decide"])
def test_stage_summaries_are_identical(outcomes: dict[str, Outcome], stage: str) -> None:
    want, got = outcomes["duckdb"].stages[stage], outcomes["spark"].stages[stage]
    assert want and not want.get("skipped"), f"{stage} did not run: {want}"
    problems = compare_summaries(got, want)
    assert not problems, "\n".join(problems)


def test_decisions_were_made(outcomes: dict[str, Outcome]) -> None:
    # The comparison above is only worth something if the loop decided for real.
    decide = outcomes["duckdb"].stages["decide"]
    assert decide["decisions"] > 100 and decide["contacted"] > 100
    assert dt.date.fromisoformat(outcomes["duckdb"].stages["value"]["as_of"]).year >= 2024
