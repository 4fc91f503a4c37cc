"""The demo company's loyalty programme: realistic members, redemptions, a reconciled ledger."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cvm.demo import generate_company, load_company_into
from cvm.demo.loyalty import demo_programme_text, install_demo_loyalty
from cvm.report.loyalty_section import loyalty_section
from cvm.report.model import ReportContext
from cvm.state.loyalty_ledger import LoyaltyLedger
from cvm.workspace import Workspace

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "demo" / "loyalty.yaml"


def test_packaged_programme_is_the_example_file() -> None:
    assert demo_programme_text() == EXAMPLE.read_text(encoding="utf-8")


@pytest.mark.slow  # generates a demo company and two years of programme history
def test_demo_programme(ws: Workspace) -> None:
    load_company_into(ws.engine, generate_company(800, seed=5))
    summary = install_demo_loyalty(ws, seed=5)
    buyers = summary["customers with orders"]
    assert 0.15 * buyers < summary["members"] < 0.45 * buyers
    assert summary["redemptions"] > 20
    assert set(summary["tiers"]) <= {"member", "silver", "gold", "platinum"}
    assert len(summary["tiers"]) >= 3
    # frequent buyers join more often
    members_orders, others_orders = ws.engine.fetch_rows(
        "SELECT AVG(CASE WHEN m.customer_id IS NOT NULL THEN o.n END), "
        "AVG(CASE WHEN m.customer_id IS NULL THEN o.n END) "
        "FROM (SELECT customer_id, COUNT(DISTINCT transaction_id) AS n FROM transactions "
        "      WHERE amount > 0 GROUP BY customer_id) AS o "
        "LEFT JOIN loyalty_accounts AS m ON m.customer_id = o.customer_id"
    )[0]
    assert members_orders > 1.5 * others_orders  # type: ignore[operator]
    member_lines = ws.engine.fetch_scalar(
        "SELECT SUM(points) FROM loyalty_entries WHERE account = 'member'"
    )
    assert member_lines == LoyaltyLedger(ws.state).liability() == summary["points outstanding"]
    assert ws.engine.fetch_scalar("SELECT SUM(points) FROM loyalty_entries") == 0
    last = ws.engine.fetch_scalar("SELECT MAX(occurred_at) FROM transactions")
    assert isinstance(last, dt.datetime)
    ctx = ReportContext(ws.engine, ws.settings, ws.root, last.date(), ws.runs_dir)
    section = loyalty_section(ctx)
    assert section is not None
    assert {m.label: m.value for m in section.metrics}["Members"] == f"{summary['members']:,}"
