"""The campaign wizard's form → a `Campaign` definition, and the what-if simulation.

The simulation is a launch without delivery: the same audience query, candidate rows and
`select_recipients` (holdouts, consent, caps, cool-downs, budget) as `run_occurrence`, counted
instead of enqueued, so its numbers are what a launch would do now.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from cvm.campaigns.audience import members_query, select_recipients
from cvm.campaigns.campaign import Campaign, parse_campaign
from cvm.campaigns.launch import candidate_rows, run_env
from cvm.segments.context import utc_naive
from cvm.segments.store import open_store
from cvm.state.message_events import suppressed

WIZARD_CHANNELS = ("email", "sms", "push", "telegram")


def slug(text: str) -> str:
    value = re.sub(r"[^A-Za-z0-9_.\-]+", "-", text.strip().lower()).strip("-")
    return (value or "campaign")[:64]


def campaign_from_form(form: dict[str, Any]) -> Campaign:
    """Validate the wizard's fields (raises UserInputError naming the field)."""
    channels = [c for c in WIZARD_CHANNELS if form.get(f"channel_{c}")]
    content: dict[str, dict[str, dict[str, str]]] = {}
    for channel in channels:
        variant = {k: form.get(f"{channel}_{k}", "").strip() for k in ("subject", "text", "html")}
        content[channel] = {"en": {k: v for k, v in variant.items() if v}}
    data: dict[str, Any] = {
        "id": form.get("id") or slug(form.get("name", "")),
        "name": form.get("name", "").strip(),
        "description": form.get("description", "").strip(),
        "channels": channels,
        "content": content,
        "control_share": float(form.get("control_share") or 0) / 100,
    }
    if form.get("offer"):
        data["offer"] = form["offer"]
    mode = form.get("mode", "now")
    if mode == "trigger_event":
        data["trigger"] = {"kind": "event", "event": form.get("trigger_event", "").strip(),
                           "delay": form.get("trigger_delay") or "0m"}  # fmt: skip
    elif mode == "trigger_segment":
        data["trigger"] = {"kind": "segment", "segment": form.get("segment", "")}
    else:
        data["audience"] = {"kind": "segment", "segment": form.get("segment", "")}
        if mode == "at":
            data["schedule"] = {"kind": "at", "at": form.get("at") or None}
        elif mode == "daily":
            data["schedule"] = {"kind": "recurring", "every": "daily",
                                "time": form.get("time") or "10:00"}  # fmt: skip
    return parse_campaign(data, "campaign")


def simulate(ws: Any, campaign: Campaign, as_of: dt.datetime | None = None) -> dict[str, Any]:
    """What a launch now would do: customers considered, queued, and why the others are not."""
    if campaign.audience is None:
        return {"note": "a triggered campaign has no audience to simulate: it sends per event"}
    moment = utc_naive(as_of)
    env = run_env(ws, campaign)
    members = members_query(ws.engine, campaign, moment, open_store(ws))
    counts: dict[str, int] = {}
    by_channel: dict[str, int] = {}
    for rows in candidate_rows(env, members, moment):
        selection = select_recipients(
            campaign, rows, as_of=moment, settings=env.decide,
            policy_mode=ws.settings.consent.policy,
            suppressed=lambda ch, addrs: suppressed(ws.state, ch, addrs),
            fallback_zone=env.fallback_zone,
        )  # fmt: skip
        for label, n in selection.counts().items():
            counts[label] = counts.get(label, 0) + n
        for r in selection.recipients:
            by_channel[r.channel] = by_channel.get(r.channel, 0) + 1
    costs = campaign.budget.costs
    cost = sum(n * costs.get(ch, 0.0) for ch, n in by_channel.items())
    return {
        "considered": sum(counts.values()),
        "queued": counts.get("queued", 0),
        "breakdown": dict(sorted(counts.items(), key=lambda kv: -kv[1])),
        "by_channel": by_channel,
        "cost": cost,
    }
