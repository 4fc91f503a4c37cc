"""The `loyalty_tier` profile field as offer eligibility, through the real decision run."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest

from cvm.core.errors import UserInputError
from cvm.decide.batch import run_decisions
from cvm.decide.offer_store import check_offer_rules
from cvm.decide.offers import offers_in_document, parse_offers
from cvm.loyalty.stage import run_loyalty_stage
from cvm.segments.definition import read_document
from cvm.state.loyalty_ledger import LoyaltyLedger
from cvm.workspace import Workspace, init_workspace
from tests.decide.conftest import populate
from tests.loyalty.conftest import add_lines, write_programme

OFFER = """
offers:
  - id: vip_lounge
    name: Lounge access for top tiers
    outcome: activation
    eligibility: {kind: profile, field: loyalty_tier, op: in, value: [gold, platinum]}
    channels: {email: 0.01}
    value: {kind: fixed, amount: 30}
    uplift: {prior: 0.05}
"""

TIERS = {
    "tiers": {
        "levels": [
            {"name": "member", "threshold": 0},
            {"name": "silver", "threshold": 500},
            {"name": "gold", "threshold": 1500},
            {"name": "platinum", "threshold": 4000},
        ]
    }
}


@pytest.fixture
def tiered(tmp_path: Path) -> Iterator[Workspace]:
    ws = init_workspace(tmp_path / "ws")
    populate(ws.engine)
    spend = {f"c{i:04d}": 5000 if i < 10 else 2000 if i < 30 else 600 if i < 60 else 50
             for i in range(100)}  # fmt: skip
    add_lines(
        ws.engine,
        [
            (f"T{cid}", cid, "2025-02-01 10:00", amount, "books", "web")
            for cid, amount in spend.items()
        ],
    )
    write_programme(ws.root, TIERS)
    LoyaltyLedger(ws.state).enroll_many([(cid, dt.datetime(2025, 1, 1)) for cid in spend])
    try:
        yield ws
    finally:
        ws.close()


def test_offer_restricted_to_gold_and_platinum_goes_only_to_them(tiered: Workspace) -> None:
    run = run_loyalty_stage(tiered, dt.datetime(2025, 3, 1))
    assert run is not None
    assert run.tiers == {"platinum": 10, "gold": 20, "silver": 30, "member": 40}
    offers = parse_offers(offers_in_document(read_document(OFFER)))
    check_offer_rules(tiered.engine, offers)  # the field is known to the validator
    result = run_decisions(tiered, day=dt.date(2025, 3, 10), offers=offers, write=False)
    chosen = set(result.rows.column("customer_id").to_pylist())
    top = {f"c{i:04d}" for i in range(30)}
    assert chosen and chosen <= top
    # the same offer open to everyone reaches far beyond them: the tier rule is what limits it
    open_offer = offers[0].model_copy(update={"eligibility": None})
    everyone = run_decisions(tiered, day=dt.date(2025, 3, 10), offers=[open_offer], write=False)
    assert len(set(everyone.rows.column("customer_id").to_pylist()) - top) > 100


def test_the_field_is_unknown_before_the_stage_ran(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    try:
        offers = parse_offers(offers_in_document(read_document(OFFER)))
        with pytest.raises(UserInputError, match="loyalty_tier"):
            check_offer_rules(ws.engine, offers)
    finally:
        ws.close()
