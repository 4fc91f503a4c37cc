"""A small warehouse with customers, profiles (CLV, order value, uplift scores), consents,
contact history and events, plus an offer catalogue, for the decisioning tests."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from cvm.decide.offers import parse_offers
from cvm.decide.tables import ensure_decide_tables

DAY = dt.date(2025, 3, 10)
NOW = dt.datetime(2025, 3, 10, 12, 0)
ZONES = ["Europe/Berlin", "America/New_York", "Asia/Tokyo", None]

OFFERS_YAML = """
offers:
  - id: winback
    name: Win-back voucher
    outcome: retention
    eligibility: {kind: profile, field: days_since_last_purchase, op: gt, value: 60}
    channels: {email: 0.01, sms: 0.08}
    incentive: {cost: 5.0, redemption_probability: 0.2}
    value: {kind: clv, fraction: 0.5}
    uplift: {model: winback, prior: 0.01}
    volume: {max: 80}
  - id: crosssell
    name: Cross-sell bundle
    outcome: purchase
    channels: {email: 0.01, push: 0.002}
    value: {kind: order, margin: 0.3, order_value: 40}
    uplift: {prior: 0.04}
  - id: vip
    name: VIP early access
    outcome: activation
    eligibility: {kind: profile, field: value_tier, op: in, value: ["top 10%", "top 1%"]}
    channels: {email: 0.01}
    value: {kind: fixed, amount: 30}
    uplift: {prior: 0.05}
    priority: 1.5
"""


def offers_fixture() -> list:
    from cvm.decide.offers import offers_in_document
    from cvm.segments.definition import read_document

    return parse_offers(offers_in_document(read_document(OFFERS_YAML)))


def populate(engine: object, n: int = 400, seed: int = 7) -> None:
    """Write a small, fully known base into the warehouse."""
    rng = np.random.default_rng(seed)
    ids = [f"c{i:04d}" for i in range(n)]
    zones = [ZONES[i % len(ZONES)] for i in range(n)]
    customers = pa.table(
        {
            "customer_id": ids,
            "email": [f"{c}@example.com" if i % 10 else None for i, c in enumerate(ids)],
            "phone": [f"+4915{i:07d}" if i % 3 == 0 else None for i in range(n)],
            "time_zone": pa.array(zones, pa.string()),
        }
    )
    engine.write_arrow("customers", customers)  # type: ignore[attr-defined]
    clv = rng.lognormal(4.0, 1.0, n)
    tiers = np.where(clv > np.quantile(clv, 0.9), "top 10%", "bottom 50%")
    uplift = [
        json.dumps({"winback": float(u)}) if i % 4 else None
        for i, u in enumerate(rng.beta(2, 40, n))
    ]
    profiles = pa.table(
        {
            "customer_id": ids,
            "clv": clv,
            "avg_order_value": rng.lognormal(3.5, 0.5, n),
            "days_since_last_purchase": rng.integers(0, 200, n),
            "revenue": clv * 2,
            "orders": rng.integers(1, 20, n),
            "value_tier": tiers,
            "rfm_segment": np.where(clv > 80, "Champions", "Others"),
            "uplift": pa.array(uplift, pa.string()),
        }
    )
    engine.execute("DELETE FROM profiles")  # type: ignore[attr-defined]
    engine.write_arrow("profiles", profiles)  # type: ignore[attr-defined]
    consents = pa.table(
        {
            "customer_id": [c for i, c in enumerate(ids) for _ in (0, 1)],
            "channel": ["email", "sms"] * n,
            "purpose": ["marketing"] * (2 * n),
            "status": [("denied" if i % 7 == 0 else "granted") for i in range(n) for _ in (0, 1)],
            "occurred_at": pa.array([NOW - dt.timedelta(days=30)] * (2 * n), pa.timestamp("us")),
        }
    )
    engine.write_arrow("consents", consents)  # type: ignore[attr-defined]
    ensure_decide_tables(engine)  # type: ignore[arg-type]
    history = pa.table(
        {
            "customer_id": [ids[i] for i in range(0, n, 5)] * 2,
            "channel": ["email"] * (2 * len(range(0, n, 5))),
            "purpose": ["marketing"] * (2 * len(range(0, n, 5))),
            "at": pa.array(
                [NOW - dt.timedelta(days=2)] * len(range(0, n, 5))
                + [NOW + dt.timedelta(days=1)] * len(range(0, n, 5)),
                pa.timestamp("us"),
            ),
            "status": ["sent"] * len(range(0, n, 5)) + ["scheduled"] * len(range(0, n, 5)),
        }
    )
    engine.write_arrow("contact_history", history)  # type: ignore[attr-defined]
    events = pa.table(
        {
            "event_id": [f"e{i}" for i in range(0, n, 11)],
            "customer_id": [ids[i] for i in range(0, n, 11)],
            "type": ["track"] * len(range(0, n, 11)),
            "name": ["offer_redeemed"] * len(range(0, n, 11)),
            "occurred_at": pa.array(
                [NOW - dt.timedelta(days=3)] * len(range(0, n, 11)), pa.timestamp("us")
            ),
        }
    )
    engine.write_arrow("events", events)  # type: ignore[attr-defined]


@pytest.fixture
def decide_ws(tmp_path: Path) -> Iterator[object]:
    from cvm.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    populate(ws.engine)
    try:
        yield ws
    finally:
        ws.close()
