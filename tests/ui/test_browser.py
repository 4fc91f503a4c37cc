"""A real Chromium drives the real server (uvicorn on a free port) over a demo workspace:
every page without console errors, then the marketer's path from login to a launched
campaign delivered into a real SMTP server (aiosmtpd) with its counts and results.

Screenshots go to a temporary folder (printed); set CVM_UI_SCREENSHOTS=DIR to keep copies
(the docs' screenshots were made that way).
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.campaigns.smtp_sink import free_port, smtp_sink
from tests.ui.conftest import PASSWORDS, build_demo

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="Chromium is not installed at /usr/bin/chromium"
    ),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip
PAGES = {"overview": "/ui/", "customers": "/ui/customers", "segments": "/ui/segments",
         "value": "/ui/value", "models": "/ui/models", "campaigns": "/ui/campaigns",
         "offers": "/ui/offers", "health": "/ui/health", "users": "/ui/admin/users",
         "audit": "/ui/admin/audit"}  # fmt: skip


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    import uvicorn

    from cvm.api.app import create_app

    with smtp_sink() as (sink, smtp_port):
        root = build_demo(tmp_path_factory.mktemp("browser") / "ws", 1500, smtp_port)
        port = free_port()
        app = create_app(root, run_loader=False, warm_ui=False)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        try:
            yield {"url": f"http://127.0.0.1:{port}", "root": root, "sink": sink, "app": app}
        finally:
            server.should_exit = True
            thread.join(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"screenshots in {folder}")
    return folder


def _keep(shot: Path) -> None:
    target = os.environ.get("CVM_UI_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(target) / shot.name)


def _page(browser: Any, url: str, user: str) -> tuple[Any, list[str]]:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + "/ui/login")
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/ui/")
    return page, errors


def test_every_page_renders_without_console_errors(served: dict[str, Any], browser: Any,
                                                   shots: Path) -> None:  # fmt: skip
    page, errors = _page(browser, served["url"], "ada")
    for name, path in PAGES.items():
        page.goto(served["url"] + path)
        page.wait_for_load_state("networkidle")
        assert page.locator("h1").first.is_visible(), name
        if page.locator(".js-plotly-plot").count():
            page.wait_for_selector(".js-plotly-plot .main-svg")
        shot = shots / f"{name}.png"
        page.screenshot(path=str(shot), full_page=True)
        _keep(shot)
    # The customer 360 page of the most valuable customer, found by typing in the search box.
    engine = served["app"].state.services.workspace.engine
    top = engine.fetch_arrow(
        "SELECT c.customer_id, c.email FROM customer_360 c WHERE email IS NOT NULL ORDER BY clv DESC NULLS LAST LIMIT 1"
    ).to_pylist()[0]
    page.goto(served["url"] + "/ui/customers")
    page.get_by_label("Find a customer").press_sequentially(top["email"][:12], delay=20)
    page.wait_for_selector(f"#results a:has-text('{top['customer_id']}')")
    page.locator(f"#results a:has-text('{top['customer_id']}')").first.click()
    page.wait_for_selector("text=Value and scores")
    shot = shots / "customer.png"
    page.screenshot(path=str(shot), full_page=True)
    _keep(shot)
    assert errors == []


def test_viewer_is_refused_every_change(served: dict[str, Any], browser: Any) -> None:
    page, errors = _page(browser, served["url"], "vic")
    statuses = page.evaluate(
        """async () => {
          const token = document.querySelector('input[name=csrf_token]').value;
          const post = (u, body) => fetch(u, {method: 'POST', headers: {'X-CSRF-Token': token,
              'Content-Type': 'application/json'}, body: JSON.stringify(body)}).then(r => r.status);
          return [await post('/ui/segments/check', {}), await post('/ui/segments/save', {}),
                  await post('/ui/campaigns/new', {}), await post('/ui/admin/keys', {})];
        }"""
    )
    assert statuses == [403, 403, 403, 403]
    # A forged form from another origin carries the cookie but not the token: refused.
    forged = page.evaluate("() => fetch('/ui/logout', {method: 'POST'}).then(r => r.status)")
    assert forged == 403
    assert page.get_by_role("link", name="Users").count() == 0
    assert errors == [] or all("403" in e for e in errors)


def test_marketer_builds_a_segment_and_launches_a_campaign(served: dict[str, Any], browser: Any,
                                                          shots: Path) -> None:  # fmt: skip
    from cvm.campaigns.config import load_campaign_settings
    from cvm.campaigns.dispatch import Dispatcher
    from cvm.channels.registry import open_channel
    from cvm.decide.config import load_decide_settings

    url, sink = served["url"], served["sink"]
    page, errors = _page(browser, url, "mia")
    # 1. Build a segment; the live size answers as the rule changes.
    page.goto(url + "/ui/segments/new")
    page.wait_for_selector("#live-size:has-text('customers')")
    page.get_by_label("Name (letters, digits, . _ -)").fill("ui-vip")
    value = page.locator("#tree input[data-path='rule.conditions[0].value']")
    value.fill("clvv")  # not a number: still valid text for the field, but compare a bad field:
    page.locator("#tree input[data-path='rule.conditions[0].field']").fill("clvv")
    page.wait_for_selector("#issues li.error")
    assert "clv" in page.locator("#issues").inner_text()
    page.locator("#tree input[data-path='rule.conditions[0].field']").fill("clv")
    value.fill("150")
    page.wait_for_selector("#live-size:has-text('customers')")
    size_text = page.locator("#live-size").inner_text()
    size = int(size_text.split()[0].replace(",", ""))
    engine = served["app"].state.services.workspace.engine
    assert size == engine.fetch_scalar("SELECT count(*) FROM customer_360 WHERE clv >= 150")
    shot = shots / "segment-builder.png"
    page.screenshot(path=str(shot), full_page=True)
    _keep(shot)
    page.get_by_role("button", name="Save segment").click()
    page.wait_for_url(url + "/ui/segments/ui-vip")
    # 2. Campaign wizard from the segment page.
    page.get_by_role("button", name="Campaign to this segment").click()
    page.get_by_label("Campaign name").fill("VIP thanks")
    page.get_by_label("Subject").fill("Thank you, {{ customer.first_name }}")
    page.locator("#email-text").fill("Hello {{ customer.first_name }}, thanks for being with us.")
    page.get_by_label("Control group share (% held out, measured against)").fill("20")
    shot = shots / "campaign-wizard.png"
    page.screenshot(path=str(shot), full_page=True)
    _keep(shot)
    page.get_by_role("button", name="Save as draft").click()
    page.wait_for_url(url + "/ui/campaigns/vip-thanks")
    # 3. Preview for one member, and the what-if before launch.
    member = engine.fetch_arrow(
        "SELECT customer_id, first_name FROM customer_360 WHERE clv >= 150 AND first_name IS NOT NULL ORDER BY customer_id LIMIT 1"
    ).to_pylist()[0]
    page.get_by_label("Customer id", exact=True).fill(member["customer_id"])
    page.get_by_role("button", name="Preview").click()
    page.wait_for_selector("#preview-subject")
    assert member["first_name"] in page.locator("#preview-subject").inner_text()
    page.get_by_role("button", name="Simulate").click()
    page.wait_for_selector("#sim-queued")
    would_send = int(page.locator("#sim-queued").inner_text().replace(",", ""))
    assert 0 < would_send < size
    # 4. Launch, then a dispatcher worker delivers into the real SMTP server.
    page.locator("#action-launch").click()
    page.wait_for_selector("#campaign-status:has-text('active')")
    ws = served["app"].state.services.workspace
    settings = load_campaign_settings(ws.root)
    dispatcher = Dispatcher(ws.state, settings, load_decide_settings(ws.root),
                            lambda ch: open_channel(ch, settings, ws.root), fallback_zone="UTC")  # fmt: skip
    dispatcher.run(workers=1, once=True)
    received = sink.snapshot()
    assert len(received) == would_send
    # 5. Live counts update by themselves (htmx polling) and results compare with control.
    page.wait_for_selector(f"#count-sent:has-text('{would_send:,}')", timeout=10_000)
    page.reload()
    page.wait_for_selector("text=Lift against control")
    shot = shots / "campaign.png"
    page.screenshot(path=str(shot), full_page=True)
    _keep(shot)
    assert errors == []
