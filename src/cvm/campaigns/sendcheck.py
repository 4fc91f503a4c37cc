"""The checks made again at send time, from the state store only (a dispatch worker never
needs the warehouse, which the API server may own).

For a claimed batch, in order: the campaign is still active (paused → back in the queue;
stopped → skipped); the address is not suppressed (hard bounce, complaint, invalid number);
consent has not been withdrawn since the message was rendered (the live consent log: when
the latest record for the channel or ``all`` and the purpose is a denial, the message is
skipped — records already in the warehouse were applied when the audience was chosen); the
customer is not in the global control group (the same stable hash as `cvm.decide`); the
frequency caps of the contact policy, counting messages sent from this outbox in each cap's
window plus the ones allowed earlier in the same batch; and quiet hours in the customer's own
time zone (a message falling inside them is moved to their end, not counted as an attempt).
Transactional messages (purpose ``service``) skip caps, quiet hours and the control group.

The contact-policy functions are those of `cvm.decide.contact_policy` and
`cvm.decide.control_groups`, so batch decisions, real-time decisions and the dispatcher apply
one policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from cvm.campaigns.campaign import Campaign
from cvm.channels.registry import CONSENT_CHANNEL
from cvm.consent.reachability import decide as consent_decision
from cvm.decide.config import DecideSettings
from cvm.decide.contact_policy import next_allowed_send_time
from cvm.decide.control_groups import in_global_control
from cvm.state.consents import consents_of_customers
from cvm.state.message_events import suppressed
from cvm.state.outbox import OutboxStore


@dataclass
class Verdicts:
    send: list[dict[str, Any]] = field(default_factory=list)
    skip: list[dict[str, Any]] = field(default_factory=list)  # {id, detail}
    defer: list[dict[str, Any]] = field(default_factory=list)  # {id, not_before, attempts}


@dataclass
class SendCheck:
    store: OutboxStore
    decide: DecideSettings
    campaign_of: Callable[[str], tuple[str, Campaign | None]]  # id → (status, definition)
    fallback_zone: str = "UTC"

    def check(self, rows: Sequence[dict[str, Any]], now: dt.datetime) -> Verdicts:
        out = Verdicts()
        live: list[dict[str, Any]] = []
        for row in rows:
            status, campaign = self.campaign_of(row["campaign_id"])
            if status == "paused":
                later = now + dt.timedelta(seconds=30)
                out.defer.append(
                    {"id": row["id"], "not_before": later, "attempts": row["attempts"] - 1}
                )
            elif status not in ("active", "completed") or campaign is None:
                out.skip.append({"id": row["id"], "detail": f"campaign {status}"})
            else:
                live.append({**row, "_campaign": campaign})
        live = self._suppression(live, out)
        live = self._consent(live, out)
        live = self._control_and_caps(live, out, now)
        for row in live:
            if row["purpose"] == "marketing":
                quiet = self.decide.policy.quiet_hours
                allowed = next_allowed_send_time(
                    now, row.get("time_zone"), quiet, self.fallback_zone
                )
                if allowed > now:
                    out.defer.append(
                        {"id": row["id"], "not_before": allowed, "attempts": row["attempts"] - 1}
                    )
                    continue
            out.send.append(row)
        return out

    def _suppression(self, rows: list[dict[str, Any]], out: Verdicts) -> list[dict[str, Any]]:
        keep: list[dict[str, Any]] = []
        by_channel: dict[str, set[str]] = {}
        for channel in {r["channel"] for r in rows}:
            addresses = [r["address"] for r in rows if r["channel"] == channel]
            by_channel[channel] = suppressed(self.store.engine, channel, addresses)
        for r in rows:
            if r["address"].strip().lower() in by_channel[r["channel"]]:
                out.skip.append({"id": r["id"], "detail": "address suppressed"})
            else:
                keep.append(r)
        return keep

    def _consent(self, rows: list[dict[str, Any]], out: Verdicts) -> list[dict[str, Any]]:
        if not rows:
            return rows
        records: dict[str, list[dict[str, Any]]] = {}
        with self.store.engine.connect() as conn:
            for rec in consents_of_customers(conn, sorted({r["customer_id"] for r in rows})):
                records.setdefault(rec["customer_id"], []).append(rec)
        keep: list[dict[str, Any]] = []
        for r in rows:
            mine = records.get(r["customer_id"])
            channel = CONSENT_CHANNEL[r["channel"]]
            # "opt_out" here: no live record means nothing changed since the audience check.
            if mine and not consent_decision(mine, channel, r["purpose"], "opt_out"):
                out.skip.append({"id": r["id"], "detail": f"consent withdrawn for {channel}"})
            else:
                keep.append(r)
        return keep

    def _control_and_caps(
        self, rows: list[dict[str, Any]], out: Verdicts, now: dt.datetime
    ) -> list[dict[str, Any]]:
        marketing = [r for r in rows if r["purpose"] == "marketing"]
        caps = self.decide.policy.caps
        longest = max((c.days for c in caps), default=0.0)
        history: dict[str, list[tuple[str, str, dt.datetime]]] = {}
        if marketing and caps:
            since = now - dt.timedelta(days=longest)
            ids = [r["id"] for r in rows]
            for h in self.store.recent_sends(
                sorted({r["customer_id"] for r in marketing}), since, ids
            ):
                channel = CONSENT_CHANNEL.get(str(h["channel"]), str(h["channel"]))
                history.setdefault(h["customer_id"], []).append(
                    (channel, str(h["purpose"]), h["at"])
                )
        control = self.decide.control.global_
        keep: list[dict[str, Any]] = []
        for r in rows:
            if r["purpose"] != "marketing":
                keep.append(r)
                continue
            campaign: Campaign = r["_campaign"]
            if campaign.global_control and in_global_control(r["customer_id"], control, now.date()):
                out.skip.append({"id": r["id"], "detail": "global control group"})
                continue
            channel = CONSENT_CHANNEL[r["channel"]]
            past = history.setdefault(r["customer_id"], [])
            full = next(
                (
                    cap for cap in caps
                    if cap.covers(channel) and "marketing" in cap.purposes
                    and sum(
                        1 for ch, purpose, at in past
                        if cap.covers(ch) and purpose in cap.purposes
                        and at > now - dt.timedelta(days=cap.days)
                    ) >= cap.max
                ),
                None,
            )  # fmt: skip
            if full is not None:
                out.skip.append(
                    {"id": r["id"], "detail": f"frequency cap at send time: {full.label}"}
                )
                continue
            past.append((channel, "marketing", now))
            keep.append(r)
        return keep
