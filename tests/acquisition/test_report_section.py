"""The acquisition section of `cvm report`: charts, table, method; absent without spend."""

from __future__ import annotations

import pytest

from cvm.report.acquisition_section import acquisition_section
from cvm.report.builder import SECTION_BUILDERS, build_report
from cvm.report.model import ChartBlock, ReportContext, TableBlock
from cvm.workspace import Workspace
from tests.acquisition.tiny import AS_OF, load_tiny


def _context(ws: Workspace) -> ReportContext:
    return ReportContext(
        engine=ws.engine,
        settings=ws.settings,
        workspace_root=ws.root,
        as_of=AS_OF,
        runs_dir=ws.runs_dir,
    )


def test_section_has_channel_and_cohort_charts_and_the_method(workspace: Workspace) -> None:
    load_tiny(workspace.engine)
    section = acquisition_section(_context(workspace))
    assert section is not None and section.id == "acquisition"
    charts = [b for b in section.blocks if isinstance(b, ChartBlock)]
    titles = " ".join(c.html for c in charts).replace("\\u002f", "/")  # plotly escapes / in JSON
    assert len(charts) == 2
    for title in (
        "Paid acquisition channels: cost, value and payback",
        "dotted: break-even",
        "Payback (months of life)",
        "CLV/CAC by signup cohort",
    ):
        assert title in titles
    tables = {b.title: b for b in section.blocks if isinstance(b, TableBlock)}
    channels = tables["By acquisition channel (USD)"]
    search = next(r for r in channels.rows if r[0] == "search")
    assert search[3] == "70.00"  # CAC
    assert any("Payback = first month of life" in r[0] for r in tables["Method"].rows)
    assert any("tiktok" in r[0] for r in tables["Data warnings"].rows)
    labels = {m.label: m.value for m in section.metrics}
    assert labels["Paid CAC"] == "80.00 USD" and labels["Blended CAC"] == "60.00 USD"
    assert "paid CAC 80.00 USD" in section.summary[0]


def test_no_spend_means_no_section(workspace: Workspace) -> None:
    assert acquisition_section(_context(workspace)) is None


def test_currency_mismatch_shows_the_error_instead_of_breaking_the_report(
    workspace: Workspace,
) -> None:
    load_tiny(workspace.engine, spend_currency="EUR")
    section = acquisition_section(_context(workspace))
    assert section is not None and not section.metrics
    error = next(b for b in section.blocks if isinstance(b, TableBlock))
    assert "not in the workspace currency USD" in error.rows[0][0]


@pytest.mark.slow  # renders the whole report (plotly.js inline)
def test_report_html_contains_the_section(workspace: Workspace) -> None:
    assert acquisition_section in SECTION_BUILDERS
    load_tiny(workspace.engine)
    html = build_report(workspace, as_of=AS_OF).read_text(encoding="utf-8").replace("\\u002f", "/")
    assert "Acquisition economics" in html
    assert "CLV/CAC by signup cohort" in html
