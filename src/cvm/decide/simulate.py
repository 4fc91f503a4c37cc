"""What-if: decide a plan against today's base without writing anything, and compare plans.

A plan is a YAML file with the sections of ``decide.toml`` (each deep-merged over the
workspace's settings) plus the offers to decide (a file or folder path relative to the plan,
an inline list, or — when absent — the stored catalogue)::

    name: spring push, tighter SMS
    date: 2025-04-01
    offers: offers/            # or a list of offers; absent: the catalogue in the warehouse
    arbitration:
      budget: 20000
      channel_capacity: {sms: 5000}
    policy:
      caps: [{channels: all, max: 1, days: 7}]

The report shows reach per offer and channel, spend, contact pressure, expected incremental
responders and value with 90% intervals (see `cvm.decide.summary`), and which constraints bind
with their dual prices and slack.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cvm.core.errors import UserInputError
from cvm.decide.batch import compute_decisions
from cvm.decide.config import DecideSettings, load_decide_settings, parse_settings
from cvm.decide.offer_store import load_offers
from cvm.decide.offers import Offer, offers_in_document, parse_offers, read_offers
from cvm.segments.definition import read_document

if TYPE_CHECKING:
    from cvm.workspace.workspace import Workspace

PLAN_SECTIONS = ("policy", "control", "arbitration")
COMPARED = (
    "contacted",
    "offer_control",
    "spend",
    "expected_profit",
    "incremental_responders",
    "incremental_value",
)


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def load_plan(
    path: Path, base: DecideSettings
) -> tuple[str, dt.date | None, DecideSettings, list[Offer] | None]:
    """(name, date, settings, offers or None for the catalogue) of a plan file."""
    if not path.is_file():
        raise UserInputError(f"{path}: no such plan file")
    data = read_document(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise UserInputError(f"{path}: a plan is a mapping (name, date, offers, policy, ...)")
    unknown = set(data) - {"name", "date", "offers", *PLAN_SECTIONS}
    if unknown:
        raise UserInputError(f"{path}: unknown plan section(s) {sorted(unknown)}")
    merged = deep_merge(
        base.model_dump(mode="json", by_alias=True),
        {k: data[k] for k in PLAN_SECTIONS if k in data},
    )
    settings = parse_settings(merged, str(path))
    day = data.get("date")
    if day is not None and not isinstance(day, dt.date):
        try:
            day = dt.date.fromisoformat(str(day))
        except ValueError:
            raise UserInputError(f"{path}: date: expected YYYY-MM-DD, got {day!r}") from None
    offers: list[Offer] | None = None
    spec = data.get("offers")
    if isinstance(spec, str):
        offers = read_offers((path.parent / spec).resolve())
    elif spec is not None:
        offers = parse_offers(
            [(f"{path}: {label}", raw) for label, raw in offers_in_document(spec)]
        )
    return str(data.get("name") or path.stem), day, settings, offers


def simulate_plan(ws: Workspace, path: Path, day: dt.date | None = None) -> dict[str, Any]:
    """Decide the plan in memory and return its summary (nothing is written)."""
    name, plan_day, settings, offers = load_plan(path, load_decide_settings(ws.root))
    when = day or plan_day or dt.datetime.now(dt.UTC).date()
    result = compute_decisions(
        ws.engine,
        offers if offers is not None else load_offers(ws.engine),
        settings,
        day=when,
        consent_policy=ws.settings.consent.policy,
        timezone=ws.settings.workspace.timezone,
    )
    summary = dict(result.summary)
    summary["plan"] = name
    return summary


def compare_plans(a: dict[str, Any], b: dict[str, Any]) -> list[dict[str, Any]]:
    """Side-by-side rows: metric, plan A, plan B, B − A."""
    if a["plan"] == b["plan"]:
        b = {**b, "plan": f"{b['plan']} (B)"}
    rows: list[dict[str, Any]] = []
    for key in COMPARED:
        va, vb = a.get(key), b.get(key)
        diff = (
            round(vb - va, 2)
            if isinstance(va, int | float) and isinstance(vb, int | float)
            else None
        )
        rows.append({"metric": key, a["plan"]: va, b["plan"]: vb, "difference": diff})
    for key in ("responders_90", "value_90"):
        rows.append(
            {"metric": key, a["plan"]: a.get(key), b["plan"]: b.get(key), "difference": None}
        )
    pa_, pb = a["contact_pressure"], b["contact_pressure"]
    for key in pa_:
        diff = round(pb[key] - pa_[key], 4)
        rows.append({"metric": key, a["plan"]: pa_[key], b["plan"]: pb[key], "difference": diff})
    rows.append(
        {
            "metric": "binding",
            a["plan"]: ", ".join(a["binding"]),
            b["plan"]: ", ".join(b["binding"]),
            "difference": None,
        }
    )
    return rows
