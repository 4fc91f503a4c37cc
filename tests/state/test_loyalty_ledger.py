"""The loyalty ledger on both backends: postings, idempotency, reversals, FIFO expiry."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from cvm.state.loyalty_ledger import LoyaltyLedger, Posting
from cvm.state.loyalty_tables import loyalty_lines
from cvm.state.store import connect_state, upgrade_state

T0 = datetime(2024, 1, 1)


@pytest.fixture(params=["sqlite", "postgresql"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    else:
        url = str(request.getfixturevalue("fresh_postgres_db"))
    engine = connect_state(url)
    upgrade_state(engine)
    return engine


def earn(key: str, points: int, days: int = 0, expires_in: int | None = None) -> Posting:
    at = T0 + timedelta(days=days)
    expires = at + timedelta(days=expires_in) if expires_in is not None else None
    return Posting(key, "c1", "earn", points, at, "purchase", expires_at=expires)


def redeem(key: str, points: int, days: int = 0) -> Posting:
    return Posting(key, "c1", "redeem", -points, T0 + timedelta(days=days), "reward")


def journal_sums(state: Engine) -> dict[str, int]:
    query = select(loyalty_lines.c.entry_key, func.sum(loyalty_lines.c.points)).group_by(
        loyalty_lines.c.entry_key
    )
    with state.connect() as conn:
        return {k: int(v) for k, v in conn.execute(query)}


def test_enroll_is_idempotent_and_gives_a_referral_code(state: Engine) -> None:
    ledger = LoyaltyLedger(state)
    assert ledger.enroll("c1", T0) is True
    assert ledger.enroll("c1", T0 + timedelta(days=1)) is False
    account = ledger.account("c1")
    assert account is not None and account["enrolled_at"] == T0
    assert len(account["referral_code"]) == 10
    assert ledger.balance("c1") == 0 and ledger.balance("nobody") == 0


def test_postings_balance_and_retries_post_once(state: Engine) -> None:
    ledger = LoyaltyLedger(state)
    ledger.enroll("c1", T0)
    report = ledger.post([earn("e1", 100), earn("e2", 50, 1), redeem("r1", 120, 2)])
    assert (report.posted, report.duplicates, report.rejected) == (3, 0, [])
    assert ledger.balance("c1") == 30
    retry = ledger.post([earn("e1", 100), redeem("r1", 120, 2), earn("e3", 5), earn("e3", 5)])
    assert (retry.posted, retry.duplicates) == (1, 3)
    assert ledger.balance("c1") == 35
    assert set(journal_sums(state).values()) == {0}
    lines = ledger.entries()
    assert [line["id"] for line in lines] == sorted(line["id"] for line in lines)
    assert sum(line["points"] for line in lines if line["account"] == "member") == 35


def test_overspending_and_non_members_are_rejected_with_a_reason(state: Engine) -> None:
    ledger = LoyaltyLedger(state)
    ledger.enroll("c1", T0)
    ledger.post([earn("e1", 10)])
    report = ledger.post([redeem("r1", 11), Posting("x", "c9", "earn", 5, T0)])
    assert report.posted == 0
    assert dict(report.rejected) == {
        "r1": "insufficient balance: 10 points, 11 needed",
        "x": "not a member",
    }
    bad = ledger.post([Posting("y", "c1", "earn", -5, T0)])
    assert bad.rejected == [("y", "an earn posting needs points > 0")]
    assert ledger.balance("c1") == 10


def test_allow_negative_goes_below_zero_and_next_earn_pays_the_deficit(state: Engine) -> None:
    ledger = LoyaltyLedger(state, allow_negative=True)
    ledger.enroll("c1", T0)
    assert ledger.post([earn("e1", 10), redeem("r1", 25)]).posted == 2
    assert ledger.balance("c1") == -15
    ledger.post([earn("e2", 20, 1)])
    assert ledger.balance("c1") == 5
    assert sum(lot["remaining"] for lot in ledger.lots("c1")) == 5


def test_reversal_is_a_new_entry_and_reversing_twice_is_a_no_op(state: Engine) -> None:
    ledger = LoyaltyLedger(state)
    ledger.enroll("c1", T0)
    ledger.post([earn("e1", 100, expires_in=30), earn("e2", 50, 1, expires_in=60)])
    ledger.post([redeem("r1", 120, 2)])
    first = ledger.reverse("r1", T0 + timedelta(days=3), "cancelled order")
    again = ledger.reverse("r1", T0 + timedelta(days=3), "cancelled order")
    assert (first.posted, again.posted, again.duplicates) == (1, 0, 1)
    assert ledger.balance("c1") == 150
    # the points went back to the lots they came from, with their own expiry dates
    assert [(lot["key"], lot["remaining"]) for lot in ledger.lots("c1")] == [
        ("e1", 100),
        ("e2", 50),
    ]
    reversal_of_reversal = ledger.reverse("reverse:r1", T0, "no")
    assert reversal_of_reversal.rejected == [
        ("reverse:reverse:r1", "a reversal cannot be reversed")
    ]
    assert ledger.reverse("missing", T0, "no").rejected[0][1] == "no posting with key 'missing'"
    kinds = [e["kind"] for e in ledger.statement("c1")]
    assert kinds == ["reverse", "redeem", "earn", "earn"]


def test_reversing_an_earn_already_spent_needs_allow_negative(state: Engine) -> None:
    ledger = LoyaltyLedger(state)
    ledger.enroll("c1", T0)
    ledger.post([earn("e1", 100), redeem("r1", 80)])
    report = ledger.reverse("e1", T0, "returned")
    assert report.rejected == [("reverse:e1", "insufficient balance: 20 points, 100 needed")]
    assert ledger.balance("c1") == 20


def test_fifo_expiry_at_the_boundary(state: Engine) -> None:
    ledger = LoyaltyLedger(state)
    ledger.enroll("c1", T0)
    # lot a expires day 30, lot b day 10 (earned later but expires first), c never
    ledger.post([earn("a", 100, 0, 30), earn("b", 40, 5, 5), earn("c", 7, 6)])
    ledger.post([redeem("r1", 50, 7)])  # FIFO by expiry: all of b, then 10 from a
    assert {lot["key"]: lot["remaining"] for lot in ledger.lots("c1", open_only=False)} == {
        "a": 90,
        "b": 0,
        "c": 7,
    }
    just_before = ledger.expire(T0 + timedelta(days=30) - timedelta(microseconds=1))
    assert just_before.posted == 0
    at_boundary = ledger.expire(T0 + timedelta(days=30))
    assert at_boundary.posted == 1 and ledger.balance("c1") == 7
    assert ledger.expire(T0 + timedelta(days=400)).posted == 0  # c never expires; a is done
    account = ledger.account("c1")
    assert account is not None
    assert (account["earned"], account["redeemed"], account["expired"]) == (147, 50, 90)
    assert set(journal_sums(state).values()) == {0}


def test_loyalty_tables_exist_fresh_and_after_migrating_an_older_store(tmp_path: Path) -> None:
    from cvm.state.store import state_tables
    from cvm.workspace import init_workspace

    wanted = {
        "loyalty_accounts", "loyalty_entries", "loyalty_lines", "loyalty_lots",
        "loyalty_lot_uses", "loyalty_rewards", "loyalty_redemptions", "loyalty_referrals",
    }  # fmt: skip
    ws = init_workspace(tmp_path / "fresh")
    assert wanted <= set(state_tables(ws.state))
    ws.close()
    old = connect_state(f"sqlite:///{tmp_path / 'old.sqlite'}")
    upgrade_state(old, "0004")
    assert not wanted & set(state_tables(old))
    upgrade_state(old)
    assert wanted <= set(state_tables(old))
    ledger = LoyaltyLedger(old)
    ledger.enroll("c1", T0)
    assert ledger.post([earn("e1", 5)]).posted == 1


def test_a_reversed_expiry_gives_the_points_back_and_can_expire_again(state: Engine) -> None:
    ledger = LoyaltyLedger(state)
    ledger.enroll("c1", T0)
    ledger.post([earn("a", 60, 0, 10)])
    assert ledger.expire(T0 + timedelta(days=10)).posted == 1
    assert ledger.reverse("expire:a", T0 + timedelta(days=11), "goodwill").posted == 1
    assert ledger.balance("c1") == 60
    again = ledger.expire(T0 + timedelta(days=12))
    assert again.posted == 1 and ledger.balance("c1") == 0
    keys = [e["key"] for e in ledger.statement("c1")]
    assert keys == ["expire:a:2", "reverse:expire:a", "expire:a", "a"]
    assert set(journal_sums(state).values()) == {0}
