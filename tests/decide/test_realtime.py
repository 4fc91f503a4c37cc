"""Real-time decisions: same rules as the batch, live updates, the log, and the API route."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from cvm.core.errors import NotFoundError, UserInputError
from cvm.decide.config import DecideSettings
from cvm.decide.realtime import RealtimeDecider
from tests.decide.conftest import NOW, offers_fixture


@pytest.fixture
def decider(decide_ws: object) -> RealtimeDecider:
    settings = DecideSettings.model_validate({"control": {"offer_share": 0.0}})
    d = RealtimeDecider(decide_ws.engine, offers_fixture(), settings, clock=lambda: NOW)  # type: ignore[attr-defined]
    yield d
    d.close()


def test_rules_match_the_policy(decider: RealtimeDecider) -> None:
    denied = decider.decide("c0007", "email", now=NOW)  # consent denied
    assert denied.offer is None and all("consent" in c["reason"] for c in denied.considered)
    capped = decider.decide("c0005", "email", now=NOW)  # 2 messages in the window
    assert capped.offer is None
    assert all(
        "frequency cap" in c.get("reason", "") or c.get("reason") == "not eligible"
        for c in capped.considered
    )
    web = decider.decide("c0007", "web", now=NOW)  # inbound: no consent needed, but no web offers
    assert web.offer is None and web.considered == []
    ok = decider.decide("c0001", "email", now=NOW)
    assert ok.offer is not None and ok.score and ok.score > 0
    assert ok.assignment_probability == pytest.approx(0.95)
    with pytest.raises(NotFoundError):
        decider.decide("nobody", "email")
    with pytest.raises(UserInputError):
        decider.decide("c0001", "fax")


def test_own_decisions_count_towards_caps(decider: RealtimeDecider) -> None:
    first = decider.decide("c0001", "email", now=NOW)
    second = decider.decide("c0001", "email", now=NOW)
    third = decider.decide("c0001", "email", now=NOW)
    assert first.offer and second.offer and third.offer is None  # 2 per 7 days


def test_quiet_hours_defer_outbound(decider: RealtimeDecider) -> None:
    tokyo = decider.decide("c0002", "email", now=NOW)  # 21:00 in Tokyo
    assert tokyo.send_after == dt.datetime(2025, 3, 10, 23)


def test_consent_withdrawal_is_seen_by_the_delta_refresh(
    decide_ws: object, decider: RealtimeDecider
) -> None:
    assert decider.decide("c0001", "email", now=NOW).offer is not None
    decide_ws.engine.write_arrow(  # type: ignore[attr-defined]
        "consents",
        pa.table({
            "customer_id": ["c0001"], "channel": ["all"], "purpose": ["marketing"], "status": ["denied"],
            "occurred_at": pa.array([NOW], pa.timestamp("us")),
            "_loaded_at": pa.array([dt.datetime.now(dt.UTC).replace(tzinfo=None) + dt.timedelta(seconds=1)], pa.timestamp("us")),
        }),
    )  # fmt: skip
    assert decider.refresh() == 1
    assert decider.decide("c0001", "email", now=NOW + dt.timedelta(minutes=1)).offer is None


def test_global_control_and_log(decide_ws: object, decider: RealtimeDecider) -> None:
    in_gc = [
        c
        for c, i in decider.snapshot.index.items()
        if decider.snapshot.columns["global_control"][i]
    ]
    decisions = [decider.decide(c, "email", now=NOW) for c in in_gc]
    assert all(d.offer is None and d.global_control for d in decisions)
    assert any(d.offer_id for d in decisions)  # would-be offer logged for evaluation
    decider.flush()
    logged = decide_ws.engine.fetch_rows(
        "SELECT count(*), sum(CAST(contact AS INT)) FROM decision_log"
    )  # type: ignore[attr-defined]
    assert logged[0][0] == len(in_gc) and not logged[0][1]


def test_api_route(decider: RealtimeDecider, decide_ws: object) -> None:
    """Through the real key check: no key 401, a write key 403, a read key gets decisions."""
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from cvm.api.errors import install_error_handlers
    from cvm.api.routes import decisions
    from cvm.api.services import Services
    from cvm.collect.config import load_live_settings
    from cvm.state.keys import create_key

    ws = decide_ws
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(decisions.router)
    decisions.attach_decider(app, decider)
    app.state.services = Services.build(ws, load_live_settings(ws.root))  # type: ignore[arg-type, attr-defined]
    _, read = create_key(ws.state, "read", "test")  # type: ignore[attr-defined]
    _, write = create_key(ws.state, "write", "test")  # type: ignore[attr-defined]
    client = TestClient(app, headers={"Authorization": f"Bearer {read}"})
    body = client.get(
        "/v1/decisions/c0001", params={"channel": "email", "context": "homepage"}
    ).json()
    assert (
        body["customer_id"] == "c0001" and body["context"] == "homepage" and "decision_id" in body
    )
    assert "considered" not in body
    explained = client.get("/v1/decisions/c0001", params={"channel": "web", "explain": "true"})
    assert explained.headers["content-type"] == "application/json"
    assert isinstance(explained.json()["considered"], list)
    assert client.get("/v1/decisions/nobody", params={"channel": "email"}).status_code == 404
    assert client.get("/v1/decisions/c0001", params={"channel": "fax"}).status_code == 422
    assert client.get("/v1/decisions/c0001").status_code == 422
    anonymous = TestClient(app)
    assert anonymous.get("/v1/decisions/c0001", params={"channel": "web"}).status_code == 401
    writer = TestClient(app, headers={"Authorization": f"Bearer {write}"})
    assert writer.get("/v1/decisions/c0001", params={"channel": "web"}).status_code == 403
