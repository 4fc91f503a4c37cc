"""The one interface every provider implements: send a message, read delivery callbacks.

`send` answers with a `SendResult` whose status tells the dispatcher what to do next:
``sent`` (done), ``temporary_error`` (retry later with back-off: a timeout, HTTP 429 or 5xx,
SMTP 4xx) or ``permanent_error`` (dead-letter with the reason: HTTP 4xx, SMTP 5xx). Every
provider receives the message's idempotency key and passes it on where the provider has a
place for it (the e-mail Message-ID, an ``Idempotency-Key`` header), so a resend after a crash
is recognisable on the other side. `parse_callback` turns a provider's status callback into
`DeliveryEvent`s.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from cvm.core.timewindows import utc_now

SendStatus = Literal["sent", "temporary_error", "permanent_error"]
DeliveryKind = Literal["delivered", "bounced", "failed", "complained", "opened", "clicked"]


@dataclass(frozen=True)
class OutgoingMessage:
    """A rendered message as the outbox holds it."""

    key: str
    channel: str
    to: str
    subject: str | None = None
    body: str | None = None
    html: str | None = None
    meta: Mapping[str, Any] = field(default_factory=dict)
    campaign_id: str | None = None
    customer_id: str | None = None


@dataclass(frozen=True)
class SendResult:
    status: SendStatus
    provider_id: str | None = None
    detail: str = ""
    # A permanent refusal of the address itself (hard bounce, invalid number, dead token):
    # the address goes on the suppression list.
    bad_address: bool = False


@dataclass(frozen=True)
class DeliveryEvent:
    kind: DeliveryKind
    provider_id: str | None = None
    message_key: str | None = None
    address: str | None = None
    occurred_at: datetime = field(default_factory=utc_now)
    detail: str = ""
    # A hard bounce (the address does not exist) as opposed to a soft one (mailbox full).
    permanent: bool = False


class Channel(Protocol):
    """What the dispatcher needs from a provider."""

    provider: str

    def send(self, message: OutgoingMessage) -> SendResult: ...

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]: ...

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryEvent]: ...

    def close(self) -> None: ...


class BaseChannel:
    """Defaults: one message after another; no callbacks; nothing to close."""

    provider = "base"

    def send(self, message: OutgoingMessage) -> SendResult:  # pragma: no cover - abstract
        raise NotImplementedError

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        return [self.send(m) for m in messages]

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryEvent]:
        return []

    def close(self) -> None:
        return None


def classify_http(status_code: int) -> SendStatus:
    """2xx sent; 408, 425, 429 and 5xx are worth retrying; any other 4xx will fail again."""
    if 200 <= status_code < 300:
        return "sent"
    if status_code in (408, 425, 429) or status_code >= 500:
        return "temporary_error"
    return "permanent_error"


def short(text: object, limit: int = 300) -> str:
    """A provider's answer trimmed for the dead-letter reason."""
    value = str(text).replace("\n", " ").strip()
    return value if len(value) <= limit else value[: limit - 1] + "…"
