"""The identity rules, on the pure in-memory graph."""

from __future__ import annotations

from datetime import datetime, timedelta

from cvm.identity.graph import IdentityGraph, Observation, generated_customer_id
from cvm.identity.identifiers import ANONYMOUS_ID, EMAIL, USER_ID, Identifier
from cvm.identity.phone import normalize_phone

T0 = datetime(2024, 1, 1)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def user(v: str) -> Identifier:
    return Identifier(USER_ID, v)


def anon(v: str) -> Identifier:
    return Identifier(ANONYMOUS_ID, v)


def email(v: str) -> Identifier:
    return Identifier(EMAIL, v)


def obs(t: int, *ids: Identifier, u: str | None = None) -> Observation:
    return Observation(tuple(ids), at(t), "identify", user(u) if u else None)


def test_anonymous_history_joins_the_known_profile() -> None:
    g = IdentityGraph()
    g.observe(obs(0, anon("a1")))
    assert g.customer_of(anon("a1")) == generated_customer_id(anon("a1"))
    g.observe(obs(1, anon("a1"), email("x@y.io"), u="u1"))
    assert g.customer_of(anon("a1")) == "u1"
    assert g.customer_of(email("x@y.io")) == "u1"
    assert [m.merged_customer_id for m in g.changes.merges] == [generated_customer_id(anon("a1"))]
    assert g.customers[generated_customer_id(anon("a1"))].merged_into == "u1"


def test_user_ids_never_merge_without_alias() -> None:
    g = IdentityGraph()
    g.observe(obs(0, anon("tablet"), u="u1"))
    g.observe(obs(1, anon("tablet"), u="u2"))  # same device, second person
    assert g.customer_of(user("u2")) == "u2"
    assert g.customer_of(anon("tablet")) == "u1"  # the first owner keeps it
    assert [lk.status for lk in g.changes.links][-1] == "refused"
    g.observe_alias("u2", "u1", at(2))
    assert g.customer_of(user("u2")) == g.customer_of(user("u1")) == "u1"  # earliest user id


def test_shared_identifier_is_blocked_after_n_user_ids() -> None:
    g = IdentityGraph(max_user_ids=2)
    counter = email("shop@store.io")
    for i in range(3):
        g.observe(obs(i, counter, u=f"u{i}"))
    assert g.nodes[counter].blocked
    # An anonymous visitor typing the counter e-mail is not merged into anyone.
    g.observe(Observation((anon("a9"), counter), at(10), "identify"))
    assert g.customer_of(anon("a9")) == generated_customer_id(anon("a9"))


def test_anonymous_profiles_merge_through_a_shared_email_and_keep_the_oldest_id() -> None:
    g = IdentityGraph()
    g.observe(obs(0, anon("a1"), email("x@y.io")))
    g.observe(obs(5, anon("a2")))
    g.observe(obs(6, anon("a2"), email("x@y.io")))
    first = generated_customer_id(anon("a1"))
    assert g.customer_of(anon("a2")) == first


def test_same_observations_same_graph_regardless_of_loading() -> None:
    stream = [obs(0, anon("a"), email("e@x.io"), u="u1"), obs(1, anon("b"), email("e@x.io"))]
    one, two = IdentityGraph(), IdentityGraph()
    for o in stream:
        one.observe(o)
        two.observe(o)
        two.observe(o)  # idempotent: repeating an observation changes nothing
    assert {k: n.customer_id for k, n in one.nodes.items()} == {
        k: n.customer_id for k, n in two.nodes.items()
    }
    assert len(two.changes.merges) == len(one.changes.merges)


def test_phone_normaliser() -> None:
    assert normalize_phone("(415) 555-0123", "US") == "+14155550123"
    assert normalize_phone("8 (916) 123-45-67", "RU") == "+79161234567"
    assert normalize_phone("07911 123456", "GB") == "+447911123456"
    assert normalize_phone("0044 7911 123456", "DE") == "+447911123456"
    assert normalize_phone("+49 30 1234567", "US") == "+49301234567"
    assert normalize_phone("12345", "US") is None
    assert normalize_phone("call me", "US") is None
