"""Earn rules on a real DuckDB warehouse: multipliers, bonuses, caps, returns, enrolment."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pyarrow as pa

from cvm.loyalty.earn import earn_postings
from cvm.loyalty.programme import Programme, parse_programme
from cvm.workspace import Workspace
from tests.loyalty.conftest import add_customers, add_lines, members_table

SINCE, UNTIL = dt.datetime(2024, 1, 1), dt.datetime(2025, 1, 1)


def run(
    ws: Workspace, programme: Programme, enrolled: dict[str, str], **kw: Any
) -> dict[str, dict]:
    batches = list(earn_postings(ws.engine, programme, members_table(enrolled), SINCE, UNTIL, **kw))
    rows = pa.Table.from_batches(batches).to_pylist() if batches else []
    return {r["key"]: r for r in rows}


def test_base_points_with_category_and_channel_multipliers(ws: Workspace) -> None:
    add_customers(ws.engine, {"a": None})
    add_lines(
        ws.engine,
        [
            ("T1", "a", "2024-03-01 10:00", 10.50, "books", "store"),  # 10.5 × 1 × 1
            ("T1", "a", "2024-03-01 10:00", 20.00, "beauty", "app"),  # 20 × 2 × 1.5 = 60
            ("T2", "a", "2024-03-02 10:00", 9.99, "books", "web"),  # 9.99 → 9
        ],
    )
    programme = parse_programme(
        {"earn": {"points_per_unit": 1, "categories": {"beauty": 2}, "channels": {"app": 1.5}}}
    )
    out = run(ws, programme, {"a": "2024-01-01"})
    assert out["earn:T1"]["points"] == 70  # floor(70.5), summed per order before rounding
    assert out["earn:T2"]["points"] == 9
    assert out["earn:T1"]["kind"] == "earn" and out["earn:T1"]["reference"] == "T1"


def test_only_members_earn_and_only_from_enrolment(ws: Workspace) -> None:
    add_customers(ws.engine, {"a": None, "b": None})
    add_lines(
        ws.engine,
        [
            ("T1", "a", "2024-02-28 23:59", 100, "books", "web"),
            ("T2", "a", "2024-03-01 00:00", 100, "books", "web"),
            ("T3", "b", "2024-03-05 00:00", 100, "books", "web"),
        ],
    )
    out = run(ws, Programme(), {"a": "2024-03-01"})
    assert set(out) == {"earn:T2"}


def test_birthday_and_offer_bonuses_add_up(ws: Workspace) -> None:
    add_customers(ws.engine, {"a": dt.date(1990, 4, 15), "b": None, "c": None})
    add_lines(
        ws.engine,
        [
            ("T1", "a", "2024-04-10 12:00", 100, "books", "web"),  # birthday + offer
            ("T2", "a", "2024-05-01 12:00", 100, "books", "web"),  # after the offer window
            ("T3", "b", "2024-04-10 12:00", 100, "books", "web"),  # control: no bonus
            ("T4", "c", "2024-04-10 12:00", 100, "books", "web"),  # assigned after the order
        ],
    )
    ws.engine.write_arrow(
        "campaign_assignments",
        pa.table(
            {
                "campaign_id": ["C1", "C1", "C1"],
                "customer_id": ["a", "b", "c"],
                "arm": ["double", "control", "double"],
                "is_control": [False, True, False],
                "assigned_at": pa.array(
                    [dt.datetime(2024, 4, 1), dt.datetime(2024, 4, 1), dt.datetime(2024, 4, 11)],
                    pa.timestamp("us"),
                ),
                "offer_id": ["double_points"] * 3,
            }
        ),
    )
    programme = parse_programme(
        {
            "bonuses": [
                {"kind": "birthday", "name": "bday", "multiplier": 2},
                {
                    "kind": "offer",
                    "name": "spring",
                    "offer_id": "double_points",
                    "starts": "2024-04-01",
                    "ends": "2024-04-30",
                    "multiplier": 2,
                },
            ]
        }
    )
    out = run(ws, programme, {"a": "2024-01-01", "b": "2024-01-01", "c": "2024-01-01"})
    assert out["earn:T1"]["points"] == 300
    assert out["earn:T1"]["reason"] == "base+bday+spring"
    assert out["earn:T2"]["points"] == 100
    assert out["earn:T3"]["points"] == 100
    assert out["earn:T4"]["points"] == 100


def test_tier_multiplier_applies_within_the_tier_span(ws: Workspace) -> None:
    add_customers(ws.engine, {"a": None})
    add_lines(
        ws.engine,
        [
            ("T1", "a", "2024-03-01 12:00", 100, "books", "web"),
            ("T2", "a", "2024-06-01 12:00", 100, "books", "web"),
        ],
    )
    programme = parse_programme(
        {
            "tiers": {
                "levels": [
                    {"name": "member", "threshold": 0},
                    {"name": "gold", "threshold": 100, "benefits": {"earn_multiplier": 1.5}},
                ]
            }
        }
    )
    spans = pa.table(
        {
            "customer_id": ["a", "a"],
            "tier": ["member", "gold"],
            "valid_from": pa.array([dt.date(2024, 1, 1), dt.date(2024, 3, 2)], pa.date32()),
            "valid_to": pa.array([dt.date(2024, 3, 2), None], pa.date32()),
        }
    )
    out = run(ws, programme, {"a": "2024-01-01"}, tier_spans=spans)
    assert out["earn:T1"]["points"] == 100
    assert (out["earn:T2"]["points"], out["earn:T2"]["reason"]) == (150, "base+tier")


def test_caps_per_order_day_and_month_in_order_time(ws: Workspace) -> None:
    add_customers(ws.engine, {"a": None})
    add_lines(
        ws.engine,
        [
            ("T1", "a", "2024-03-01 09:00", 500, "books", "web"),  # order cap 300
            ("T2", "a", "2024-03-01 10:00", 250, "books", "web"),  # day cap 400: 100 left
            ("T3", "a", "2024-03-01 11:00", 50, "books", "web"),  # day exhausted → no posting
            ("T4", "a", "2024-03-02 10:00", 250, "books", "web"),  # month cap 600: 200 left
            ("T5", "a", "2024-04-01 10:00", 250, "books", "web"),  # new month
        ],
    )
    programme = parse_programme({"caps": {"per_order": 300, "per_day": 400, "per_month": 600}})
    out = run(ws, programme, {"a": "2024-01-01"})
    assert {k: v["points"] for k, v in out.items()} == {
        "earn:T1": 300,
        "earn:T2": 100,
        "earn:T4": 200,
        "earn:T5": 250,
    }
    assert out["earn:T2"]["reason"] == "base+capped"
    assert out["earn:T5"]["reason"] == "base"


def test_returns_claw_back_base_points(ws: Workspace) -> None:
    add_customers(ws.engine, {"a": None})
    add_lines(
        ws.engine,
        [
            ("T1", "a", "2024-03-01 09:00", 80, "beauty", "web"),
            ("R1", "a", "2024-03-09 09:00", -30.5, "beauty", "web"),
        ],
    )
    programme = parse_programme({"earn": {"categories": {"beauty": 2}}})
    out = run(ws, programme, {"a": "2024-01-01"})
    assert out["earn:T1"]["points"] == 160
    assert (out["return:R1"]["kind"], out["return:R1"]["points"]) == ("adjust", -61)
    off = parse_programme({"earn": {"claw_back_returns": False}})
    assert "return:R1" not in run(ws, off, {"a": "2024-01-01"})


def test_rerun_gives_the_same_keys_and_points(ws: Workspace) -> None:
    add_customers(ws.engine, {"a": None})
    add_lines(ws.engine, [("T1", "a", "2024-03-01 09:00", 80, "books", "web")])
    first = run(ws, Programme(), {"a": "2024-01-01"})
    assert first == run(ws, Programme(), {"a": "2024-01-01"})
