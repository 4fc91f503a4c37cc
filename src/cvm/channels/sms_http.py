"""SMS through a Twilio-style HTTP gateway.

Send: ``POST {base_url}/2010-04-01/Accounts/{account_sid}/Messages.json`` with form fields
``To``, ``From`` (or ``MessagingServiceSid``), ``Body`` and ``StatusCallback``, HTTP Basic auth
(account SID, auth token); ``201`` answers ``{"sid": "SM…", "status": "queued"}``. The
idempotency key travels as ``I-Twilio-Idempotency-Token`` (and ``Idempotency-Key``) for
gateways that deduplicate. Error codes that mean the number itself is bad (21211 invalid
'To', 21610 the recipient replied STOP, 21614 not a mobile number) suppress it.

Status callbacks are form posts with ``MessageSid``, ``MessageStatus`` (``delivered``,
``undelivered``, ``failed``, …) and ``ErrorCode``; when an auth token is configured the
``X-Twilio-Signature`` (base64 HMAC-SHA1 of the URL followed by the sorted form pairs) is
checked and a callback failing it yields no events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import parse_qsl

from cvm.channels.base import BaseChannel, DeliveryEvent, OutgoingMessage, SendResult, utc_now
from cvm.channels.http_common import make_client, post

BAD_NUMBER_CODES = {21211, 21610, 21614, 21612}
# Carrier errors meaning the number cannot receive messages (unknown, landline, unreachable).
HARD_FAILURE_CODES = {"30003", "30005", "30006"}


@dataclass
class SmsSettings:
    base_url: str = "https://api.twilio.com"
    account_sid: str = ""
    auth_token: str = field(default="", repr=False)
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    timeout: float = 10.0


def twilio_signature(token: str, url: str, params: Mapping[str, str]) -> str:
    data = url + "".join(k + params[k] for k in sorted(params))
    digest = hmac.new(token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class SmsHttpChannel(BaseChannel):
    provider = "twilio"

    def __init__(self, settings: SmsSettings) -> None:
        self.settings = settings
        self.client = make_client(settings.timeout)

    def send(self, message: OutgoingMessage) -> SendResult:
        s = self.settings
        form = {"To": message.to, "Body": message.body or ""}
        if s.messaging_service_sid:
            form["MessagingServiceSid"] = s.messaging_service_sid
        else:
            form["From"] = s.from_number or ""
        if s.status_callback:
            form["StatusCallback"] = s.status_callback
        url = f"{s.base_url.rstrip('/')}/2010-04-01/Accounts/{s.account_sid}/Messages.json"
        headers = {"I-Twilio-Idempotency-Token": message.key, "Idempotency-Key": message.key}

        def bad(response: object) -> bool:
            try:
                return int(response.json().get("code", 0)) in BAD_NUMBER_CODES  # type: ignore[attr-defined]
            except ValueError:
                return False

        return post(
            lambda: self.client.post(
                url, data=form, headers=headers, auth=(s.account_sid, s.auth_token)
            ),
            lambda r: str(r.json()["sid"]),
            bad,
        )

    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryEvent]:
        params = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        if self.settings.auth_token:
            url = headers.get("x-cvm-request-url", "")
            expected = twilio_signature(self.settings.auth_token, url, params)
            if not hmac.compare_digest(expected, headers.get("x-twilio-signature", "")):
                return []
        status = params.get("MessageStatus", "").lower()
        code = params.get("ErrorCode", "")
        common = {"provider_id": params.get("MessageSid"), "address": params.get("To"),
                  "occurred_at": utc_now()}  # fmt: skip
        if status == "delivered":
            return [DeliveryEvent("delivered", **common)]  # type: ignore[arg-type]
        if status in ("undelivered", "failed"):
            hard = code in HARD_FAILURE_CODES
            kind = "bounced" if hard else "failed"
            return [DeliveryEvent(kind, detail=f"error {code}", permanent=hard, **common)]  # type: ignore[arg-type]
        return []

    def close(self) -> None:
        self.client.close()
