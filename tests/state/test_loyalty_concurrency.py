"""Concurrent redemptions on a real PostgreSQL (and SQLite with threads) never overspend or
oversell, and concurrent retries of one key post once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from cvm.state.loyalty_ledger import LoyaltyLedger, Posting
from cvm.state.loyalty_rewards import RedemptionRefused, Reward, RewardsCatalogue
from cvm.state.loyalty_tables import loyalty_entries
from cvm.state.store import connect_state, upgrade_state

T0 = datetime(2024, 1, 1)
THREADS = 12


@pytest.fixture(params=["postgresql", "sqlite"])
def state(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    else:
        url = str(request.getfixturevalue("fresh_postgres_db"))
    engine = connect_state(url)
    upgrade_state(engine)
    return engine


def run_together(work: Callable[[int], Any], n: int = THREADS) -> list[Any]:
    """Run work(0..n-1) in n threads released at the same moment; results or exceptions."""
    barrier = threading.Barrier(n)
    results: list[Any] = [None] * n

    def target(i: int) -> None:
        barrier.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc

    threads = [threading.Thread(target=target, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_concurrent_redemptions_never_overspend(state: Engine) -> None:
    ledger = LoyaltyLedger(state)
    ledger.enroll("m", T0)
    ledger.post([Posting("seed", "m", "earn", 1000, T0)])

    def spend(i: int) -> Any:
        return LoyaltyLedger(state).post([Posting(f"r{i}", "m", "redeem", -90, T0)])

    reports = run_together(spend)
    assert not [r for r in reports if isinstance(r, Exception)], reports
    succeeded = sum(r.posted for r in reports)
    assert succeeded == 1000 // 90  # 12 x 90 = 1080 wanted, 11 fit
    assert ledger.balance("m") == 1000 - 90 * succeeded == 10

    ledger.post([Posting("top-up", "m", "earn", 100, T0)])
    left = ledger.balance("m")  # 110: room for 7 of 12 redemptions of 15

    def spend_more(i: int) -> Any:
        return LoyaltyLedger(state).post([Posting(f"s{i}", "m", "redeem", -15, T0)])

    reports = run_together(spend_more)
    succeeded = sum(r.posted for r in reports)
    refused = [reason for r in reports for _, reason in r.rejected]
    assert succeeded == min(left // 15, THREADS)
    assert len(refused) == THREADS - succeeded
    assert all(reason.startswith("insufficient balance") for reason in refused)
    assert ledger.balance("m") == left - 15 * succeeded >= 0


def test_concurrent_retries_of_one_key_post_once(state: Engine) -> None:
    ledger = LoyaltyLedger(state)
    ledger.enroll("m", T0)

    def retry(_: int) -> Any:
        return LoyaltyLedger(state).post([Posting("same", "m", "earn", 10, T0)])

    reports = run_together(retry)
    assert not [r for r in reports if isinstance(r, Exception)], reports
    assert sum(r.posted for r in reports) == 1
    assert sum(r.duplicates for r in reports) == THREADS - 1
    assert ledger.balance("m") == 10


def test_concurrent_redemptions_never_oversell_stock(state: Engine) -> None:
    ledger = LoyaltyLedger(state)
    members = [f"m{i}" for i in range(THREADS)]
    ledger.enroll_many([(m, T0) for m in members])
    ledger.post([Posting(f"seed-{m}", m, "earn", 500, T0) for m in members])
    catalogue = RewardsCatalogue(ledger)
    catalogue.load([Reward("mug", "Mug", 100, stock=5)])

    def redeem(i: int) -> Any:
        return RewardsCatalogue(LoyaltyLedger(state)).redeem(members[i], "mug", f"red-{i}", T0)

    results = run_together(redeem)
    done = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, Exception)]
    assert len(done) == 5
    assert all(isinstance(r, RedemptionRefused) and r.code == "out_of_stock" for r in refused)
    reward = catalogue.reward("mug")
    assert reward is not None and reward["stock"] == 0
    assert len(catalogue.redemptions()) == 5
    # the refused members kept their points: nothing was posted for them
    spent = sorted(ledger.balance(m) for m in members)
    assert spent == [400] * 5 + [500] * (THREADS - 5)
    with state.connect() as conn:
        redeems = conn.execute(
            select(func.count()).where(loyalty_entries.c.kind == "redeem")
        ).scalar_one()
    assert redeems == 5


def test_concurrent_retries_of_one_redemption_redeem_once(state: Engine) -> None:
    ledger = LoyaltyLedger(state)
    ledger.enroll("m", T0)
    ledger.post([Posting("seed", "m", "earn", 500, T0)])
    RewardsCatalogue(ledger).load([Reward("mug", "Mug", 100, stock=3)])

    def redeem(_: int) -> Any:
        return RewardsCatalogue(LoyaltyLedger(state)).redeem("m", "mug", "one-key", T0)

    results = run_together(redeem, 8)
    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(not r.duplicate for r in results) == 1
    assert ledger.balance("m") == 400
    reward = RewardsCatalogue(ledger).reward("mug")
    assert reward is not None and reward["stock"] == 2
