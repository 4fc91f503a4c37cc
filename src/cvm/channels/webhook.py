"""WhatsApp, Viber or any messenger through a generic signed webhook.

cvm posts ``{"id": <idempotency key>, "channel", "to", "text", "subject", "data"}`` as JSON to
the configured URL with ``X-Cvm-Signature: sha256=<hex HMAC-SHA256 of the body>`` and
``Idempotency-Key``; the receiving bridge (a BSP for WhatsApp, a Viber bot) verifies the
signature, deduplicates on the key and answers 2xx with an optional ``{"id": provider id}``.
Delivery reports come back the same way, signed with the same secret:
``{"events": [{"type": "delivered", "id": <key>, "provider_id": …}]}``; unsigned or wrongly
signed callbacks yield no events.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from cvm.channels.base import BaseChannel, DeliveryEvent, OutgoingMessage, SendResult, utc_now
from cvm.channels.http_common import SIGNATURE_HEADER, make_client, post, sign_body, signature_ok

KINDS = ("delivered", "bounced", "failed", "complained", "opened", "clicked")


@dataclass
class WebhookSettings:
    url: str = ""
    secret: str = field(default="", repr=False)
    timeout: float = 10.0


class WebhookChannel(BaseChannel):
    def __init__(self, settings: WebhookSettings, provider: str = "webhook") -> None:
        self.settings = settings
        self.provider = provider
        self.client = make_client(settings.timeout)

    def send(self, message: OutgoingMessage) -> SendResult:
        body = json.dumps(
            {"id": message.key, "channel": message.channel, "to": message.to,
             "subject": message.subject, "text": message.body,
             "data": dict(message.meta.get("data") or {})},
            separators=(",", ":"), ensure_ascii=False,
        ).encode("utf-8")  # fmt: skip
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign_body(self.settings.secret, body),
            "Idempotency-Key": message.key,
        }

        def read_id(response: object) -> str | None:
            data = response.json() if response.content else {}  # type: ignore[attr-defined]
            return str(data.get("id")) if isinstance(data, dict) and data.get("id") else None

        return post(
            lambda: self.client.post(self.settings.url, content=body, headers=headers),
            read_id,
            lambda r: r.status_code in (404, 410),
        )

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryEvent]:
        lowered = {k.lower(): v for k, v in headers.items()}
        if not signature_ok(self.settings.secret, body, lowered.get(SIGNATURE_HEADER.lower())):
            return []
        data = json.loads(body or b"{}")
        out: list[DeliveryEvent] = []
        for item in data.get("events", []) if isinstance(data, dict) else []:
            kind = str(item.get("type", ""))
            if kind in KINDS:
                out.append(
                    DeliveryEvent(
                        kind,  # type: ignore[arg-type]
                        provider_id=item.get("provider_id"),
                        message_key=item.get("id"),
                        address=item.get("to"),
                        occurred_at=utc_now(),
                        detail=str(item.get("reason", ""))[:300],
                        permanent=bool(item.get("permanent", False)),
                    )
                )
        return out

    def close(self) -> None:
        self.client.close()
