"""Referrals: qualified referrals reward both members once; fraud guards with the identity
graph (self-referral, shared e-mail/phone/device), and the monthly cap per referrer."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine

from cvm.core.errors import NotFoundError, UserInputError
from cvm.identity.graph import Observation
from cvm.identity.identifiers import ANONYMOUS_ID, EMAIL, USER_ID, Identifier
from cvm.identity.live import apply, open_graph, save_graph
from cvm.loyalty.referrals import ReferralProgramme, ReferralRules, fraud_reason
from cvm.state.identity_store import IdentityStore
from cvm.state.loyalty_ledger import LoyaltyLedger
from cvm.state.store import connect_state, upgrade_state

T0 = datetime(2024, 3, 5)


@pytest.fixture
def state(tmp_path: Path) -> Engine:
    engine = connect_state(f"sqlite:///{tmp_path / 'state.sqlite'}")
    upgrade_state(engine)
    return engine


def observe(state: Engine, user: str, *others: Identifier) -> str:
    """Run one identify call through the real identity graph; return the customer id."""
    store = IdentityStore(state)
    user_key = Identifier(USER_ID, user)
    with state.begin() as conn:
        graph = open_graph(store, conn, [user_key, *others], max_user_ids=3)
        apply(graph, [Observation((user_key, *others), T0, "identify", user=user_key)])
        save_graph(store, conn, graph)
    with state.connect() as conn:
        nodes = store.nodes_for(conn, [(USER_ID, user)])
    return str(nodes[0]["customer_id"])


def programme(state: Engine, **rules: float) -> tuple[LoyaltyLedger, ReferralProgramme]:
    ledger = LoyaltyLedger(state)
    return ledger, ReferralProgramme(ledger, ReferralRules(**rules))  # type: ignore[arg-type]


def code_of(ledger: LoyaltyLedger, customer: str) -> str:
    account = ledger.account(customer)
    assert account is not None
    return str(account["referral_code"])


def test_a_qualified_referral_rewards_both_once(state: Engine) -> None:
    ledger, referrals = programme(state, referrer_points=500, referee_points=250, min_purchase=20)
    ledger.enroll("alice", T0)
    outcome = referrals.enroll("bob", code_of(ledger, "alice").lower(), T0)
    assert (outcome.referrer_id, outcome.status, outcome.reason) == ("alice", "pending", None)
    assert ledger.account("bob")["referred_by"] == code_of(ledger, "alice")  # type: ignore[index]

    small = referrals.qualify("bob", 19.99, T0 + timedelta(days=1), "o1")
    assert small.status == "pending" and "below the minimum" in (small.reason or "")
    assert ledger.balance("alice") == ledger.balance("bob") == 0

    done = referrals.qualify("bob", 35.0, T0 + timedelta(days=2), "o2")
    again = referrals.qualify("bob", 80.0, T0 + timedelta(days=3), "o3")
    assert (done.status, done.points_posted) == ("qualified", 2)
    assert (again.status, again.points_posted) == ("qualified", 0)
    assert (ledger.balance("alice"), ledger.balance("bob")) == (500, 250)
    [row] = referrals.store.list(referrer_id="alice")
    assert (row["status"], row["order_reference"]) == ("qualified", "o2")


def test_unknown_codes_and_existing_members_are_clear_errors(state: Engine) -> None:
    ledger, referrals = programme(state)
    ledger.enroll("alice", T0)
    with pytest.raises(NotFoundError, match="no member has the referral code 'NOPE'"):
        referrals.enroll("bob", "NOPE", T0)
    assert ledger.account("bob") is None  # nothing enrolled on a bad code
    with pytest.raises(UserInputError, match="already a member"):
        referrals.enroll("alice", code_of(ledger, "alice"), T0)
    with pytest.raises(NotFoundError, match="was not referred"):
        referrals.qualify("alice", 50, T0)


def test_fraud_reason_flags_the_same_customer_and_passes_strangers() -> None:
    assert fraud_reason("alice", "alice", [], []) == "self-referral"
    assert fraud_reason("alice", "bob", [(EMAIL, "a@x.io")], [(EMAIL, "b@x.io")]) is None


def test_a_referee_sharing_the_referrers_email_is_rejected_and_never_rewarded(
    state: Engine,
) -> None:
    ledger, referrals = programme(state)
    alice = observe(state, "u-alice", Identifier(EMAIL, "alice@example.com"))
    ledger.enroll(alice, T0)
    outcome = referrals.enroll(
        "new-1", code_of(ledger, alice), T0, identifiers={"email": "  Alice@Example.COM "}
    )
    assert outcome.status == "rejected"
    assert outcome.reason == "referee shares identifiers with the referrer (email)"
    assert "alice@example.com" not in (outcome.reason or "")  # no PII in the reason
    assert referrals.qualify("new-1", 100, T0).status == "rejected"
    assert ledger.balance(alice) == ledger.balance("new-1") == 0


def test_a_shared_device_seen_later_in_the_graph_blocks_the_reward(state: Engine) -> None:
    ledger, referrals = programme(state)
    alice = observe(state, "u-alice", Identifier(ANONYMOUS_ID, "device-1"))
    bob = observe(state, "u-bob", Identifier(EMAIL, "bob@example.com"))
    assert alice != bob
    ledger.enroll(alice, T0)
    assert referrals.enroll(bob, code_of(ledger, alice), T0).status == "pending"
    # bob then signs in on alice's phone: the graph sees the device with both user ids
    observe(state, "u-bob", Identifier(ANONYMOUS_ID, "device-1"))
    outcome = referrals.qualify(bob, 100, T0 + timedelta(days=1))
    assert outcome.status == "rejected"
    assert outcome.reason == "referee shares identifiers with the referrer (anonymous_id)"
    assert ledger.balance(alice) == 0


def test_rewarded_referrals_are_capped_per_referrer_and_month(state: Engine) -> None:
    ledger, referrals = programme(state, monthly_cap=2, min_purchase=0)
    ledger.enroll("alice", T0)
    code = code_of(ledger, "alice")
    for i in range(4):
        referrals.enroll(f"f{i}", code, T0)
    statuses = [referrals.qualify(f"f{i}", 10, T0 + timedelta(days=i)).status for i in range(3)]
    assert statuses == ["qualified", "qualified", "rejected"]
    capped = referrals.store.list(status="rejected")
    assert capped[0]["reason"] == "referrer reached the cap of 2 rewarded referrals in 2024-03"
    # a new month opens the cap again
    assert referrals.qualify("f3", 10, datetime(2024, 4, 1)).status == "qualified"
    assert ledger.balance("alice") == 3 * 500


def test_bad_identifier_kind_is_a_clear_error(state: Engine) -> None:
    ledger, referrals = programme(state)
    ledger.enroll("alice", T0)
    with pytest.raises(UserInputError, match="unknown identifier kind 'fax'"):
        referrals.enroll("bob", code_of(ledger, "alice"), T0, identifiers={"fax": "1"})


def test_a_referee_merged_into_the_referrer_by_identity_resolution_is_self_referral(
    state: Engine,
) -> None:
    ledger, referrals = programme(state, min_purchase=0)
    alice = observe(state, "u-alice", Identifier(EMAIL, "alice@example.com"))
    # an anonymous visitor (device only) gets its own profile and joins with alice's code
    store = IdentityStore(state)
    device = Identifier(ANONYMOUS_ID, "device-7")
    with state.begin() as conn:
        graph = open_graph(store, conn, [device], max_user_ids=3)
        apply(graph, [Observation((device,), T0, "track")])
        save_graph(store, conn, graph)
    with state.connect() as conn:
        visitor = str(store.nodes_for(conn, [(ANONYMOUS_ID, "device-7")])[0]["customer_id"])
    assert visitor != alice
    ledger.enroll(alice, T0)
    assert referrals.enroll(visitor, code_of(ledger, alice), T0).status == "pending"
    # then alice signs in on that device: the graph merges the visitor into alice
    observe(state, "u-alice", device)
    outcome = referrals.qualify(visitor, 50, T0 + timedelta(days=1))
    assert (outcome.status, outcome.reason) == ("rejected", "self-referral")


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
def test_concurrent_qualifications_respect_the_monthly_cap(
    backend: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from tests.state.test_loyalty_concurrency import run_together

    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    else:
        url = str(request.getfixturevalue("fresh_postgres_db"))
    engine = connect_state(url)
    upgrade_state(engine)
    ledger, referrals = programme(engine, monthly_cap=3, min_purchase=0)
    ledger.enroll("alice", T0)
    code = code_of(ledger, "alice")
    for i in range(8):
        referrals.enroll(f"f{i}", code, T0)

    def qualify(i: int) -> str:
        rules = ReferralRules(monthly_cap=3, min_purchase=0)
        return ReferralProgramme(LoyaltyLedger(engine), rules).qualify(f"f{i}", 30, T0).status

    statuses = run_together(qualify, 8)
    assert sorted(statuses) == ["qualified"] * 3 + ["rejected"] * 5, statuses
    assert ledger.balance("alice") == 3 * 500
    engine.dispose()
