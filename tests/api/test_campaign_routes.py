"""Campaign routes in-process: admin keys, create/show/launch/pause/stop, preview, callbacks
and tracking answers (unknown tokens are 404, never a redirect)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cvm.channels.http_common import sign_body
from tests.api.server import running_server

CAMPAIGN = {
    "id": "hello", "name": "Hello", "audience": {"segment": "with_email"}, "channels": ["email"],
    "content": {"email": {"en": {"subject": "Hi {{ first_name | default('you') }}",
                                 "html": "<p><a href='https://shop.example/x'>x</a></p>"}}},
}  # fmt: skip


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[httpx.Client, dict[str, str]]]:
    from cvm.demo import generate_company, load_company_into
    from cvm.segments.definition import SegmentDefinition
    from cvm.segments.store import open_store
    from cvm.state.keys import create_key
    from cvm.workspace import init_workspace

    folder = tmp_path_factory.mktemp("api")
    root: Path = folder / "ws"
    ws = init_workspace(root)
    (root / "campaigns.toml").write_text(
        '[whatsapp]\nurl = "http://127.0.0.1:9/none"\nsecret = "s3"\n'
    )
    load_company_into(ws.engine, generate_company(60, seed=3))
    open_store(ws).save(
        SegmentDefinition.model_validate(
            {"name": "with_email", "rule": {"kind": "profile", "field": "email", "op": "is_set"}}
        )
    )
    admin, read = create_key(ws.state, "admin")[1], create_key(ws.state, "read")[1]
    ws.close()
    with (
        running_server(root, folder / "server.log") as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        yield client, {"admin": f"Bearer {admin}", "read": f"Bearer {read}"}


def test_lifecycle_over_http(api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, keys = api
    admin = {"Authorization": keys["admin"]}
    assert (
        client.post(
            "/v1/campaigns", json=CAMPAIGN, headers={"Authorization": keys["read"]}
        ).status_code
        == 403
    )
    bad = client.post("/v1/campaigns", json={**CAMPAIGN, "channels": ["fax"]}, headers=admin)
    assert bad.status_code == 422 and "unknown channel" in bad.json()["message"]
    created = client.post("/v1/campaigns", json=CAMPAIGN, headers=admin)
    assert created.status_code == 201 and created.json()["status"] == "draft"
    assert client.post("/v1/campaigns", json=CAMPAIGN, headers=admin).status_code == 409
    assert client.post("/v1/campaigns/hello/pause", headers=admin).status_code == 409
    launched = client.post("/v1/campaigns/hello/launch", headers=admin).json()
    assert launched["run"]["queued"] > 0
    shown = client.get("/v1/campaigns/hello", headers=admin).json()
    assert shown["status"] == "active" and shown["messages"]["queued"] == launched["run"]["queued"]
    messages = client.get("/v1/campaigns/hello/messages", headers=admin).json()
    customer = messages[0]["customer_id"]
    preview = client.get(
        f"/v1/campaigns/hello/preview?customer_id={customer}", headers=admin
    ).json()
    assert preview["subject"].startswith("Hi ") and "/t/c/" in preview["html"]
    assert client.post("/v1/campaigns/hello/pause", headers=admin).json()["messages_held"] > 0
    assert client.post("/v1/campaigns/hello/stop", headers=admin).json()["messages_cancelled"] > 0
    assert client.get("/v1/campaigns/nope", headers=admin).status_code == 404


def test_tracking_refuses_unknown_tokens(api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, _ = api
    assert client.get("/t/c/abc.def", follow_redirects=False).status_code == 404
    assert client.get("/t/o/abc.def.gif").status_code == 404
    page = client.get("/u/abc.def")
    assert page.status_code == 404 and "not valid" in page.text


def test_callbacks_are_authenticated(api: tuple[httpx.Client, dict[str, str]]) -> None:
    client, keys = api
    body = json.dumps(
        {"events": [{"type": "bounced", "message_id": "<nope@x>", "permanent": True}]}
    )
    assert client.post("/v1/callbacks/email", content=body).status_code == 401
    ok = client.post("/v1/callbacks/email", content=body, headers={"Authorization": keys["admin"]})
    assert ok.json() == {"received": 1, "matched": 0}
    hook: dict[str, Any] = {"events": [{"type": "delivered", "id": "unknown"}]}
    raw = json.dumps(hook).encode()
    signed = client.post(
        "/v1/callbacks/whatsapp", content=raw, headers={"X-Cvm-Signature": sign_body("s3", raw)}
    )
    assert signed.json() == {"received": 1, "matched": 0}
    forged = client.post(
        "/v1/callbacks/whatsapp", content=raw, headers={"X-Cvm-Signature": "sha256=00"}
    )
    assert forged.json() == {"received": 0, "matched": 0}
    assert client.post("/v1/callbacks/fax", content=b"").status_code == 422
