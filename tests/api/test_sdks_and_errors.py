"""The official Segment and RudderStack SDKs, unchanged, against a real `cvm serve`; and the
4xx answers for bad input."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from tests.api.conftest import Keys
from tests.api.server import Server, wait_for

EMAIL = "Jane.Doe+vip@Example.COM"


def _profile(server: Server, key: str, **params: str) -> httpx.Response:
    return httpx.get(f"{server.url}/v1/profiles", params=params, auth=(key, ""), timeout=10)


def test_segment_and_rudderstack_sdks_work_unchanged(live: tuple[Server, Keys]) -> None:
    import rudderstack.analytics as rudder
    import segment.analytics as segment

    server, keys = live
    errors: list[str] = []
    client = segment.Client(keys.write, host=server.url, gzip=True, sync_mode=True,
                            on_error=lambda e, _: errors.append(str(e)))  # fmt: skip
    client.identify("jane", {"email": EMAIL, "phone": "(415) 555-0100", "plan": "gold"},
                    anonymous_id="device-1")  # fmt: skip
    client.track("jane", "Order Completed", {"revenue": 42.5}, anonymous_id="device-1")
    client.page(anonymous_id="device-2", name="Pricing")
    client.screen("jane", name="Home")
    client.group("jane", "acme", {"name": "ACME"})
    client.alias("device-2", "jane")
    client.flush()
    rclient = rudder.Client(keys.write, host=server.url, sync_mode=True,
                            on_error=lambda e, _: errors.append(str(e)))  # fmt: skip
    rclient.track(user_id="jane", event="Signed Up", properties={"plan": "pro"})
    rclient.identify(user_id="jane", traits={"plan": "platinum"})
    rclient.flush()
    assert errors == []

    def loaded() -> bool:
        r = _profile(server, keys.read, email=EMAIL.lower(), events="50")
        return r.status_code == 200 and len(r.json()["recent_events"]) >= 8

    assert wait_for(loaded), server.log()[-3000:]
    profile = _profile(server, keys.read, email=" jane.doe+vip@example.com ", events="50").json()
    assert profile["customer_id"] == "jane"
    assert profile["traits"]["plan"]["value"] == "platinum"  # latest value wins
    kinds = {(i["kind"], i["value"]) for i in profile["identities"]}
    assert {
        ("anonymous_id", "device-1"),
        ("anonymous_id", "device-2"),
        ("phone", "+14155550100"),
    } <= kinds
    names = {e["name"] for e in profile["recent_events"]}
    assert {"Order Completed", "Signed Up", "Pricing", "Home"} <= names  # device-2 history joined
    for params in ({"phone": "415-555-0100"}, {"anonymous_id": "device-2"}, {"user_id": "jane"}):
        assert _profile(server, keys.read, **params).json()["customer_id"] == "jane"


def _post(
    server: Server, path: str, body: bytes | dict, auth: tuple[str, str] | None, **headers: str
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return httpx.post(server.url + path, content=content, auth=auth, headers=headers, timeout=10)


@pytest.mark.parametrize(
    ("path", "body", "status", "needle"),
    [
        ("/v1/batch", b"{not json", 400, "malformed JSON"),
        ("/v1/track", {"event": "A"}, 400, "userId or anonymousId is required"),
        ("/v1/batch", {"batch": [{"type": "purchase", "userId": "u"}]}, 400, "unknown type"),
        (
            "/v1/track",
            {"userId": "u", "event": "A", "properties": {"x": "y" * 33_000}},
            413,
            "32 KB",
        ),
        (
            "/v1/batch",
            {
                "batch": [{"type": "page", "anonymousId": "a", "properties": {"x": "y" * 30_000}}]
                * 18
            },
            413,
            "500 KB",
        ),
    ],
)
def test_bad_input_gets_a_4xx_naming_the_problem(
    live: tuple[Server, Keys], path: str, body: bytes | dict, status: int, needle: str
) -> None:
    server, keys = live
    response = _post(server, path, body, (keys.write, ""))
    assert response.status_code == status
    assert needle in json.dumps(response.json())


def test_keys_and_scopes(live: tuple[Server, Keys]) -> None:
    server, keys = live
    ok = {"batch": [{"type": "page", "anonymousId": "a"}]}
    assert _post(server, "/v1/batch", ok, None).status_code == 401
    assert _post(server, "/v1/batch", ok, ("cvm_w_wrong", "")).status_code == 401
    assert _post(server, "/v1/batch", ok, (keys.read, "")).status_code == 403
    assert _post(server, "/v1/batch", {**ok, "writeKey": keys.write}, None).status_code == 200
    assert _profile(server, keys.write, user_id="x").status_code == 403
    consent = {"email": "x@y.io", "channel": "email", "status": "denied"}
    assert (
        httpx.post(f"{server.url}/v1/consents", json=consent, auth=(keys.read, "")).status_code
        == 403
    )
    r = httpx.post(f"{server.url}/v1/consents", json=consent, auth=(keys.admin, ""))
    assert r.status_code == 201 and r.json()["status"] == "denied"


def test_partial_batch_gzip_and_dedup(live: tuple[Server, Keys]) -> None:
    server, keys = live
    batch = {"batch": [
        {"type": "track", "userId": "dup", "event": "A", "messageId": "dup-1"},
        {"type": "track", "event": "no ids"},
        {"type": "track", "userId": "dup", "event": "B", "messageId": "dup-2"},
    ]}  # fmt: skip
    raw = gzip.compress(json.dumps(batch).encode())
    for _ in range(3):  # a client retrying the same batch stores it once
        r = _post(server, "/v1/batch", raw, (keys.write, ""), **{"Content-Encoding": "gzip"})
        assert r.status_code == 200
        assert r.json()["accepted"] == 2
        assert r.json()["rejected"] == [{"index": 1, "reason": "userId or anonymousId is required"}]

    def loaded() -> bool:
        r = _profile(server, keys.read, user_id="dup")
        return r.status_code == 200 and len(r.json()["recent_events"]) >= 2

    assert wait_for(loaded)
    assert sorted(
        e["event_id"] for e in _profile(server, keys.read, user_id="dup").json()["recent_events"]
    ) == ["dup-1", "dup-2"]


def test_openapi_docs_health_and_no_pii_in_logs(live: tuple[Server, Keys]) -> None:
    server, keys = live
    assert httpx.get(server.url + "/docs").status_code == 200
    spec = httpx.get(server.url + "/openapi.json").json()
    assert "/v1/batch" in spec["paths"] and "/v1/profiles/{customer_id}" in spec["paths"]
    ready = httpx.get(server.url + "/readyz").json()
    assert ready["status"] == "ready", ready
    secret = "leak.check@private.example"
    _post(
        server,
        "/v1/identify",
        {"userId": "leaky", "traits": {"email": secret, "phone": "+447911123456"}},
        (keys.write, ""),
    )
    _post(
        server, "/v1/track", {"event": "x", "properties": {"email": secret}}, (keys.write, "")
    )  # a 400
    wait_for(lambda: _profile(server, keys.read, email=secret).status_code == 200)
    _profile(server, keys.read, email=secret)  # the e-mail travels in the query string
    log = server.log()
    assert "GET /v1/profiles" in log  # the access log is on (debug level)...
    assert secret not in log and secret.split("@")[0] not in log  # ...and says nothing personal
    assert "+447911123456" not in log
