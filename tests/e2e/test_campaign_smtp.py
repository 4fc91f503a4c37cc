"""End to end: a campaign on the demo company into a real SMTP server, with the dispatcher
killed (SIGKILL) midway and restarted, then opens, clicks and an unsubscribe through the real
API server, and the message events back in the warehouse.

Checks: every intended recipient got exactly one distinct Message-ID (a copy resent after the
kill carries the same Message-ID: that is the documented guarantee, and the number of such
copies is bounded by workers × batch size); nobody opted out (before launch or after it),
suppressed, over the frequency cap or in a control group got anything.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.campaigns.smtp_sink import free_port, smtp_sink

pytestmark = pytest.mark.slow

WORKERS, BATCH = 2, 5


def _cli(*args: str, ws: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "cvm", *args, "--workspace", str(ws)],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )  # fmt: skip


def _wait(predicate, timeout: float, every: float = 0.1) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


def _prepare(root: Path, smtp_port: int, api_port: int) -> dict[str, object]:
    """Demo company, identity graph, a segment, the campaign launched; plus the people who must
    get nothing for each reason."""
    from cvm.campaigns.campaign import parse_campaign
    from cvm.campaigns.lifecycle import create_campaign, launch_campaign
    from cvm.consent.service import record_consent
    from cvm.core.hashing import stable_bucket
    from cvm.decide.config import load_decide_settings
    from cvm.decide.control_groups import in_global_control
    from cvm.decide.tables import CONTACT_HISTORY
    from cvm.demo import generate_company, load_company_into
    from cvm.identity.batch import resolve_batch
    from cvm.identity.profile_lookup import LookupKey
    from cvm.segments.definition import SegmentDefinition
    from cvm.segments.store import open_store
    from cvm.state.keys import create_key
    from cvm.state.message_events import suppress
    from cvm.state.outbox import OutboxStore
    from cvm.workspace import init_workspace

    ws = init_workspace(root)
    (root / "campaigns.toml").write_text(
        f'[tracking]\nbase_url = "http://127.0.0.1:{api_port}"\n'
        f'[email]\nhost = "127.0.0.1"\nport = {smtp_port}\nfrom_address = "news@shop.example"\n'
        "rate_per_second = 60\nburst = 5\n"
        f"[dispatch]\nbatch_size = {BATCH}\nlease_seconds = 8\npoll_seconds = 0.1\n",
        encoding="utf-8",
    )
    # Quiet hours off: the test must not depend on the hour it runs at.
    (root / "decide.toml").write_text('[policy]\nquiet_hours = {start = "00:00", end = "00:01"}\n')
    load_company_into(ws.engine, generate_company(400, seed=7))
    resolve_batch(ws.engine, ws.state)
    open_store(ws).save(
        SegmentDefinition.model_validate(
            {"name": "with_email", "rule": {"kind": "profile", "field": "email", "op": "is_set"}}
        )
    )
    # Over the cap before launch: two marketing e-mails in the last days (cap: 2 per 7 days).
    ws.engine.ensure_table(CONTACT_HISTORY)
    granted = ws.engine.fetch_rows(
        "SELECT customer_id FROM consents WHERE channel = 'email' AND status = 'granted' "
        "ORDER BY customer_id"
    )
    control = load_decide_settings(root).control.global_
    capped = next(
        str(c)
        for (c,) in granted
        if stable_bucket("campaign:spring:", str(c)) >= 0.15
        and not in_global_control(str(c), control, dt.date.today())
    )
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for i in (1, 2):
        ws.engine.execute(
            'INSERT INTO contact_history (customer_id, channel, purpose, "at", status, message_id) '
            "VALUES (?, 'email', 'marketing', ?, 'sent', ?)",
            [capped, now - dt.timedelta(days=i), f"old-{i}"],
        )
    campaign = parse_campaign(
        {
            "id": "spring",
            "name": "Spring sale",
            "audience": {"segment": "with_email"},
            "channels": ["email"],
            "control_share": 0.15,
            "content": {
                "email": {
                    "en": {
                        "subject": "Spring for you, {{ first_name | default('friend') }}",
                        "html": "<html><body><p>Hi {{ first_name | default('friend') }}</p>"
                        "<a href='https://shop.example/spring?c=1'>Shop now</a>"
                        "<p><a href='{{ unsubscribe_url }}'>unsubscribe</a></p></body></html>",
                        "text": "Hi {{ first_name | default('friend') }}: https://shop.example/spring",
                    },
                    "ru": {
                        "subject": "Весна для вас, {{ first_name | default('друг') }}",
                        "html": "<html><body><p>Привет</p><a href='https://shop.example/spring?c=1'>"
                        "Купить</a></body></html>",
                    },
                }
            },
        }  # fmt: skip
    )
    create_campaign(ws, campaign)
    summary = launch_campaign(ws, "spring")["run"]
    queued = {
        m["customer_id"]: m for m in OutboxStore(ws.state).messages("spring", "queued", 10_000)
    }
    ordered = sorted(queued)
    late_optout, late_suppressed = ordered[0], ordered[1]
    record_consent(ws.state, LookupKey("customer_id", late_optout), "email", "marketing", "denied")
    suppress(ws.state, "email", queued[late_suppressed]["address"], "manual")
    audience = ws.engine.fetch_rows(
        "SELECT customer_id, arm, status, reason FROM campaign_audience"
    )
    denied = {
        str(r[0])
        for r in ws.engine.fetch_rows(
            "SELECT customer_id FROM consents WHERE channel IN ('email', 'all') "
            "AND purpose = 'marketing' GROUP BY customer_id "
            "HAVING max(CASE WHEN status = 'denied' THEN occurred_at END) >= "
            "coalesce(max(CASE WHEN status = 'granted' THEN occurred_at END), TIMESTAMP '1900-01-01')"
        )
    }
    emails = dict(ws.engine.fetch_rows("SELECT customer_id, email FROM customers"))
    admin = create_key(ws.state, "admin")[1]
    ws.close()
    return {
        "summary": summary, "queued": queued, "late_optout": late_optout,
        "late_suppressed": late_suppressed, "capped": capped, "audience": audience,
        "denied": denied, "emails": emails, "admin": admin,
    }  # fmt: skip


def test_campaign_into_real_smtp_survives_sigkill(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    api_port = free_port()
    with smtp_sink() as (sink, smtp_port):
        facts = _prepare(root, smtp_port, api_port)
        queued: dict[str, dict[str, object]] = facts["queued"]  # type: ignore[assignment]
        assert len(queued) > 100
        blocked = {facts["late_optout"], facts["late_suppressed"]}
        intended = {c: str(m["idempotency_key"]) for c, m in queued.items() if c not in blocked}
        server = _cli(
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(api_port),
            ws=root,
            log=tmp_path / "api.log",
        )
        try:
            assert _wait(lambda: _healthy(api_port), 60), (tmp_path / "api.log").read_text()
            log = tmp_path / "dispatch.log"
            first = _cli("campaigns", "dispatch", "--workers", str(WORKERS), ws=root, log=log)
            assert _wait(lambda: len(sink.snapshot()) >= len(intended) // 3, 60), log.read_text()
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            at_kill = len(sink.snapshot())
            assert at_kill < len(intended), "the kill came too late to test anything"
            second = _cli(
                "campaigns", "dispatch", "--workers", str(WORKERS), "--once", ws=root, log=log
            )
            assert second.wait(120) == 0, log.read_text()
            received = sink.snapshot()
            _check_deliveries(received, intended, facts, root)
            _track(received, api_port, str(facts["admin"]))
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(60)
    _check_warehouse(root, intended)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def _check_deliveries(received, intended, facts, root: Path) -> None:  # type: ignore[no-untyped-def]
    by_id = Counter(r.message_id for r in received)
    per_recipient: dict[str, set[str]] = {}
    for r in received:
        for rcpt in r.recipients:
            per_recipient.setdefault(rcpt, set()).add(r.message_id)
    emails: dict[str, str] = facts["emails"]
    expected_ids = {f"<{key}@shop.example>" for key in intended.values()}
    assert set(by_id) == expected_ids  # every intended message arrived, nothing else did
    for customer in intended:
        assert len(per_recipient[emails[customer]]) == 1  # exactly one distinct message each
    duplicates = sum(n - 1 for n in by_id.values())
    # Copies resent after the kill carry the same Message-ID; at most one batch per worker.
    assert duplicates <= WORKERS * BATCH
    got = set(per_recipient)
    audience = facts["audience"]
    held = {str(c) for c, arm, _, _ in audience if arm != "treatment"}
    excluded = {str(c) for c, _, status, _ in audience if status == "excluded"}
    assert held and excluded
    for customer in (
        held | excluded | {facts["late_optout"], facts["late_suppressed"], facts["capped"]}
    ):
        assert emails.get(customer) not in got, customer
    for customer in facts["denied"]:
        assert emails.get(customer) not in got
    capped_reason = [reason for c, _, _, reason in audience if c == facts["capped"]]
    assert capped_reason and "frequency cap" in str(capped_reason[0])
    (root / "duplicates.txt").write_text(str(duplicates))


def _track(received, port: int, admin: str) -> None:  # type: ignore[no-untyped-def]
    base = f"http://127.0.0.1:{port}"
    html = received[0].part("html")
    click = re.search(r"href='(http://127\.0\.0\.1:\d+/t/c/[^']+)'", html)
    pixel = re.search(r'src="(http://127\.0\.0\.1:\d+/t/o/[^"]+)"', html)
    assert click and pixel
    opened = httpx.get(pixel.group(1))
    assert opened.status_code == 200 and opened.headers["content-type"] == "image/gif"
    redirect = httpx.get(click.group(1), follow_redirects=False)
    assert redirect.status_code == 302
    assert redirect.headers["location"] == "https://shop.example/spring?c=1"
    token = click.group(1).rsplit("/", 1)[1]
    body, tag = token.split(".")
    tampered = f"{base}/t/c/{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{tag}"
    assert httpx.get(tampered, follow_redirects=False).status_code == 404
    assert httpx.get(f"{base}/t/c/not-a-token").status_code == 404
    # One-click unsubscribe from the List-Unsubscribe header of another message.
    header = received[1].message["List-Unsubscribe"]
    assert received[1].message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = re.search(r"<(http[^>]+)>", str(header)).group(1)  # type: ignore[union-attr]
    done = httpx.post(url, content=b"List-Unsubscribe=One-Click")
    assert done.status_code == 200 and "unsubscribed" in done.text
    consent = httpx.get(
        f"{base}/v1/campaigns/spring", headers={"Authorization": f"Bearer {admin}"}
    ).json()
    assert consent["messages"]["sent"] >= 1
    time.sleep(2.5)  # the loader hook mirrors message events about once a second


def _check_warehouse(root: Path, intended: dict[str, str]) -> None:
    from cvm.campaigns.lifecycle import sync
    from cvm.workspace import open_workspace

    with open_workspace(root) as ws:
        sync(ws)
        names = dict(
            ws.engine.fetch_rows(
                "SELECT name, count(DISTINCT json_extract_string(properties, '$.message_id')) "
                "FROM events WHERE type = 'message' GROUP BY name"
            )
        )
        assert names["email_sent"] == len(intended)
        assert names["email_opened"] == 1 and names["email_clicked"] == 1
        assert names["email_unsubscribed"] == 1
        history = dict(
            ws.engine.fetch_rows(
                "SELECT status, count(*) FROM contact_history WHERE campaign_id = 'spring' GROUP BY 1"
            )
        )
        assert history["sent"] == len(intended)
        assert history.get("scheduled", 0) == 0
