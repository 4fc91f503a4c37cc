"""`cvm report`: one self-contained HTML file (charts inline, opens offline)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

import plotly.offline
from jinja2 import Environment, PackageLoader, select_autoescape

from cvm.report.acquisition_section import acquisition_section
from cvm.report.feedback_section import feedback_section
from cvm.report.loyalty_section import loyalty_section
from cvm.report.measure_section import campaign_results_section
from cvm.report.model import ReportContext, Section
from cvm.report.predict_section import predict_section
from cvm.report.program_section import program_section
from cvm.report.segments_section import segments_section
from cvm.report.value_section import kpi_section, value_section
from cvm.value.summaries import last_transaction_date
from cvm.workspace.workspace import Workspace

SectionBuilder = Callable[[ReportContext], Section | None]

# In loop order. A builder returns None when its stage has not produced data yet.
SECTION_BUILDERS: list[SectionBuilder] = [
    kpi_section,
    value_section,
    predict_section,
    segments_section,
    campaign_results_section,
    program_section,
    loyalty_section,
    acquisition_section,
    feedback_section,
]

# The executive summary leads with what a head of CRM asks first: how the business did, what
# marketing added (campaigns, then the whole program), then value, models and segments.
SUMMARY_ORDER = ("kpis", "campaigns", "program", "value", "models", "segments")


def executive_summary(sections: list[Section]) -> list[str]:
    """Summary sentences of every section, in `SUMMARY_ORDER` (others after, in loop order)."""
    rank = {name: i for i, name in enumerate(SUMMARY_ORDER)}
    ordered = sorted(sections, key=lambda s: rank.get(s.id, len(rank)))
    return [line for section in ordered for line in section.summary]


def _environment() -> Environment:
    return Environment(
        loader=PackageLoader("cvm.report", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )


def build_report(
    ws: Workspace,
    out: Path | None = None,
    as_of: dt.date | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Render every available section into one HTML file and return its path."""
    as_of = as_of or last_transaction_date(ws.engine) or dt.date.today()
    ctx = ReportContext(
        engine=ws.engine,
        settings=ws.settings,
        workspace_root=ws.root,
        as_of=as_of,
        runs_dir=ws.runs_dir,
    )
    sections: list[Section] = []
    for builder in SECTION_BUILDERS:
        if progress:
            progress(builder.__name__.replace("_", " "))
        section = builder(ctx)
        if section is not None:
            sections.append(section)
    html = (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=f"{ws.settings.workspace.name}: customer value report",
            as_of=as_of.isoformat(),
            generated=dt.datetime.now().strftime("%Y-%m-%d %H:%M"),
            sections=sections,
            summary=executive_summary(sections),
            plotly_js=plotly.offline.get_plotlyjs(),
        )
    )
    out = out or ws.reports_dir / "report.html"
    out.write_text(html, encoding="utf-8")
    return out
