"""The report's feedback section on the demo company with its survey answers: NPS and CSAT
with intervals, charts over time and by channel, tables by segment, topics; None without
answers; and the section is among the report's builders."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cvm.core.contracts import SURVEY_RESPONSES
from cvm.demo import generate_company, load_company_into
from cvm.demo.surveys import company_survey_responses
from cvm.feedback.scores import nps_of_scores
from cvm.report.builder import SECTION_BUILDERS
from cvm.report.feedback_section import feedback_section
from cvm.report.model import ChartBlock, ReportContext, TableBlock
from cvm.workspace import init_workspace


def test_section(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    try:
        company = generate_company(400, seed=6)
        load_company_into(ws.engine, company)
        ctx = ReportContext(ws.engine, ws.settings, ws.root, dt.date(2025, 1, 1), ws.runs_dir)
        assert feedback_section(ctx) is None  # no table
        ws.engine.ensure_table(SURVEY_RESPONSES)
        assert feedback_section(ctx) is None  # empty table
        answers = company_survey_responses(company, seed=2)
        ws.engine.write_arrow("survey_responses", answers, mode="append")
        ws.engine.execute(
            "CREATE TABLE segment_membership AS SELECT CASE WHEN customer_id < 'C00000200' "
            "THEN 'early' ELSE 'late' END AS segment, customer_id, "
            "TIMESTAMP '2025-01-01' AS entered_at FROM customers"
        )
        section = feedback_section(ctx)
    finally:
        ws.close()
    assert section is not None and section.id == "feedback"
    expected = nps_of_scores(r["score"] for r in answers.to_pylist() if r["survey"] == "nps")
    metrics = {m.label: m for m in section.metrics}
    assert metrics["NPS"].value == f"{expected.nps:.1f}"
    assert metrics["NPS"].help == f"95% CI {expected.low:.1f} to {expected.high:.1f}"
    assert "CSAT (% satisfied)" in metrics
    charts = [b for b in section.blocks if isinstance(b, ChartBlock)]
    assert len(charts) == 4 and all("plotly" in c.html for c in charts)  # 2 surveys x 2 charts
    titles = [b.title for b in section.blocks if isinstance(b, TableBlock)]
    assert "NPS by segment" in titles and "CSAT (% satisfied) by segment" in titles
    topics = next(b for b in section.blocks if isinstance(b, TableBlock) and "Topics" in b.title)
    assert len(topics.rows) == 5
    assert section.summary and section.summary[0].startswith("NPS is ")


def test_registered() -> None:
    assert feedback_section in SECTION_BUILDERS
