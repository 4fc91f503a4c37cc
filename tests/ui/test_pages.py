"""Pages and endpoints behave: search, customer 360, builder checks, campaign wizard."""

from __future__ import annotations

from typing import Any

from tests.ui.conftest import login


def _some_customer(app: Any) -> dict[str, Any]:
    engine = app.state.services.workspace.engine
    row = engine.fetch_arrow(
        "SELECT customer_id, email FROM customers WHERE email IS NOT NULL ORDER BY customer_id LIMIT 1"
    ).to_pylist()[0]
    return row  # type: ignore[no-any-return]


def test_search_finds_a_customer_by_email_and_by_id_prefix(app: Any) -> None:
    client = login(app, "vic")
    c = _some_customer(app)
    by_email = client.get("/ui/customers/search", params={"q": c["email"].upper()})
    assert c["customer_id"] in by_email.text
    by_prefix = client.get("/ui/customers/search", params={"q": c["customer_id"][:-1]})
    assert c["customer_id"] in by_prefix.text
    nothing = client.get("/ui/customers/search", params={"q": "no-such-person@nowhere.example"})
    assert "No customer matches" in nothing.text


def test_customer_page_shows_value_timeline_and_formats_money(app: Any) -> None:
    client = login(app, "vic")
    c = _some_customer(app)
    page = client.get(f"/ui/customers/{c['customer_id']}")
    assert page.status_code == 200
    assert "Purchases" in page.text and "Consents" in page.text
    assert "Expected discounted margin" in page.text  # the meaning of CLV
    assert "Erase this person" not in page.text  # viewers see no privacy actions
    admin = login(app, "ada").get(f"/ui/customers/{c['customer_id']}")
    assert "Erase this person" in admin.text


def test_builder_check_reports_paths_and_nearest_names_then_counts(app: Any) -> None:
    client = login(app, "mia")
    headers = {"X-CSRF-Token": client.csrf}
    bad = {"name": "t1", "rule": {"kind": "all", "conditions": [
        {"kind": "profile", "field": "clvv", "op": "gte", "value": 10}]}}  # fmt: skip
    res = client.post("/ui/segments/check", json={"definition": bad}, headers=headers).json()
    assert not res["ok"]
    assert res["errors"][0]["path"].startswith("rule.conditions[0]")
    assert "clv" in res["errors"][0]["message"]
    good = {"name": "t1", "rule": {"kind": "profile", "field": "clv", "op": "gte", "value": 0}}
    res = client.post("/ui/segments/check", json={"definition": good}, headers=headers).json()
    engine = app.state.services.workspace.engine
    expected = engine.fetch_scalar("SELECT count(*) FROM customer_360 WHERE clv >= 0")
    assert res["ok"] and res["size"] == expected


def test_save_segment_then_its_page_explains_membership(app: Any) -> None:
    client = login(app, "mia")
    definition = {"name": "ui-big-spenders", "description": "CLV over 50",
                  "rule": {"kind": "profile", "field": "clv", "op": "gt", "value": 50}}  # fmt: skip
    saved = client.post("/ui/segments/save", json={"definition": definition},
                        headers={"X-CSRF-Token": client.csrf}).json()  # fmt: skip
    assert saved == {"ok": True, "url": "/ui/segments/ui-big-spenders"}
    page = client.get(saved["url"])
    assert page.status_code == 200 and "CLV over 50" in page.text
    c = _some_customer(app)
    explained = client.get(f"{saved['url']}/explain", params={"customer_id": c["customer_id"]})
    assert "member" in explained.text


def test_wizard_refuses_a_campaign_without_content(app: Any) -> None:
    client = login(app, "mia")
    form = {"name": "Empty", "segment": "champions", "channel_email": "on", "mode": "now",
            "csrf_token": client.csrf}  # fmt: skip
    response = client.post("/ui/campaigns/new", data=form)
    assert response.status_code == 422 and "subject" in response.text


def test_overview_results_are_the_measurement_of_cvm_measure(app: Any) -> None:
    """The dashboard measures a campaign the way `cvm measure campaign` and the report do
    (one path: `cvm.results`), so the lift it shows is the stored measurement's lift."""
    from cvm.results.campaigns import measure_campaign, utc_now
    from cvm.results.config import load_measure_settings
    from cvm.results.stage import request_for

    ws = app.state.services.workspace
    (campaign_id,) = ws.engine.fetch_rows(
        "SELECT campaign_id FROM campaign_assignments GROUP BY 1 ORDER BY max(assigned_at) DESC "
        "LIMIT 1"
    )[0]
    request, _ = request_for(
        ws, campaign_id, load_measure_settings(ws.root), as_of=utc_now(), by=()
    )
    measured, _ = measure_campaign(ws.engine, campaign_id, request)
    conv = measured.overall[0].metric("converted")
    page = login(app, "vic").get("/ui/")
    assert page.status_code == 200
    assert "Lift against control" in page.text
    assert f"{100 * conv.absolute_lift:.2f}%" in page.text
    assert f"{100 * conv.absolute_low:.2f}% to {100 * conv.absolute_high:.2f}%" in page.text
    assert f"{measured.overall[0].n_control:,}" in page.text
