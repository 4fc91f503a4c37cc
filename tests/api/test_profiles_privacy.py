"""Profiles, consents and privacy requests through the API (in-process app, real stores)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from cvm.api.app import create_app
from cvm.consent import is_reachable, reachable_customers
from tests.api.conftest import Keys, make_workspace

USER, ANON, EMAIL, PHONE = "u-erase-7781", "dev-erase-9", "erase.me@example.org", "+14155550199"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Keys]]:
    keys = make_workspace(tmp_path / "ws")
    with TestClient(create_app(tmp_path / "ws", run_loader=False)) as client:
        yield client, keys


def _services(client: TestClient) -> Any:
    return client.app.state.services  # type: ignore[attr-defined]


def _send(client: TestClient, keys: Keys, batch: list[dict[str, Any]]) -> None:
    r = client.post("/v1/batch", json={"batch": batch}, auth=(keys.write, ""))
    assert r.status_code == 200, r.text
    _services(client).loader.flush_all()


def _person(client: TestClient, keys: Keys) -> None:
    _send(client, keys, [
        {"type": "page", "anonymousId": ANON, "name": "Landing", "messageId": "e-1",
         "timestamp": "2024-01-01T00:00:00Z"},
        {"type": "identify", "userId": USER, "anonymousId": ANON, "messageId": "e-2",
         "timestamp": "2024-01-01T00:01:00Z",
         "traits": {"email": EMAIL.upper(), "phone": PHONE, "first_name": "Erin", "sms_opt_in": True}},
        {"type": "track", "userId": USER, "event": "Order Completed", "messageId": "e-3",
         "timestamp": "2024-01-01T00:02:00Z",
         "properties": {"contact": EMAIL}},
        {"type": "identify", "userId": "someone-else", "traits": {"email": "other@example.org"}},
    ])  # fmt: skip


def test_profile_lookup_by_every_identifier_and_consent(api: tuple[TestClient, Keys]) -> None:
    client, keys = api
    _person(client, keys)
    auth = (keys.read, "")
    by_id = client.get(f"/v1/profiles/{USER}", auth=auth).json()
    assert by_id["traits"]["first_name"] == {"value": "Erin", "source": "api:identify",
                                             "observed_at": by_id["traits"]["first_name"]["observed_at"]}  # fmt: skip
    for params in (
        {"email": EMAIL},
        {"phone": "(415) 555-0199"},
        {"anonymous_id": ANON},
        {"user_id": USER},
    ):
        assert client.get("/v1/profiles", params=params, auth=auth).json()["customer_id"] == USER
    assert client.get("/v1/profiles", params={"email": "nobody@x.io"}, auth=auth).status_code == 404
    assert (
        client.get("/v1/profiles", params={"email": EMAIL, "user_id": USER}, auth=auth).status_code
        == 422
    )
    assert [e["event_id"] for e in by_id["recent_events"]] == ["e-3", "e-2", "e-1"]
    # Consent: sms opt-in from traits; e-mail unknown → workspace policy (opt-in) says no.
    assert by_id["consents"]["reachable"]["sms.marketing"] is True
    assert by_id["consents"]["reachable"]["email.marketing"] is False
    state = _services(client).workspace.state
    assert reachable_customers(state, [USER, "someone-else"], "sms", "marketing", "opt_in") == {
        USER: True, "someone-else": False}  # fmt: skip
    assert reachable_customers(state, ["someone-else"], "sms", "marketing", "opt_out") == {
        "someone-else": True
    }
    r = client.post("/v1/consents", auth=(keys.admin, ""), json={
        "user_id": USER, "channel": "all", "purpose": "marketing", "status": "denied"})  # fmt: skip
    assert r.status_code == 201
    assert is_reachable(state, USER, "sms", "marketing", "opt_in") is False  # withdrawal wins
    assert (
        client.get(f"/v1/consents/{USER}/reachable?channel=sms", auth=auth).json()["reachable"]
        is False
    )
    history = client.get(f"/v1/profiles/{USER}", auth=auth).json()["consents"]["history"]
    assert [(h["channel"], h["status"]) for h in history] == [("sms", "granted"), ("all", "denied")]


def _scan(client: TestClient, needles: list[str]) -> list[str]:
    """Every text cell of every table in both stores that contains a needle."""
    ws = _services(client).workspace
    hits: list[str] = []
    tables = ws.engine.fetch_rows(
        "SELECT table_name, column_name FROM information_schema.columns "
        "WHERE table_schema = 'main' AND data_type IN ('VARCHAR', 'JSON')"
    )
    for table, column in tables:
        for needle in needles:
            n = ws.engine.fetch_scalar(
                f'SELECT count(*) FROM "{table}" WHERE contains(CAST("{column}" AS VARCHAR), ?)',  # noqa: S608
                [needle],
            )
            if n:
                hits.append(f"warehouse.{table}.{column} has {needle}")
    meta = sa.MetaData()
    meta.reflect(ws.state)
    with ws.state.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(sa.select(table)):
                text = " ".join(str(v) for v in row)
                hits += [f"state.{table.name} has {n}" for n in needles if n in text]
    return hits


def test_export_then_erase_leaves_no_trace(api: tuple[TestClient, Keys]) -> None:
    client, keys = api
    _person(client, keys)
    ws = _services(client).workspace
    # Data from elsewhere about the same person: a customers row, a purchase, a quarantined
    # row, a segment membership, a profiles row, an outbox table in the state store.
    ws.engine.write_arrow("customers", pa.Table.from_pylist(
        [{"customer_id": USER, "email": EMAIL, "first_name": "Erin", "_source": "crm.csv"}]))  # fmt: skip
    ws.engine.write_arrow("transactions", pa.Table.from_pylist([{"transaction_id": "t1", "line_id": "1",
        "customer_id": USER, "occurred_at": datetime(2024, 1, 1), "amount": 10.0}]))  # fmt: skip
    ws.engine.write_arrow("quarantine", pa.Table.from_pylist([{"ingest_run": "r", "table_name": "customers",
        "source": "bad.csv", "row_number": 3, "reason": "bad date", "raw": f"x,{EMAIL},31/02"}]))  # fmt: skip
    ws.engine.write_arrow(
        "segment_membership", pa.Table.from_pylist([{"customer_id": USER, "segment": "vip"}])
    )
    ws.engine.write_arrow("profiles", pa.Table.from_pylist([{"customer_id": USER, "clv": 12.5}]))
    with ws.state.begin() as conn:
        conn.exec_driver_sql(
            "CREATE TABLE message_outbox (id INTEGER PRIMARY KEY, customer_id TEXT, address TEXT)"
        )
        conn.exec_driver_sql(
            "INSERT INTO message_outbox (customer_id, address) VALUES (?, ?)", (USER, EMAIL)
        )
    needles = [USER, ANON, EMAIL, PHONE, "Erin"]
    assert len(_scan(client, needles)) > 10

    admin = (keys.admin, "")
    export = client.get(f"/v1/privacy/{USER}/export", auth=admin).json()
    assert {"events", "customers", "transactions", "segment_membership", "profiles"} <= set(
        export["warehouse_tables"]
    )
    assert export["state_tables"]["message_outbox"][0]["address"] == EMAIL
    assert {t["name"] for t in export["traits"]} >= {"email", "first_name"}
    assert client.get(f"/v1/privacy/{USER}/export", auth=(keys.read, "")).status_code == 403

    record = client.post(f"/v1/privacy/{USER}/erase", auth=admin).json()
    assert record["counts"]["warehouse.events"] == 3
    assert _scan(client, needles) == []
    # Revenue and the proof of consent stay, anonymous.
    assert ws.engine.fetch_scalar("SELECT customer_id FROM transactions").startswith("erased:")
    assert (
        client.get("/v1/profiles", params={"email": EMAIL}, auth=(keys.read, "")).status_code == 404
    )
    assert (
        client.get(
            "/v1/profiles", params={"email": "other@example.org"}, auth=(keys.read, "")
        ).status_code
        == 200
    )

    # The person comes back: a fresh, empty profile; nothing old returns.
    _send(client, keys, [{"type": "identify", "userId": USER, "traits": {"email": EMAIL}}])
    fresh = client.get("/v1/profiles", params={"email": EMAIL}, auth=(keys.read, "")).json()
    assert set(fresh["traits"]) == {"email"}
    assert len(fresh["recent_events"]) == 1
