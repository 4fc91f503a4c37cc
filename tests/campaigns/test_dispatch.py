"""The dispatcher's decisions: retries with back-off, dead-letter with the reason, suppression
of bounced addresses, checks made again at send time, pause/resume/stop, template errors."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cvm.campaigns.campaign import parse_campaign
from cvm.campaigns.config import CampaignSettings
from cvm.campaigns.dispatch import backoff
from cvm.campaigns.lifecycle import (
    create_campaign,
    launch_campaign,
    pause_campaign,
    resume_campaign,
    stop_campaign,
)
from cvm.state.message_events import suppress, suppressed
from cvm.state.outbox import OutboxStore
from tests.campaigns.conftest import RecordingChannel, dispatcher_for, drain

NEWS = {
    "id": "news", "name": "News", "audience": {"segment": "with_email"}, "channels": ["email"],
    "content": {"email": {"en": {"subject": "News for {{ first_name | default('you') }}",
                                 "text": "{{ city | default('Hello') }}"}}},
}  # fmt: skip


def launched(ws: Any, **overrides: Any) -> dict[str, dict[str, Any]]:
    create_campaign(ws, parse_campaign({**NEWS, **overrides}))
    launch_campaign(ws, str(overrides.get("id", "news")))
    return {m["customer_id"]: m for m in OutboxStore(ws.state).messages(limit=10_000)}


def test_retries_then_dead_letter_and_bounce_suppression(demo_ws: Any) -> None:
    queued = launched(demo_ws)
    flaky, hopeless, bouncing, *_ = sorted(queued.values(), key=lambda m: m["customer_id"])
    channel = RecordingChannel(
        script={flaky["address"]: ["temporary", "temporary", "sent"],
                hopeless["address"]: ["temporary"], bouncing["address"]: ["bounce"]}
    )  # fmt: skip
    drain(dispatcher_for(demo_ws, channel, max_attempts=3), rounds=200)
    store = OutboxStore(demo_ws.state)
    rows = {m["customer_id"]: m for m in store.messages("news")}
    assert rows[flaky["customer_id"]]["status"] == "sent"
    assert rows[flaky["customer_id"]]["attempts"] == 3
    assert rows[hopeless["customer_id"]]["status"] == "dead"
    assert "gave up after 3 attempts" in rows[hopeless["customer_id"]]["last_error"]
    assert rows[bouncing["customer_id"]]["status"] == "dead"
    assert suppressed(demo_ws.state, "email", [bouncing["address"]]) == {
        bouncing["address"].lower()
    }
    assert len(channel.sent) == len(queued) - 2
    assert len({m.key for m in channel.sent}) == len(channel.sent)


def test_send_time_checks(demo_ws: Any) -> None:
    from cvm.consent.service import record_consent
    from cvm.identity.batch import resolve_batch
    from cvm.identity.profile_lookup import LookupKey

    resolve_batch(demo_ws.engine, demo_ws.state)
    queued = launched(demo_ws)
    opted_out, blocked, *rest = sorted(queued)
    record_consent(
        demo_ws.state, LookupKey("customer_id", opted_out), "email", "marketing", "denied"
    )
    suppress(demo_ws.state, "email", queued[blocked]["address"].upper(), "manual")
    channel = RecordingChannel()
    drain(dispatcher_for(demo_ws, channel))
    got = {m.customer_id for m in channel.sent}
    assert got == set(rest)
    rows = {m["customer_id"]: m for m in OutboxStore(demo_ws.state).messages("news")}
    assert rows[opted_out]["status"] == "skipped" and "consent" in rows[opted_out]["last_error"]
    assert rows[blocked]["status"] == "skipped" and "suppressed" in rows[blocked]["last_error"]


def test_frequency_caps_at_enqueue_and_at_send_time(demo_ws: Any) -> None:
    # Cap: 3 marketing messages per 7 days (tests/campaigns/conftest.py).
    for i in range(4):
        launched(demo_ws, id=f"n{i}")
    store = OutboxStore(demo_ws.state)
    # Launches count each other's scheduled messages: the fourth finds everyone at the cap.
    assert store.counts("n3") == {}
    assert store.counts("n2") == store.counts("n0")
    # Sent after n0 was queued (say, by triggers): the send-time check refuses n0's message.
    target = store.messages("n0", limit=1)[0]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    extra = [{**target, "idempotency_key": f"ext-{i}", "campaign_id": "ext", "status": "sent",
              "sent_at": now - dt.timedelta(hours=i + 1)} for i in range(3)]  # fmt: skip
    for row in extra:
        row.pop("id")
    store.enqueue(extra)
    channel = RecordingChannel()
    drain(dispatcher_for(demo_ws, channel))
    assert target["customer_id"] not in {m.customer_id for m in channel.sent}
    skipped = store.messages(status="skipped")
    assert {m["campaign_id"] for m in skipped} == {"n0", "n1", "n2"}
    assert {m["customer_id"] for m in skipped} == {target["customer_id"]}
    assert all("frequency cap at send time" in m["last_error"] for m in skipped)


def test_pause_resume_stop(demo_ws: Any) -> None:
    queued = launched(demo_ws)
    pause_campaign(demo_ws, "news")
    channel = RecordingChannel()
    dispatcher = dispatcher_for(demo_ws, channel)
    drain(dispatcher)
    assert channel.sent == []
    resume_campaign(demo_ws, "news")
    dispatcher.check.campaign_of._at = -1e9  # the cache would see it within 2 s anyway
    drain(dispatcher)
    assert len(channel.sent) == len(queued)
    launched(demo_ws, id="later")
    assert stop_campaign(demo_ws, "later")["messages_cancelled"] == len(queued)


def test_quiet_hours_defer_without_counting_an_attempt(demo_ws: Any) -> None:
    (demo_ws.root / "decide.toml").write_text(
        '[policy]\nquiet_hours = { start = "00:00", end = "23:59" }\n[control.global]\nshare = 0.0\n'
    )
    queued = launched(demo_ws)
    channel = RecordingChannel()
    drain(dispatcher_for(demo_ws, channel))
    # Launch already moved every message past the quiet period; none is due yet.
    assert channel.sent == []
    rows = OutboxStore(demo_ws.state).messages("news")
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert len(rows) == len(queued) and all(r["not_before"] > now for r in rows)


def test_template_error_dead_letters_that_message_only(demo_ws: Any) -> None:
    # The Russian variant reads a field nobody has; the English one is fine.
    content = {"email": {"en": {"subject": "Hi", "text": "{{ traits | length }} traits"},
                         "ru": {"subject": "Привет", "text": "{{ loyalty_code }}"}}}  # fmt: skip
    rows = launched(demo_ws, content=content)
    dead = [m for m in rows.values() if m["status"] == "dead"]
    alive = [m for m in rows.values() if m["status"] == "queued"]
    assert dead and alive
    assert all(
        m["last_error"] == "template content.email.ru: 'loyalty_code' is undefined" for m in dead
    )
    assert all(m["body"] is None for m in dead)
    assert all(m["body"].startswith(" traits") is False and " traits" in m["body"] for m in alive)
    assert {m["language"] for m in alive} == {"en"}


def test_backoff_doubles_with_jitter() -> None:
    settings = CampaignSettings()
    settings.dispatch.backoff_seconds = 10
    settings.dispatch.backoff_max_seconds = 100
    for attempt, high in ((1, 10), (2, 20), (3, 40), (6, 100)):
        delay = backoff(settings, attempt).total_seconds()
        assert high / 2 <= delay <= high


def test_draining_run_waits_out_a_dead_workers_lease(demo_ws: Any) -> None:
    """A worker killed mid-batch leaves its claim in ``sending``; `run(once=True)` must wait
    for the lease to run out and send those messages, not leave them stranded."""
    from cvm.channels.base import utc_now

    queued = launched(demo_ws)
    store = OutboxStore(demo_ws.state)
    now = utc_now()
    stranded = store.claim("dead:1:0", 3, now, now + dt.timedelta(seconds=1.5), None)
    assert len(stranded) == 3
    channel = RecordingChannel()
    dispatcher_for(demo_ws, channel).run(workers=2, once=True)
    rows = {m["idempotency_key"]: m for m in store.messages("news", limit=10_000)}
    assert {rows[r["idempotency_key"]]["status"] for r in stranded} == {"sent"}
    assert sorted(m.key for m in channel.sent) == sorted(
        m["idempotency_key"] for m in queued.values()
    )
    assert store.in_flight() == 0


def test_campaign_points_are_granted_once_even_when_the_batch_is_resent(demo_ws: Any) -> None:
    """`grant_points` posts to the loyalty ledger for every message sent; a crash after the
    grant and before the outcome is recorded resends the message, not the points."""
    import time

    from cvm.channels.base import utc_now
    from cvm.state.loyalty_ledger import LoyaltyLedger

    queued = launched(demo_ws, grant_points={"points": 250, "expires_in_days": 90})
    ids = sorted(queued)
    members, outsider = ids[:-1], ids[-1]
    ledger = LoyaltyLedger(demo_ws.state)
    for cid in members:
        ledger.enroll(cid, utc_now() - dt.timedelta(days=1))
    channel = RecordingChannel()
    dispatcher = dispatcher_for(demo_ws, channel, lease_seconds=0.5, batch_size=len(ids))
    real_complete = dispatcher.store.complete

    def crash(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("worker died before recording the outcome")

    dispatcher.store.complete = crash
    try:
        dispatcher.run_batch("doomed", {})
    except RuntimeError:
        pass
    dispatcher.store.complete = real_complete
    time.sleep(0.6)  # the dead worker's lease runs out
    drain(dispatcher)
    assert len(channel.sent) == 2 * len(ids)  # every message went out twice (same keys)
    assert {ledger.balance(cid) for cid in members} == {250}
    assert ledger.account(outsider) is None  # not a member: refused, not enrolled behind its back
    assert dispatcher.stats.points_granted == len(members)
    assert dispatcher.stats.points_refused == 2  # the outsider, on each of the two sends
    (lot,) = ledger.lots(members[0])
    assert lot["points"] == 250
    assert lot["expires_at"] - lot["earned_at"] == dt.timedelta(days=90)
