"""Mobile push through the FCM HTTP v1 API.

``POST {base_url}/v1/projects/{project_id}/messages:send`` with ``Authorization: Bearer
<OAuth2 access token>`` and ``{"message": {"token": …, "notification": {"title", "body"},
"data": {…, "cvm_key": <idempotency key>}}}``; ``200`` answers ``{"name":
"projects/…/messages/…"}``. ``404 UNREGISTERED`` and ``400 INVALID_ARGUMENT`` on the token mean
the device token is dead (suppressed); ``429``/``5xx`` are retried. The access token is taken
as configured (``access_token`` or the environment variable named by ``access_token_env``):
minting it from a service-account key is left to the deployment (e.g. a sidecar refreshing the
variable). FCM sends no delivery callbacks; apps report opens as ordinary track events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cvm.channels.base import BaseChannel, OutgoingMessage, SendResult
from cvm.channels.http_common import make_client, post


@dataclass
class PushSettings:
    base_url: str = "https://fcm.googleapis.com"
    project_id: str = ""
    access_token: str = field(default="", repr=False)
    timeout: float = 10.0


class PushHttpChannel(BaseChannel):
    provider = "fcm"

    def __init__(self, settings: PushSettings) -> None:
        self.settings = settings
        self.client = make_client(settings.timeout)

    def send(self, message: OutgoingMessage) -> SendResult:
        s = self.settings
        data = {str(k): str(v) for k, v in (message.meta.get("data") or {}).items()}
        data["cvm_key"] = message.key
        payload = {
            "message": {
                "token": message.to,
                "notification": {"title": message.subject or "", "body": message.body or ""},
                "data": data,
            }
        }
        url = f"{s.base_url.rstrip('/')}/v1/projects/{s.project_id}/messages:send"
        headers = {"Authorization": f"Bearer {s.access_token}"}

        def dead_token(response: object) -> bool:
            code = response.status_code  # type: ignore[attr-defined]
            return code in (400, 404)

        return post(
            lambda: self.client.post(url, json=payload, headers=headers),
            lambda r: str(r.json()["name"]),
            dead_token,
        )

    def close(self) -> None:
        self.client.close()
