"""The loyalty section of the report: figures from the mirrors, tiers, the rendered HTML."""

from __future__ import annotations

import datetime as dt

from cvm.loyalty.metrics import programme_figures, tier_migration
from cvm.loyalty.stage import run_loyalty_stage
from cvm.report.builder import build_report
from cvm.report.loyalty_section import loyalty_section
from cvm.report.model import ReportContext
from cvm.state.loyalty_ledger import LoyaltyLedger, Posting
from cvm.workspace import Workspace


def context(ws: Workspace, day: dt.date) -> ReportContext:
    return ReportContext(ws.engine, ws.settings, ws.root, day, ws.runs_dir)


def test_no_programme_no_section(ws: Workspace) -> None:
    assert loyalty_section(context(ws, dt.date(2024, 6, 1))) is None


def test_figures_liability_and_migration(shop: Workspace) -> None:
    run_loyalty_stage(shop, dt.datetime(2024, 4, 1))
    ledger = LoyaltyLedger(shop.state)
    ledger.post([Posting("redeem:1", "a", "redeem", -200, dt.datetime(2024, 4, 5))])
    ledger.post([Posting("redeem:2", "a", "redeem", -100, dt.datetime(2024, 4, 6))])
    ledger.reverse("redeem:2", dt.datetime(2024, 4, 7), "reward out of stock")
    run_loyalty_stage(shop, dt.datetime(2025, 1, 21))  # T1 of a and b's lot expire
    end = dt.datetime(2025, 1, 21)
    f = programme_figures(shop.engine, end)
    assert (f.members, f.outstanding) == (2, ledger.liability())
    # a earned 1100, redeemed 200 (the second redemption was reversed), 300 expired (T1's lot
    # after FIFO consumption by the 200 redeemed: 100 left), b's 30 expired
    assert f.redeemed_all == 200
    assert f.expired_all == 100 + 30
    assert f.breakage == 130 / 330
    assert f.liability(0.01) == ledger.liability() * 0.01
    assert f.active == 0  # nothing earned or redeemed in the 90 days before the end
    matrix = tier_migration(
        shop.engine, dt.date(2024, 1, 1), dt.date(2024, 3, 1), end, ["member", "gold"]
    )
    assert matrix.loc["member", "gold"] == 1 and matrix.loc["member", "member"] == 1
    assert int(matrix.to_numpy().sum()) == 2


def test_section_and_report_render(shop: Workspace) -> None:
    run_loyalty_stage(shop, dt.datetime(2024, 4, 1))
    section = loyalty_section(context(shop, dt.date(2024, 3, 31)))
    assert section is not None and section.id == "loyalty"
    values = {m.label: m.value for m in section.metrics}
    assert values["Members"] == "2" and values["Points liability"].startswith("11.30")
    assert "not measurable yet" in section.blocks[-1].rows[0][0]  # type: ignore[union-attr]
    html = build_report(shop, as_of=dt.date(2024, 3, 31)).read_text()
    assert "Loyalty programme: Test Rewards" in html and "Tier migration" in html
