"""Telegram through the Bot API: ``POST {base_url}/bot{token}/sendMessage`` with JSON
``{"chat_id", "text"}``; the answer is ``{"ok": true, "result": {"message_id": …}}``.

``403`` (the user blocked the bot) and ``400 chat not found`` make the chat id permanently
unusable (suppressed); ``429`` (with ``retry_after``) and ``5xx`` are retried. The Bot API has
no idempotency key and no delivery receipts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cvm.channels.base import BaseChannel, OutgoingMessage, SendResult
from cvm.channels.http_common import make_client, post


@dataclass
class TelegramSettings:
    base_url: str = "https://api.telegram.org"
    bot_token: str = field(default="", repr=False)
    parse_mode: str | None = None  # "HTML" or "MarkdownV2"
    timeout: float = 10.0


class TelegramChannel(BaseChannel):
    provider = "telegram"

    def __init__(self, settings: TelegramSettings) -> None:
        self.settings = settings
        self.client = make_client(settings.timeout)

    def send(self, message: OutgoingMessage) -> SendResult:
        s = self.settings
        payload: dict[str, object] = {"chat_id": message.to, "text": message.body or ""}
        if s.parse_mode:
            payload["parse_mode"] = s.parse_mode
        url = f"{s.base_url.rstrip('/')}/bot{s.bot_token}/sendMessage"

        def blocked(response: object) -> bool:
            code = response.status_code  # type: ignore[attr-defined]
            text = response.text.lower()  # type: ignore[attr-defined]
            return code == 403 or "chat not found" in text

        return post(
            lambda: self.client.post(url, json=payload),
            lambda r: str(r.json()["result"]["message_id"]),
            blocked,
        )

    def close(self) -> None:
        self.client.close()
