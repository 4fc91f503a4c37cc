"""Unmerge puts events and traits back; batch resolution over files equals the live path."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa

from cvm.collect.config import LiveSettings
from cvm.identity.batch import resolve_batch
from cvm.identity.graph import generated_customer_id
from cvm.identity.identifiers import ANONYMOUS_ID, Identifier
from cvm.identity.mirror import mirror_identities
from cvm.identity.profile_lookup import lookup_profile
from cvm.identity.unmerge import unmerge
from cvm.state.identity_store import IdentityStore
from cvm.workspace import init_workspace
from tests.identity.live_helpers import identity_map, send


def test_unmerge_returns_events_and_traits_to_the_right_profile(workspace) -> None:  # type: ignore[no-untyped-def]
    ws = workspace
    send(
        ws,
        [
            {
                "type": "identify",
                "userId": "u1",
                "traits": {"email": "front-desk@hotel.io", "name": "Ann"},
            }
        ],
    )
    send(ws, [
        {"type": "identify", "anonymousId": "a2", "traits": {"name": "Bob"}, "timestamp": "2030-01-01T00:00:00Z"},
        {"type": "track", "anonymousId": "a2", "event": "Viewed", "messageId": "bob-1"},
    ])  # fmt: skip
    bob = generated_customer_id(Identifier(ANONYMOUS_ID, "a2"))
    # Bob types the hotel's desk e-mail: the graph merges him into Ann.
    send(
        ws, [{"type": "identify", "anonymousId": "a2", "traits": {"email": "front-desk@hotel.io"}}]
    )
    policy = "opt_in"
    ann = lookup_profile(ws.engine, ws.state, "u1", policy)
    assert ann["traits"]["name"]["value"] == "Bob"  # the wrong merge shows
    assert ws.engine.fetch_scalar("SELECT customer_id FROM events WHERE event_id='bob-1'") == "u1"
    store = IdentityStore(ws.state)
    with ws.state.connect() as conn:
        merges = store.merges_for(conn, ["u1"])
    assert [(m["kept_customer_id"], m["merged_customer_id"]) for m in merges] == [("u1", bob)]

    result = unmerge(ws.state, merges[0]["id"])
    mirror_identities(ws.engine, store)
    assert result["restored"] == [bob]
    assert ws.engine.fetch_scalar("SELECT customer_id FROM events WHERE event_id='bob-1'") == bob
    assert lookup_profile(ws.engine, ws.state, "u1", policy)["traits"]["name"]["value"] == "Ann"
    assert lookup_profile(ws.engine, ws.state, bob, policy)["traits"]["name"]["value"] == "Bob"
    # The e-mail that caused it is now blocked: the same identify does not merge again.
    send(
        ws, [{"type": "identify", "anonymousId": "a2", "traits": {"email": "front-desk@hotel.io"}}]
    )
    assert identity_map(ws)[("anonymous_id", "a2")] == bob


def _dataset(n: int, seed: int) -> tuple[list[dict], list[dict]]:
    rng = random.Random(seed)
    t0 = datetime(2023, 1, 1)
    customers, events = [], []
    for i in range(n):
        email = f"p{i}@mail.io" if rng.random() > 0.1 else "family@mail.io"  # a shared inbox
        phone = f"+1415555{i:04d}" if rng.random() > 0.2 else None
        customers.append({"customer_id": f"c{i}", "email": email, "phone": phone,
                          "signup_date": t0 + timedelta(hours=i)})  # fmt: skip
    for j in range(n * 3):
        i = rng.randrange(n)
        device = f"d{rng.randrange(n // 2)}"  # devices shared now and then
        user = f"c{i}" if rng.random() > 0.3 else None
        events.append({"event_id": f"e{j}", "user_id": user, "anonymous_id": device,
                       "occurred_at": t0 + timedelta(hours=n + j)})  # fmt: skip
    return customers, events


def test_batch_resolution_equals_the_live_path(tmp_path: Path) -> None:
    customers, events = _dataset(120, seed=7)
    settings = LiveSettings()
    live = init_workspace(tmp_path / "live")
    messages = [
        {"type": "identify", "userId": c["customer_id"], "messageId": f"id-{c['customer_id']}",
         "traits": {k: c[k] for k in ("email", "phone") if c[k]},
         "timestamp": c["signup_date"].isoformat() + "Z"}
        for c in customers
    ] + [
        {"type": "track", "event": "Viewed", "messageId": e["event_id"], "anonymousId": e["anonymous_id"],
         **({"userId": e["user_id"]} if e["user_id"] else {}),
         "timestamp": e["occurred_at"].isoformat() + "Z"}
        for e in events
    ]  # fmt: skip
    send(live, messages, settings)
    files = init_workspace(tmp_path / "files")
    files.engine.write_arrow("customers", pa.Table.from_pylist(
        [{**c, "_source": "customers.csv"} for c in customers]))  # fmt: skip
    files.engine.write_arrow("events", pa.Table.from_pylist(
        [{**e, "type": "track", "_source": "events.csv"} for e in events]))  # fmt: skip
    result = resolve_batch(files.engine, files.state)
    assert result.observations == len(customers) + len(events)
    live_map, file_map = identity_map(live), identity_map(files)
    assert len(live_map) > len(customers)
    assert live_map == file_map
    blocked = files.engine.fetch_scalar(
        "SELECT blocked FROM identities WHERE value = 'family@mail.io'"
    )
    assert blocked is True
    # Running the batch again changes nothing.
    assert resolve_batch(files.engine, files.state).merges == 0
    assert identity_map(files) == file_map
    live.close()
    files.close()
