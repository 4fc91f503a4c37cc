"""Dispatch workers: claim due messages, check them again, send, record the outcome.

Each worker (a thread; ``cvm campaigns dispatch --workers N``) loops:

1. **claim** up to ``batch_size`` due messages: status ``sending``, a lease of
   ``lease_seconds``, attempts + 1 (`cvm.state.outbox.OutboxStore.claim`: SKIP LOCKED on
   PostgreSQL, one guarded UPDATE on SQLite); expired leases of dead workers are claimed too;
2. **check** them at send time (`cvm.campaigns.sendcheck`): campaign state, suppression,
   consent, global control, caps, quiet hours;
3. **send** each through its channel's provider, after a token from the channel's bucket,
   and only while the lease has at least ``margin`` left (a message is never sent by a worker
   whose lease may have run out, so two live workers never send the same message);
4. **commit** the batch's outcomes in one transaction: ``sent`` (+ a ``sent`` event),
   temporary errors back to ``queued`` after an exponential back-off with jitter
   (``backoff_seconds · 2^(attempt-1)``, capped) until ``max_attempts``, permanent errors
   to ``dead`` with the reason (a refused address is also suppressed).

Exactly once, precisely: a message is marked ``sending`` (durably) before it is sent and
``sent`` after, so the only way to send it twice is a crash after the provider accepted it
and before the batch's commit. After such a crash the lease expires and the message is sent
again **with the same idempotency key** (the SMTP Message-ID, the HTTP ``Idempotency-Key``),
so the provider or the receiver recognises the copy: at-least-once delivery to the provider
plus a provider-side dedup key = effectively once. The window is at most one batch per worker
(``batch_size`` messages sent in the last ``batch_size / rate`` seconds before the kill).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from cvm.campaigns.campaign import Campaign
from cvm.campaigns.config import CampaignSettings
from cvm.campaigns.ratelimit import TokenBucket
from cvm.campaigns.sendcheck import SendCheck
from cvm.channels.base import Channel, OutgoingMessage, SendResult, utc_now
from cvm.decide.config import DecideSettings
from cvm.state.campaign_store import CampaignRows
from cvm.state.message_events import read_cursor, suppress
from cvm.state.outbox import OutboxStore

log = logging.getLogger(__name__)
WATERMARK = "triggers_seen_until"


@dataclass
class DispatchStats:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    skipped: int = 0
    deferred: int = 0
    batches: int = 0
    points_granted: int = 0
    points_refused: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, n in counts.items():
                setattr(self, name, getattr(self, name) + n)

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not f.name.startswith("_")}


class CampaignCache:
    """Campaign status and definition by id, re-read at most every ``ttl`` seconds."""

    def __init__(self, rows: CampaignRows, ttl: float = 2.0) -> None:
        self.rows = rows
        self.ttl = ttl
        self._at = -1e9
        self._data: dict[str, tuple[str, Campaign | None]] = {}
        self._lock = threading.Lock()

    def __call__(self, campaign_id: str) -> tuple[str, Campaign | None]:
        with self._lock:
            if time.monotonic() - self._at > self.ttl or campaign_id not in self._data:
                self._data = {
                    r["id"]: (r["status"], Campaign.model_validate(r["definition"]))
                    for r in self.rows.all()
                }
                self._at = time.monotonic()
            return self._data.get(campaign_id, ("missing", None))


def backoff(settings: CampaignSettings, attempts: int) -> dt.timedelta:
    d = settings.dispatch
    seconds = min(d.backoff_max_seconds, d.backoff_seconds * 2 ** max(0, attempts - 1))
    return dt.timedelta(seconds=seconds * random.uniform(0.5, 1.0))  # noqa: S311 - jitter only


def outgoing(row: dict[str, Any]) -> OutgoingMessage:
    return OutgoingMessage(
        key=row["idempotency_key"], channel=row["channel"], to=row["address"],
        subject=row.get("subject"), body=row.get("body"), html=row.get("html"),
        meta=row.get("meta") or {}, campaign_id=row["campaign_id"], customer_id=row["customer_id"],
    )  # fmt: skip


class Dispatcher:
    def __init__(
        self,
        state: Any,
        settings: CampaignSettings,
        decide: DecideSettings,
        channel_factory: Callable[[str], Channel],
        *,
        fallback_zone: str = "UTC",
    ) -> None:
        self.state = state
        self.settings = settings
        self.store = OutboxStore(state)
        self.campaigns = CampaignCache(CampaignRows(state))
        self.check = SendCheck(self.store, decide, self.campaigns, fallback_zone)
        self.channel_factory = channel_factory
        self.buckets = {
            ch: TokenBucket(settings.section(ch).rate_per_second, settings.section(ch).burst)
            for ch in ("email", "sms", "push", "telegram", "whatsapp", "viber")
        }
        self.stats = DispatchStats()
        self.stop = threading.Event()

    # -- running ----------------------------------------------------------------------------
    def run(self, workers: int = 2, once: bool = False) -> DispatchStats:
        """Run ``workers`` threads until `stop` is set (or, with ``once``, nothing is due and no
        message is still leased: a crashed worker's lease is waited out and taken over)."""
        threads = [
            threading.Thread(target=self._loop, args=(i, once), name=f"dispatch-{i}", daemon=True)
            for i in range(workers)
        ]
        for t in threads:
            t.start()
        try:
            for t in threads:
                while t.is_alive():
                    t.join(0.5)
        except KeyboardInterrupt:
            self.stop.set()
            for t in threads:
                t.join()
        return self.stats

    def _loop(self, index: int, once: bool) -> None:
        worker = f"{socket.gethostname()}:{os.getpid()}:{index}"
        clients: dict[str, Channel] = {}
        try:
            while not self.stop.is_set():
                try:
                    handled = self.run_batch(worker, clients)
                except Exception:  # a store or provider hiccup must not end the worker
                    log.exception("dispatch batch failed; retrying")
                    handled = -1
                if handled == 0 and once and not self.store.in_flight():
                    return
                if handled <= 0:
                    self.stop.wait(self.settings.dispatch.poll_seconds)
        finally:
            for client in clients.values():
                try:
                    client.close()
                except Exception:
                    log.warning("closing a channel failed", exc_info=True)

    def _watermark(self) -> dt.datetime | None:
        value = read_cursor(self.state, WATERMARK)
        return dt.datetime.fromisoformat(value) if value else None

    # -- one batch --------------------------------------------------------------------------
    def run_batch(self, worker: str, clients: dict[str, Channel]) -> int:
        d = self.settings.dispatch
        now = utc_now()
        rows = self.store.claim(
            worker,
            d.batch_size,
            now,
            now + dt.timedelta(seconds=d.lease_seconds),
            self._watermark(),
        )
        if not rows:
            return 0
        margin = min(d.lease_seconds / 2, 35.0)
        deadline = time.monotonic() + d.lease_seconds - margin
        verdicts = self.check.check(rows, now)
        sent: list[dict[str, Any]] = []
        retry: list[dict[str, Any]] = [dict(x) for x in verdicts.defer]
        dead: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        bad: list[tuple[str, str, str]] = []
        for row in verdicts.send:
            if time.monotonic() > deadline:  # the lease may not cover another send
                retry.append(
                    {"id": row["id"], "not_before": utc_now(), "attempts": row["attempts"] - 1}
                )
                continue
            if not self.buckets[row["channel"]].acquire(1, self.stop):
                retry.append(
                    {"id": row["id"], "not_before": utc_now(), "attempts": row["attempts"] - 1}
                )
                continue
            client = clients.get(row["channel"])
            if client is None:
                client = clients[row["channel"]] = self.channel_factory(row["channel"])
            result = self._send(client, row)
            self._record(row, result, sent, retry, dead, events, bad)
        # Points before the outcome: a crash in between resends the message (same key) and the
        # ledger ignores the repeated posting, so points are granted exactly once.
        self._grant_points(rows, sent)
        self.store.complete(worker, sent, retry, dead, verdicts.skip, events)
        for channel, address, reason in bad:
            suppress(self.state, channel, address, reason)
        self.stats.add(
            sent=len(sent), dead=len(dead), skipped=len(verdicts.skip), batches=1,
            deferred=len(verdicts.defer), retried=len(retry) - len(verdicts.defer),
        )  # fmt: skip
        return len(rows)

    def _grant_points(self, rows: list[dict[str, Any]], sent: list[dict[str, Any]]) -> None:
        """Post the campaign's `grant_points` for every message just sent."""
        from cvm.state.loyalty_ledger import LoyaltyLedger, Posting

        done = {s["id"]: s["at"] for s in sent}
        postings: list[Posting] = []
        for row in rows:
            if row["id"] not in done:
                continue
            _, campaign = self.campaigns(row["campaign_id"])
            grant = campaign.grant_points if campaign is not None else None
            if grant is None:
                continue
            at = done[row["id"]]
            postings.append(
                Posting(
                    key=f"campaign-points:{row['idempotency_key']}",
                    customer_id=row["customer_id"],
                    kind="earn",
                    points=grant.points,
                    at=at,
                    reason=grant.reason or f"campaign {row['campaign_id']}",
                    reference=row["campaign_id"],
                    expires_at=at + dt.timedelta(days=grant.expires_in_days)
                    if grant.expires_in_days
                    else None,
                )
            )
        if not postings:
            return
        report = LoyaltyLedger(self.state).post(postings)
        self.stats.add(points_granted=report.posted, points_refused=len(report.rejected))
        if report.rejected:  # reasons only: customer ids stay out of the log
            reasons = sorted({reason for _, reason in report.rejected})
            log.warning("%d points grants refused: %s", len(report.rejected), "; ".join(reasons))

    @staticmethod
    def _send(client: Channel, row: dict[str, Any]) -> SendResult:
        try:
            return client.send(outgoing(row))
        except Exception as err:  # a provider bug is a temporary error, not a dead worker
            log.exception("channel %s raised", row["channel"])
            return SendResult("temporary_error", detail=f"{type(err).__name__}: {err}")

    def _record(
        self,
        row: dict[str, Any],
        result: SendResult,
        sent: list[dict[str, Any]],
        retry: list[dict[str, Any]],
        dead: list[dict[str, Any]],
        events: list[dict[str, Any]],
        bad: list[tuple[str, str, str]],
    ) -> None:
        now = utc_now()
        event = {"message_key": row["idempotency_key"], "campaign_id": row["campaign_id"],
                 "customer_id": row["customer_id"], "channel": row["channel"], "occurred_at": now}  # fmt: skip
        if result.status == "sent":
            sent.append({"id": row["id"], "at": now, "provider_id": result.provider_id})
            events.append({**event, "event_id": f"{row['idempotency_key']}:sent", "event": "sent",
                           "properties": {"provider_id": result.provider_id, "attempt": row["attempts"]}})  # fmt: skip
            return
        attempts = int(row["attempts"])
        if result.status == "temporary_error" and attempts < self.settings.dispatch.max_attempts:
            retry.append({"id": row["id"], "not_before": now + backoff(self.settings, attempts),
                          "attempts": attempts, "detail": result.detail})  # fmt: skip
            return
        reason = (
            result.detail
            if result.status == "permanent_error"
            else (f"gave up after {attempts} attempts: {result.detail}")
        )
        dead.append({"id": row["id"], "detail": reason})
        kind = "bounced" if result.bad_address else "failed"
        events.append({**event, "event_id": f"{row['idempotency_key']}:{kind}", "event": kind,
                       "properties": {"reason": reason[:300]}})  # fmt: skip
        if result.bad_address:
            bad.append(
                (
                    row["channel"],
                    row["address"],
                    "hard_bounce" if row["channel"] == "email" else "invalid_address",
                )
            )
