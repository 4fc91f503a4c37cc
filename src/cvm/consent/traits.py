"""Consent read from identify traits (live) — what is read, exactly:

* ``unsubscribed: true|false`` → e-mail / marketing denied | granted (the convention of
  Customer.io and most e-mail tools);
* ``<channel>_opt_in``, ``<channel>_optin``, ``<channel>_subscribed``: ``true|false`` →
  that channel / marketing;
* ``consent``: an object per channel, either a decision for marketing
  (``{"sms": false}``) or one per purpose (``{"email": {"marketing": true, "service": true}}``).

A decision is ``true``/``false`` or the text ``granted``/``denied``/``yes``/``no``. Channels:
``email``, ``sms``, ``push``, ``messenger``, ``phone``, ``all``; purposes: ``marketing``,
``service``. Anything else is ignored (never guessed). Segment's consent-category object
(``context.consent``) names cookie categories, not channels, and is not read.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

CHANNELS = ("email", "sms", "push", "messenger", "phone", "all")
PURPOSES = ("marketing", "service")
_TRUE = {"true", "yes", "granted", "opt_in", "opted_in", "subscribed", "1"}
_FALSE = {"false", "no", "denied", "opt_out", "opted_out", "unsubscribed", "0"}

Decision = tuple[str, str, str]  # channel, purpose, status


def parse_status(value: object) -> str | None:
    """`granted`, `denied`, or None when the value is not a clear decision."""
    if isinstance(value, bool):
        return "granted" if value else "denied"
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return "granted"
        if text in _FALSE:
            return "denied"
    return None


def consents_from_traits(traits: Mapping[str, Any]) -> list[Decision]:
    found: dict[tuple[str, str], str] = {}
    if "unsubscribed" in traits:
        status = parse_status(traits["unsubscribed"])
        if status is not None:  # unsubscribed=true means *denied*
            found[("email", "marketing")] = "denied" if status == "granted" else "granted"
    for channel in CHANNELS:
        for suffix in ("_opt_in", "_optin", "_subscribed"):
            status = parse_status(traits.get(channel + suffix))
            if status is not None:
                found[(channel, "marketing")] = status
    nested = traits.get("consent")
    if isinstance(nested, Mapping):
        for channel, value in nested.items():
            channel = str(channel).lower()
            if channel not in CHANNELS:
                continue
            if isinstance(value, Mapping):
                for purpose, decision in value.items():
                    status = parse_status(decision)
                    if str(purpose).lower() in PURPOSES and status is not None:
                        found[(channel, str(purpose).lower())] = status
            else:
                status = parse_status(value)
                if status is not None:
                    found[(channel, "marketing")] = status
    return [(c, p, s) for (c, p), s in sorted(found.items())]
