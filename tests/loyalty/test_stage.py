"""The loyalty stage on a real workspace: ledger, mirrors, tiers, profile fields, reruns."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from cvm.core.errors import UserInputError
from cvm.loyalty.stage import run_loyalty_stage
from cvm.state.loyalty_ledger import LoyaltyLedger, Posting
from cvm.workspace import Workspace
from tests.loyalty.conftest import add_lines, write_programme


def scalar(ws: Workspace, sql: str) -> object:
    return ws.engine.fetch_scalar(sql)


def test_no_programme_no_stage(ws: Workspace) -> None:
    assert run_loyalty_stage(ws, dt.datetime(2024, 6, 1)) is None


def test_invalid_programme_names_the_file_and_key(ws: Workspace) -> None:
    write_programme(ws.root, {"earn": {"points_per_unit": -1}})
    with pytest.raises(UserInputError, match=r"loyalty.yaml: key 'earn.points_per_unit'"):
        run_loyalty_stage(ws, dt.datetime(2024, 6, 1))


def test_stage_earns_mirrors_and_reconciles(shop: Workspace) -> None:
    run = run_loyalty_stage(shop, dt.datetime(2024, 4, 1))
    assert run is not None
    ledger = LoyaltyLedger(shop.state)
    # a: 300 + (300 base + 300 gold bonus) + (100 + 100) ; b: 50 − 20
    assert ledger.balance("a") == 1100 and ledger.balance("b") == 30
    assert (run.members, run.posted, run.rejected) == (2, 5, 0)
    assert run.tiers == {"gold": 1, "member": 1}
    # the mirror: every entry's lines sum to zero; member lines sum to each balance
    assert scalar(shop, "SELECT COUNT(*) FROM loyalty_entries") == 10
    assert scalar(shop, "SELECT SUM(points) FROM loyalty_entries") == 0
    assert (
        scalar(shop, "SELECT SUM(points) FROM loyalty_entries WHERE account = 'member'")
        == scalar(shop, "SELECT SUM(balance) FROM loyalty_accounts")
        == ledger.liability()
    )
    rows = shop.engine.fetch_rows(
        "SELECT customer_id, loyalty_member, loyalty_points_balance, loyalty_tier "
        "FROM customer_360 ORDER BY customer_id"
    )
    assert rows == [("a", True, 1100, "gold"), ("b", True, 30, "member"), ("c", False, None, None)]


def test_rerun_posts_nothing_new_and_later_runs_pick_up_new_orders(shop: Workspace) -> None:
    run_loyalty_stage(shop, dt.datetime(2024, 3, 15))
    again = run_loyalty_stage(shop, dt.datetime(2024, 3, 15))
    assert again is not None and again.posted == 0 and again.mirrored_lines == 0
    assert again.duplicates == 1  # T3 in the watermark's month is recomputed, not reposted
    add_lines(shop.engine, [("T6", "b", "2024-04-02 10:00", 40, "books", "web")])
    LoyaltyLedger(shop.state).enroll("c", dt.datetime(2024, 1, 1))
    later = run_loyalty_stage(shop, dt.datetime(2024, 5, 1))
    assert later is not None and later.new_members == 1
    # T6 for b, and c (new to the stage) earns from enrolment, even before the watermark
    assert later.posted == 2
    assert LoyaltyLedger(shop.state).balance("c") == 999 * 2  # gold on the day of T5
    assert scalar(shop, "SELECT COUNT(*) FROM loyalty_entries") == 14


def test_expiry_and_redemption_fields(shop: Workspace) -> None:
    run_loyalty_stage(shop, dt.datetime(2024, 4, 1))
    ledger = LoyaltyLedger(shop.state)
    report = ledger.post([Posting("redeem:1", "a", "redeem", -200, dt.datetime(2024, 4, 5))])
    assert report.posted == 1
    run = run_loyalty_stage(shop, dt.datetime(2025, 1, 21))  # T1 (a) and T4/R4 (b) lots expire
    assert run is not None and run.expired == 2
    assert ledger.balance("b") == 0
    row = shop.engine.fetch_rows(
        "SELECT loyalty_redemptions_12m, loyalty_last_redeemed_at FROM loyalty_profile "
        "WHERE customer_id = 'a'"
    )
    assert row == [(1, dt.datetime(2024, 4, 5))]
    assert scalar(shop, "SELECT SUM(points) FROM loyalty_entries") == 0
    assert (
        scalar(shop, "SELECT SUM(points) FROM loyalty_entries WHERE account = 'member'")
        == ledger.liability()
    )


def test_campaigns_grant_points_to_treated_members_once(shop: Workspace) -> None:
    import pyarrow as pa

    from tests.loyalty.conftest import PROGRAMME

    grant = {"kind": "grant", "name": "winback_500", "campaign_id": "CMP-W", "points": 500}
    write_programme(shop.root, {**PROGRAMME, "bonuses": [grant]})
    shop.engine.write_arrow(
        "campaign_assignments",
        pa.table(
            {
                "campaign_id": ["CMP-W", "CMP-W", "CMP-W", "CMP-X"],
                "customer_id": ["a", "b", "c", "b"],
                "arm": ["treat", "control", "treat", "treat"],
                "is_control": [False, True, False, False],
                "assigned_at": pa.array([dt.datetime(2024, 3, 1)] * 4, pa.timestamp("us")),
            }
        ),
    )
    before = {"a": 1100, "b": 30}
    run_loyalty_stage(shop, dt.datetime(2024, 4, 1))
    ledger = LoyaltyLedger(shop.state)
    assert ledger.balance("a") == before["a"] + 500  # treated member
    assert ledger.balance("b") == before["b"]  # control, and another campaign
    assert ledger.balance("c") == 0  # treated but not a member
    again = run_loyalty_stage(shop, dt.datetime(2024, 4, 1))
    assert again is not None and again.posted == 0 and again.duplicates >= 1
    assert ledger.balance("a") == 1600


def test_pipeline_stage_signature(shop: Workspace, ws: Workspace) -> None:
    from cvm.loyalty.stage import loyalty_pipeline_stage

    summary = loyalty_pipeline_stage(shop, dt.date(2024, 3, 31), lambda _m: None)
    assert summary["members"] == 2 and summary["posted"] == 5


def test_segments_select_on_loyalty_fields(shop: Workspace) -> None:
    from cvm.segments.compile import compile_segment
    from cvm.segments.context import CompileContext
    from cvm.segments.definition import SegmentDefinition
    from cvm.segments.fields import field_catalog

    run_loyalty_stage(shop, dt.datetime(2024, 4, 1))
    catalog = field_catalog(shop.engine)
    assert catalog.type_of("loyalty_points_balance") == "integer"
    assert catalog.type_of("loyalty_member") == "boolean"

    def members(rule: dict) -> set[str]:
        definition = SegmentDefinition.model_validate({"name": "s", "rule": rule})
        ctx = CompileContext(as_of=dt.datetime(2024, 4, 1))
        query = compile_segment(definition.rule, ctx, catalog)
        return {str(r[0]) for r in shop.engine.fetch_rows(query)}

    assert members(
        {"kind": "profile", "field": "loyalty_points_balance", "op": "gte", "value": 500}
    ) == {"a"}
    assert members({"kind": "profile", "field": "loyalty_member", "op": "eq", "value": False}) == {
        "c"
    }
    assert members({"kind": "profile", "field": "loyalty_tier", "op": "eq", "value": "member"}) == {
        "b"
    }
    gold_benefit = {"kind": "profile", "field": "loyalty_earn_multiplier", "op": "gt", "value": 1}
    assert members(gold_benefit) == {"a"}


@pytest.mark.slow  # starts a throwaway PostgreSQL cluster (shared by the session)
def test_stage_on_postgresql_state(fresh_postgres_db: str, tmp_path: Path) -> None:
    from cvm.workspace import init_workspace
    from tests.loyalty.conftest import add_customers

    ws = init_workspace(tmp_path / "pg", state_url=fresh_postgres_db)
    try:
        add_customers(ws.engine, {"a": None})
        add_lines(
            ws.engine,
            [
                ("T1", "a", "2024-01-10 10:00", 300, "books", "web"),
                ("T2", "a", "2024-02-10 10:00", 300, "books", "web"),
            ],
        )
        write_programme(ws.root)
        LoyaltyLedger(ws.state).enroll("a", dt.datetime(2024, 1, 1))
        run = run_loyalty_stage(ws, dt.datetime(2024, 4, 1))
        assert run is not None and run.posted == 2
        assert LoyaltyLedger(ws.state).balance("a") == 300 + 600
        again = run_loyalty_stage(ws, dt.datetime(2024, 4, 1))
        assert again is not None and again.posted == 0
        assert scalar(ws, "SELECT SUM(points) FROM loyalty_entries WHERE account = 'member'") == 900
    finally:
        ws.close()
