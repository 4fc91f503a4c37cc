"""Which provider serves which channel, and how each is configured.

Channels cvm sends on, with the consent channel that governs each and where the address
comes from (a `customer_360` column or a trait):

| channel  | provider module | consent channel | address            |
| -------- | --------------- | --------------- | ------------------ |
| email    | email_smtp      | email           | email              |
| sms      | sms_http        | sms             | phone              |
| push     | push_http       | push            | traits.push_token  |
| telegram | telegram        | messenger       | traits.telegram_chat_id |
| whatsapp | webhook         | messenger       | phone              |
| viber    | webhook         | messenger       | phone              |

Secrets may be given inline or, better, as the name of an environment variable
(``password_env``, ``auth_token_env``, …), read when the channel is opened.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from cvm.channels.base import Channel
from cvm.channels.email_smtp import SmtpChannel, SmtpSettings
from cvm.channels.push_http import PushHttpChannel, PushSettings
from cvm.channels.sms_http import SmsHttpChannel, SmsSettings
from cvm.channels.telegram import TelegramChannel, TelegramSettings
from cvm.channels.webhook import WebhookChannel, WebhookSettings

CHANNELS: tuple[str, ...] = ("email", "sms", "push", "telegram", "whatsapp", "viber")
CONSENT_CHANNEL: dict[str, str] = {
    "email": "email", "sms": "sms", "push": "push",
    "telegram": "messenger", "whatsapp": "messenger", "viber": "messenger",
}  # fmt: skip
ADDRESS_FIELD: dict[str, str] = {
    "email": "email", "sms": "phone", "push": "traits.push_token",
    "telegram": "traits.telegram_chat_id", "whatsapp": "phone", "viber": "phone",
}  # fmt: skip


def _secret(inline: str | None, env: str | None) -> str:
    if env:
        return os.environ.get(env, "")
    return inline or ""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rate_per_second: float = Field(100.0, gt=0, description="Token-bucket rate per process.")
    burst: int = Field(50, ge=1)


class EmailConfig(_Section):
    host: str = "localhost"
    port: int = 25
    security: str = Field("none", pattern="^(none|starttls|tls)$")
    username: str | None = None
    password: str | None = None
    password_env: str | None = None
    from_address: str = "marketing@example.com"
    from_name: str | None = None
    reply_to: str | None = None
    timeout: float = 30.0
    verify_tls: bool = True
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_key_file: str | None = None


class SmsConfig(_Section):
    base_url: str = "https://api.twilio.com"
    account_sid: str = ""
    auth_token: str | None = None
    auth_token_env: str | None = None
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None


class PushConfig(_Section):
    base_url: str = "https://fcm.googleapis.com"
    project_id: str = ""
    access_token: str | None = None
    access_token_env: str | None = None


class TelegramConfig(_Section):
    base_url: str = "https://api.telegram.org"
    bot_token: str | None = None
    bot_token_env: str | None = None
    parse_mode: str | None = None


class WebhookConfig(_Section):
    url: str = ""
    secret: str | None = None
    secret_env: str | None = None


class ChannelsConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    email: EmailConfig = Field(default_factory=lambda: EmailConfig())
    sms: SmsConfig = Field(default_factory=lambda: SmsConfig())
    push: PushConfig = Field(default_factory=lambda: PushConfig())
    telegram: TelegramConfig = Field(default_factory=lambda: TelegramConfig())
    whatsapp: WebhookConfig = Field(default_factory=lambda: WebhookConfig())
    viber: WebhookConfig = Field(default_factory=lambda: WebhookConfig())

    def section(self, channel: str) -> _Section:
        value = getattr(self, channel)
        assert isinstance(value, _Section)
        return value


def open_channel(channel: str, config: ChannelsConfig, root: Path | None = None) -> Channel:
    """A new provider client for ``channel`` (each dispatch worker opens its own)."""
    match channel:
        case "email":
            e = config.email
            key = None
            if e.dkim_key_file:
                path = Path(e.dkim_key_file)
                key = (path if path.is_absolute() or root is None else root / path).read_bytes()
            return SmtpChannel(
                SmtpSettings(
                    host=e.host, port=e.port, security=e.security, username=e.username,
                    password=_secret(e.password, e.password_env), from_address=e.from_address,
                    from_name=e.from_name, reply_to=e.reply_to, timeout=e.timeout,
                    dkim_selector=e.dkim_selector, dkim_domain=e.dkim_domain,
                    dkim_private_key=key, verify_tls=e.verify_tls,
                )
            )  # fmt: skip
        case "sms":
            s = config.sms
            return SmsHttpChannel(
                SmsSettings(
                    base_url=s.base_url, account_sid=s.account_sid,
                    auth_token=_secret(s.auth_token, s.auth_token_env),
                    from_number=s.from_number, messaging_service_sid=s.messaging_service_sid,
                    status_callback=s.status_callback,
                )
            )  # fmt: skip
        case "push":
            p = config.push
            return PushHttpChannel(
                PushSettings(
                    base_url=p.base_url, project_id=p.project_id,
                    access_token=_secret(p.access_token, p.access_token_env),
                )
            )  # fmt: skip
        case "telegram":
            t = config.telegram
            return TelegramChannel(
                TelegramSettings(
                    base_url=t.base_url, bot_token=_secret(t.bot_token, t.bot_token_env),
                    parse_mode=t.parse_mode,
                )
            )  # fmt: skip
        case "whatsapp" | "viber":
            w = config.whatsapp if channel == "whatsapp" else config.viber
            return WebhookChannel(
                WebhookSettings(url=w.url, secret=_secret(w.secret, w.secret_env)), channel
            )
    raise ValueError(f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}")
