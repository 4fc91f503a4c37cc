"""`POST /v1/surveys/responses` in-process through FastAPI's app (real workspace, real intake
log, real loader): validation names index and field, answers are durable before the 200,
idempotent by response_id, linked to the profile by customer id or e-mail, and a detractor
fires the service campaign while a promoter does not."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cvm.campaigns.campaign import parse_campaign
from cvm.campaigns.lifecycle import create_campaign, launch_campaign
from cvm.consent.mirror import mirror_consents
from cvm.consent.service import record_consent
from cvm.identity.profile_lookup import LookupKey
from cvm.state.outbox import OutboxStore

POLICY = """
[policy]
quiet_hours = { start = "00:00", end = "00:01" }
caps = [{ channels = "all", max = 3, days = 7 }]

[control.global]
share = 0.0
"""

SERVICE = {
    "id": "recover", "name": "Service recovery", "purpose": "service",
    "trigger": {"event": "Survey Responded",
                "where": [{"property": "survey", "op": "eq", "value": "nps"},
                          {"property": "score", "op": "lte", "value": 6}],
                "reentry": "always"},
    "channels": ["email"],
    "content": {"email": {"en": {"subject": "Sorry, {{ first_name | default('friend') }}",
                                 "text": "You gave us {{ event.properties.score }}."}}},
}  # fmt: skip


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    from cvm.demo import generate_company, load_company_into
    from cvm.identity.batch import resolve_batch
    from cvm.state.keys import create_key
    from cvm.workspace import init_workspace

    root = tmp_path_factory.mktemp("feedback") / "ws"
    ws = init_workspace(root)
    (root / "decide.toml").write_text(POLICY, encoding="utf-8")
    load_company_into(ws.engine, generate_company(80, seed=5))
    resolve_batch(ws.engine, ws.state)  # the graph knows the customers' e-mail addresses
    write_key = create_key(ws.state, "write")[1]
    ws.close()
    return root, write_key


@pytest.fixture
def api(demo_root: tuple[Path, str], tmp_path: Path) -> Iterator[tuple[TestClient, Any, str]]:
    from cvm.api.app import create_app

    target = tmp_path / "ws"
    shutil.copytree(demo_root[0], target)
    app = create_app(target, run_loader=False, warm_ui=False)
    with TestClient(app) as client:
        yield client, app.state.services, demo_root[1]


def _customers(ws: Any, n: int) -> list[tuple[str, str]]:
    """Customers with an e-mail address whose latest marketing e-mail consent is a grant."""
    rows = ws.engine.fetch_rows(
        "SELECT c.customer_id, c.email FROM customers c JOIN consents k USING (customer_id) "
        "WHERE c.email IS NOT NULL AND k.channel = 'email' AND k.purpose = 'marketing' "
        "GROUP BY 1, 2 HAVING max(CASE WHEN k.status = 'granted' THEN k.occurred_at END) > "
        "coalesce(max(CASE WHEN k.status = 'denied' THEN k.occurred_at END), "
        "TIMESTAMP '1900-01-01') ORDER BY 1"
    )
    return [(str(r[0]), str(r[1])) for r in rows[:n]]


def _post(client: TestClient, key: str, responses: list[dict[str, Any]]) -> Any:
    return client.post(
        "/v1/surveys/responses",
        json={"responses": responses},
        headers={"Authorization": f"Bearer {key}"},
    )


def test_validation_names_index_and_field(api: tuple[TestClient, Any, str]) -> None:
    client, _, key = api
    good = {"response_id": "ok1", "customer_id": "x", "survey": "nps", "score": 9}
    answer = _post(
        client,
        key,
        [
            good,
            {**good, "response_id": "b1", "score": 11},
            {**good, "response_id": "b2", "survey": "csat", "score": 0},
            {**good, "response_id": "b3", "customer_id": None},
            {**good, "response_id": "b4", "responded_at": "yesterday"},
            {**good, "response_id": "b5", "colour": "red"},
        ],
    )
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["accepted"] == 1
    assert [(r["index"], r["field"]) for r in body["rejected"]] == [
        (1, "score"), (2, "score"), (3, "customer_id"), (4, "responded_at"), (5, "colour"),
    ]  # fmt: skip
    assert "outside 1-5 for csat" in body["rejected"][1]["reason"]
    nothing = _post(client, key, [{**good, "score": -1}])
    assert nothing.status_code == 400 and nothing.json()["errors"][0]["field"] == "score"
    assert client.post("/v1/surveys/responses", json={"responses": [good]}).status_code == 401


def test_durable_idempotent_and_linked(
    api: tuple[TestClient, Any, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, services, key = api
    ws = services.workspace
    (cid, _), (other, email) = _customers(ws, 2)
    first = {"response_id": "r-1", "customer_id": cid, "survey": "nps", "score": 3,
             "comment": "late again", "channel": "web", "touchpoint": "delivery",
             "responded_at": "2026-03-01T10:00:00Z"}  # fmt: skip
    by_email = {"response_id": "r-2", "email": email.upper(), "survey": "csat", "score": 5}
    assert _post(client, key, [first, by_email]).json()["accepted"] == 2
    # Durable before the answer: both are in the intake log, not yet in the warehouse.
    assert services.intake.fetch_unloaded(100)
    assert _post(client, key, [first]).status_code == 200  # a client retry
    services.loader.flush_all()
    rows = ws.engine.fetch_rows(
        "SELECT response_id, customer_id, survey, score, comment, channel, touchpoint, "
        "responded_at, _source FROM survey_responses ORDER BY response_id"
    )
    assert rows == [
        ("r-1", cid, "nps", 3, "late again", "web", "delivery", dt.datetime(2026, 3, 1, 10), "api"),
        ("r-2", other, "csat", 5, None, None, None, rows[1][7], "api"),
    ]
    events = ws.engine.fetch_scalar("SELECT count(*) FROM events WHERE name = 'Survey Responded'")
    assert events == 2
    # Comments and addresses are personal data: never in the logs.
    assert caplog.records and "late again" not in caplog.text and email not in caplog.text


def test_detractor_triggers_the_service_campaign(
    api: tuple[TestClient, Any, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("cvm.campaigns.triggers.WATERMARK_SLACK", dt.timedelta(0))
    client, services, key = api
    ws = services.workspace
    (detractor, _), (promoter, _), (passive, _) = _customers(ws, 3)
    with services.loader.lock:
        for customer in (detractor, promoter, passive):  # service mail needs service consent
            record_consent(ws.state, LookupKey("customer_id", customer), "email", "service",
                           "granted")  # fmt: skip
        mirror_consents(ws.engine, ws.state, [])
        create_campaign(ws, parse_campaign(SERVICE))
        launch_campaign(ws, "recover")
    answers = [
        {"response_id": "d", "customer_id": detractor, "survey": "nps", "score": 2},
        {"response_id": "p", "customer_id": promoter, "survey": "nps", "score": 10},
        {"response_id": "c", "customer_id": passive, "survey": "csat", "score": 1},
    ]
    assert _post(client, key, answers).json()["accepted"] == 3
    services.loader.flush_all()
    messages = OutboxStore(ws.state).messages("recover")
    assert [m["customer_id"] for m in messages] == [detractor]
