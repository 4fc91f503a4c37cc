"""Identifiers: what can point at a person, and how each kind is normalised before matching.

Kinds: ``user_id`` (the site's own account id), ``anonymous_id`` (a device or cookie id),
``email`` (trimmed, lower-cased), ``phone`` (E.164, see `cvm.identity.phone`), and
``external:<system>`` (an id in another system: CRM, loyalty card, POS).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, NamedTuple

from cvm.identity.phone import normalize_phone

USER_ID = "user_id"
ANONYMOUS_ID = "anonymous_id"
EMAIL = "email"
PHONE = "phone"
EXTERNAL_PREFIX = "external:"
# Lookup parameters of the profile API → identifier kinds.
LOOKUP_KINDS = (USER_ID, ANONYMOUS_ID, EMAIL, PHONE)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Identifier(NamedTuple):
    kind: str
    value: str


def normalize_email(raw: object) -> str | None:
    if not isinstance(raw, str):
        return None
    email = raw.strip().lower()
    return email if _EMAIL.match(email) and len(email) <= 320 else None


def normalize_identifier(kind: str, raw: object, default_country: str = "US") -> Identifier | None:
    """The normalised identifier, or None when `raw` is empty or not valid for its kind."""
    if raw is None or raw == "":
        return None
    if kind == EMAIL:
        email = normalize_email(raw)
        return Identifier(EMAIL, email) if email else None
    if kind == PHONE:
        phone = normalize_phone(raw, default_country)
        return Identifier(PHONE, phone) if phone else None
    text = str(raw).strip()
    if not text or len(text) > 320:
        return None
    if kind in (USER_ID, ANONYMOUS_ID) or kind.startswith(EXTERNAL_PREFIX):
        return Identifier(kind, text)
    raise ValueError(f"unknown identifier kind {kind!r}")


def identifiers_from_traits(
    traits: Mapping[str, Any], default_country: str = "US"
) -> list[Identifier]:
    """E-mail, phone and external ids found in traits.

    Read: ``email``; ``phone``; ``external_ids`` as an object ``{"crm": "123"}``. (Segment's
    ``context.externalIds`` list is read by the caller and passed here the same way.)
    """
    found: list[Identifier] = []
    for kind in (EMAIL, PHONE):
        ident = normalize_identifier(kind, traits.get(kind), default_country)
        if ident:
            found.append(ident)
    external = traits.get("external_ids")
    if isinstance(external, Mapping):
        for system, value in sorted(external.items()):
            if isinstance(value, str | int) and not isinstance(value, bool):
                ident = normalize_identifier(EXTERNAL_PREFIX + str(system).lower(), value)
                if ident:
                    found.append(ident)
    return found
