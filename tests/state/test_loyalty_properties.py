"""Property test of the ledger: any random sequence of earn/redeem/expire/adjust/reverse, with
repeated keys, keeps every entry balanced, balances equal the remaining lots, never goes
negative without `allow_negative`, and a retried key posts once."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func, select

from cvm.state.loyalty_ledger import LoyaltyLedger, Posting
from cvm.state.loyalty_tables import loyalty_accounts, loyalty_lines, loyalty_lots
from cvm.state.store import connect_state, upgrade_state

T0 = datetime(2024, 1, 1)
CUSTOMERS = ("a", "b")
KEYS = tuple(f"k{i}" for i in range(8))  # a small pool, so keys repeat

earns = st.tuples(
    st.just("earn"),
    st.sampled_from(CUSTOMERS),
    st.integers(1, 100),
    st.sampled_from(KEYS),
    st.one_of(st.none(), st.integers(0, 40)),
)
redeems = st.tuples(
    st.just("redeem"), st.sampled_from(CUSTOMERS), st.integers(1, 90), st.sampled_from(KEYS)
)
adjusts = st.tuples(
    st.just("adjust"),
    st.sampled_from(CUSTOMERS),
    st.integers(-80, 80).filter(bool),
    st.sampled_from(KEYS),
)
expiries = st.tuples(st.just("expire"), st.integers(0, 60))
# A reversal picks one of the keys posted so far (by index), so most reversals hit.
reversals = st.tuples(st.just("reverse"), st.integers(0, 100))
operations = st.lists(st.one_of(earns, redeems, adjusts, expiries, reversals), max_size=25)

_runs = itertools.count()


@pytest.fixture(scope="module")
def state(tmp_path_factory: pytest.TempPathFactory) -> Engine:
    path: Path = tmp_path_factory.mktemp("ledger") / "state.sqlite"
    engine = connect_state(f"sqlite:///{path}")
    upgrade_state(engine)
    return engine


def check_invariants(state: Engine, prefix: str, allow_negative: bool) -> None:
    with state.connect() as conn:
        unbalanced = conn.execute(
            select(loyalty_lines.c.entry_key)
            .where(loyalty_lines.c.entry_key.contains(prefix))
            .group_by(loyalty_lines.c.entry_key)
            .having(func.sum(loyalty_lines.c.points) != 0)
        ).all()
        assert unbalanced == []
        for customer in CUSTOMERS:
            cid = prefix + customer
            account = conn.execute(
                select(loyalty_accounts).where(loyalty_accounts.c.customer_id == cid)
            ).one()
            lots = conn.execute(
                select(func.coalesce(func.sum(loyalty_lots.c.remaining), 0)).where(
                    loyalty_lots.c.customer_id == cid
                )
            ).scalar_one()
            member_lines = conn.execute(
                select(func.coalesce(func.sum(loyalty_lines.c.points), 0)).where(
                    loyalty_lines.c.customer_id == cid, loyalty_lines.c.account == "member"
                )
            ).scalar_one()
            negative_lots = conn.execute(
                select(func.count()).where(
                    loyalty_lots.c.customer_id == cid, loyalty_lots.c.remaining < 0
                )
            ).scalar_one()
            assert negative_lots == 0
            assert account.balance == member_lines
            assert account.balance == lots - account.deficit
            totals = account.earned - account.redeemed - account.expired + account.adjusted
            assert totals == account.balance
            if not allow_negative:
                assert account.balance >= 0 and account.deficit == 0


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=operations, allow_negative=st.booleans())
def test_random_operations_keep_the_ledger_consistent(
    state: Engine, ops: list[tuple], allow_negative: bool
) -> None:
    prefix = f"run{next(_runs)}:"
    ledger = LoyaltyLedger(state, allow_negative=allow_negative)
    ledger.enroll_many([(prefix + c, T0) for c in CUSTOMERS])
    posted: dict[str, int] = {}  # key -> points, of postings the ledger accepted
    expected = dict.fromkeys(CUSTOMERS, 0)
    owner: dict[str, str] = {}
    expire_count = 0
    for step, op in enumerate(ops):
        at = T0 + timedelta(days=step)
        if op[0] == "expire":
            before = {c: ledger.balance(prefix + c) for c in CUSTOMERS}
            report = ledger.expire(T0 + timedelta(days=op[1]))
            expire_count += report.posted
            for c in CUSTOMERS:  # expiry only ever lowers a balance
                assert ledger.balance(prefix + c) <= before[c]
                expected[c] = ledger.balance(prefix + c)
                for entry in ledger.statement(prefix + c, limit=1000):
                    if entry["kind"] == "expire":  # expiries can be reversed too
                        posted.setdefault(entry["key"], entry["points"])
                        owner.setdefault(entry["key"], c)
        elif op[0] == "reverse":
            if not posted:
                continue
            key = list(posted)[op[1] % len(posted)]
            report = ledger.reverse(key, at, "test")
            if report.posted:
                assert key in posted
                expected[owner[key]] -= posted[key]
                # a second reversal of the same key is a no-op
                again = ledger.reverse(key, at, "test")
                assert again.posted == 0 and again.duplicates == 1
        else:
            kind, customer, points, key = op[0], op[1], op[2], prefix + op[3]
            if kind == "redeem":
                points = -points
            expires = None
            if kind == "earn" and op[4] is not None:
                expires = at + timedelta(days=op[4])
            posting = Posting(key, prefix + customer, kind, points, at, expires_at=expires)
            report = ledger.post([posting])
            if key in posted:
                assert (report.posted, report.duplicates) == (0, 1)  # a retry posts once
            elif report.posted:
                posted[key] = points
                owner[key] = customer
                expected[customer] += points
            else:
                assert report.rejected and "insufficient balance" in report.rejected[0][1]
                assert not allow_negative
        for c in CUSTOMERS:
            assert ledger.balance(prefix + c) == expected[c]
        check_invariants(state, prefix, allow_negative)
