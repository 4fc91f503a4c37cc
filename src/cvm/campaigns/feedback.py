"""What comes back from a message: opens, clicks, unsubscribes and provider callbacks.

Each becomes a message event in the state store (mirrored to the warehouse `events` table as
``<channel>_<event>``), and some change who may be contacted, at once:

* an **unsubscribe** records a consent denial for the message's channel and purpose through
  the consent module (`cvm.consent.service.record_consent`), which every later send checks;
  when the profile is not in the identity graph the denial is recorded on the address itself,
  and the address is also suppressed, so nothing can slip through;
* a **hard bounce** (or a provider's permanent failure) suppresses the address on its channel;
* a **complaint** suppresses the address and records a marketing denial like an unsubscribe.

Opens and clicks are recorded every time they happen (the properties keep the URL of a click);
a delivery, bounce, complaint or unsubscribe once per message.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cvm.campaigns.tracking import LinkSigner
from cvm.channels.base import DeliveryEvent, utc_now
from cvm.channels.registry import CONSENT_CHANNEL
from cvm.core.errors import NotFoundError, UserInputError
from cvm.identity.profile_lookup import LookupKey
from cvm.state.message_events import record_events, suppress
from cvm.state.outbox import OutboxStore

ONCE = ("delivered", "bounced", "complained", "unsubscribed")
ADDRESS_KIND = {"email": "email", "sms": "phone", "whatsapp": "phone", "viber": "phone"}


@dataclass
class Feedback:
    state: Any
    signer: LinkSigner
    default_country: str = "US"
    max_user_ids: int = 3
    lock: threading.RLock | None = None

    def _event(self, message: dict[str, Any], kind: str, **properties: Any) -> None:
        key = message["idempotency_key"]
        event_id = f"{key}:{kind}" if kind in ONCE else f"{key}:{kind}:{uuid.uuid4().hex[:12]}"
        record_events(
            self.state,
            [{"event_id": event_id, "message_key": key, "campaign_id": message["campaign_id"],
              "customer_id": message["customer_id"], "channel": message["channel"],
              "event": kind, "occurred_at": utc_now(), "properties": properties}],
        )  # fmt: skip

    def _message(self, key: str) -> dict[str, Any] | None:
        return OutboxStore(self.state).by_key(key)

    def opened(self, token: str) -> bool:
        payload = self.signer.verify("o", token)
        message = self._message(str(payload.get("k"))) if payload else None
        if message is None:
            return False
        self._event(message, "opened")
        return True

    def clicked(self, token: str) -> str | None:
        """The signed target URL (None: not a token of ours)."""
        payload = self.signer.verify("c", token)
        if not payload or not isinstance(payload.get("u"), str):
            return None
        url = str(payload["u"])
        message = self._message(str(payload.get("k")))
        if message is not None:
            self._event(message, "clicked", url=url)
        return url

    def unsubscribe_target(self, token: str) -> dict[str, Any] | None:
        return self.signer.verify("u", token)

    def unsubscribe(self, token: str, source: str = "unsubscribe_link") -> dict[str, Any] | None:
        payload = self.signer.verify("u", token)
        if payload is None:
            return None
        message = self._message(str(payload.get("k")))
        channel, purpose = str(payload.get("ch")), str(payload.get("p") or "marketing")
        self._deny(str(payload.get("c")), channel, purpose, message, source)
        if message is not None:
            self._event(message, "unsubscribed", purpose=purpose)
        return {"customer_id": payload.get("c"), "channel": channel, "purpose": purpose}

    def _deny(
        self,
        customer_id: str,
        channel: str,
        purpose: str,
        message: dict[str, Any] | None,
        source: str,
    ) -> None:
        from cvm.consent.service import record_consent

        options: dict[str, Any] = {"source": source, "default_country": self.default_country,
                   "max_user_ids": self.max_user_ids, "lock": self.lock}  # fmt: skip
        try:
            record_consent(self.state, LookupKey("customer_id", customer_id), channel, purpose,
                           "denied", **options)  # fmt: skip
            return
        except NotFoundError:
            pass  # the profile is not in the identity graph: fall back to the address
        if message is None:
            raise NotFoundError("this unsubscribe link's message and profile are both gone")
        kind = ADDRESS_KIND.get(message["channel"])
        if kind is not None:
            try:
                record_consent(self.state, LookupKey(kind, message["address"]), channel, purpose,
                               "denied", **options)  # fmt: skip
            except UserInputError:
                pass
        suppress(self.state, message["channel"], message["address"], "unsubscribed", customer_id)

    def apply(self, channel: str, events: Sequence[DeliveryEvent]) -> int:
        """Provider callbacks: record each event of a known message; suppress as needed."""
        store = OutboxStore(self.state)
        handled = 0
        for e in events:
            message = store.by_key(e.message_key) if e.message_key else None
            if message is None and e.provider_id:
                message = store.by_provider_id(e.provider_id)
            if message is None:
                continue
            handled += 1
            self._event(message, e.kind, detail=e.detail, permanent=e.permanent)
            address = message["address"]
            if e.kind == "bounced" and e.permanent:
                suppress(self.state, message["channel"], address, "hard_bounce", e.detail)
            elif e.kind == "complained":
                suppress(self.state, message["channel"], address, "complaint", e.detail)
                consent_channel = CONSENT_CHANNEL.get(message["channel"], message["channel"])
                self._deny(
                    message["customer_id"], consent_channel, "marketing", message, "complaint"
                )
        return handled
