"""/v1/loyalty through the real FastAPI app (httpx test client) on a real workspace: member
view, idempotent redemptions with clear refusals, admin postings, and key scopes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from cvm.api.app import create_app
from cvm.state.loyalty_ledger import LoyaltyLedger, Posting
from cvm.state.loyalty_rewards import Reward, RewardsCatalogue
from cvm.workspace import open_workspace
from tests.api.conftest import Keys, make_workspace

NOW = datetime.now().replace(microsecond=0)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[tuple[TestClient, Keys]]:
    keys = make_workspace(tmp_path / "ws")
    with open_workspace(tmp_path / "ws") as ws:
        ledger = LoyaltyLedger(ws.state)
        ledger.enroll_many([("c1", NOW), ("c2", NOW)])
        ledger.post(
            [
                Posting("o1", "c1", "earn", 300, NOW - timedelta(days=300), "order",
                        expires_at=NOW + timedelta(days=10)),
                Posting("o2", "c1", "earn", 200, NOW - timedelta(days=5), "order",
                        expires_at=NOW + timedelta(days=200)),
                Posting("o3", "c2", "earn", 50, NOW, "order"),
            ]
        )  # fmt: skip
        RewardsCatalogue(ledger).load(
            [Reward("mug", "Mug", 100, stock=1), Reward("bag", "Bag", 40, tier="gold")]
        )
    with TestClient(create_app(tmp_path / "ws", run_loader=False, warm_ui=False)) as client:
        yield client, keys


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def test_member_view_shows_balance_expiring_lots_and_recent_entries(
    api: tuple[TestClient, Keys],
) -> None:
    client, keys = api
    response = client.get("/v1/loyalty/members/c1", headers=auth(keys.read))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert (body["balance"], body["earned"]) == (500, 500)
    assert body["expiring_soon_points"] == 300
    assert [e["key"] for e in body["recent_entries"]] == ["o2", "o1"]
    longer = client.get("/v1/loyalty/members/c1?days=365", headers=auth(keys.read)).json()
    assert longer["expiring_soon_points"] == 500
    missing = client.get("/v1/loyalty/members/nobody", headers=auth(keys.read))
    assert missing.status_code == 404
    assert missing.json()["message"] == "customer 'nobody' is not a loyalty member"
    assert client.get("/v1/loyalty/members/c1").status_code == 401
    assert client.get("/v1/loyalty/members/c1", headers=auth(keys.write)).status_code == 403


def test_redemption_is_idempotent_and_refusals_are_clear(api: tuple[TestClient, Keys]) -> None:
    client, keys = api
    body = {"customer_id": "c1", "reward_id": "mug"}
    headers = {**auth(keys.write), "Idempotency-Key": "req-1"}
    first = client.post("/v1/loyalty/redemptions", json=body, headers=headers)
    assert first.status_code == 201, first.text
    assert (first.json()["points"], first.json()["balance"]) == (100, 400)
    retry = client.post("/v1/loyalty/redemptions", json=body, headers=headers)
    assert retry.status_code == 200 and retry.json()["duplicate"] is True
    assert retry.json()["balance"] == 400

    def refused(payload: dict[str, Any]) -> Any:
        return client.post("/v1/loyalty/redemptions", json=payload, headers=auth(keys.write))

    sold_out = refused({**body, "idempotency_key": "req-2"})
    assert sold_out.status_code == 409
    assert sold_out.json()["message"] == "reward 'mug' is out of stock"
    assert sold_out.json()["errors"] == [{"field": "reward_id", "reason": "out_of_stock"}]
    tier = refused({"customer_id": "c2", "reward_id": "bag", "idempotency_key": "req-3"})
    assert tier.status_code == 409 and tier.json()["errors"][0]["reason"] == "tier"
    unknown = refused({"customer_id": "c1", "reward_id": "car", "idempotency_key": "req-4"})
    assert unknown.status_code == 404
    no_key = refused(body)
    assert no_key.status_code == 422 and no_key.json()["message"].startswith("idempotency_key")
    assert (
        client.post("/v1/loyalty/redemptions", json=body, headers=auth(keys.read)).status_code
        == 403
    )


def test_admin_postings_adjust_with_idempotency(api: tuple[TestClient, Keys]) -> None:
    client, keys = api
    adjust = {"customer_id": "c2", "points": -20, "idempotency_key": "fix-1", "reason": "goodwill"}
    assert (
        client.post("/v1/loyalty/postings", json=adjust, headers=auth(keys.write)).status_code
        == 403
    )
    done = client.post("/v1/loyalty/postings", json=adjust, headers=auth(keys.admin))
    assert done.status_code == 201 and done.json() == {
        "key": "fix-1", "posted": True, "duplicate": False, "balance": 30,
    }  # fmt: skip
    again = client.post("/v1/loyalty/postings", json=adjust, headers=auth(keys.admin))
    assert again.status_code == 200 and again.json()["duplicate"] is True
    too_much = {**adjust, "points": -31, "idempotency_key": "fix-2"}
    over = client.post("/v1/loyalty/postings", json=too_much, headers=auth(keys.admin))
    assert over.status_code == 409 and "insufficient balance: 30 points, 31 needed" in over.text
    bad = {**adjust, "kind": "earn", "idempotency_key": "fix-3"}
    wrong_sign = client.post("/v1/loyalty/postings", json=bad, headers=auth(keys.admin))
    assert wrong_sign.status_code == 422
    assert wrong_sign.json()["message"] == "points: an earn posting needs points > 0"
    stranger = {**adjust, "customer_id": "zz", "idempotency_key": "fix-4"}
    assert (
        client.post("/v1/loyalty/postings", json=stranger, headers=auth(keys.admin)).status_code
        == 404
    )
