"""SMS (Twilio-style), push (FCM v1), Telegram and the signed webhook against protocol fakes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest

from cvm.channels.base import OutgoingMessage, SendResult
from cvm.channels.http_common import sign_body
from cvm.channels.push_http import PushHttpChannel, PushSettings
from cvm.channels.sms_http import SmsHttpChannel, SmsSettings, twilio_signature
from cvm.channels.telegram import TelegramChannel, TelegramSettings
from cvm.channels.webhook import WebhookChannel, WebhookSettings
from tests.campaigns.smtp_sink import free_port
from tests.channels.fakes import BEARER, BOT, SECRET, SID, TOKEN, FakeState, provider_fake


@pytest.fixture(scope="module")
def fake() -> Iterator[tuple[str, FakeState]]:
    with provider_fake() as running:
        yield running


def msg(to: str, key: str = "k1", channel: str = "sms") -> OutgoingMessage:
    return OutgoingMessage(key=key, channel=channel, to=to, subject="Title", body="Hello")


def outcomes(channel: object, keys: dict[str, str]) -> dict[str, SendResult]:
    return {to: channel.send(msg(to, key=k)) for to, k in keys.items()}  # type: ignore[attr-defined]


def test_sms_statuses_and_idempotency(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    sms = SmsHttpChannel(
        SmsSettings(base_url=url, account_sid=SID, auth_token=TOKEN, from_number="+15550000")
    )
    got = outcomes(sms, {"+15551234": "a", "busy": "b", "boom": "c", "bad": "d"})
    assert got["+15551234"].status == "sent" and got["+15551234"].provider_id.startswith("SM")  # type: ignore[union-attr]
    assert got["busy"].status == "temporary_error" and got["boom"].status == "temporary_error"
    assert got["bad"].status == "permanent_error" and got["bad"].bad_address
    again = sms.send(msg("+15551234", key="a"))  # a resend after a crash: same key, same sid
    assert again.provider_id == got["+15551234"].provider_id
    wrong = SmsHttpChannel(SmsSettings(base_url=url, account_sid=SID, auth_token="nope"))
    assert wrong.send(msg("+15551234")).status == "temporary_error"  # credentials: retried
    form = [r for r in state.requests if "Messages.json" in r["path"]][0]["body"].decode()
    assert "To=%2B15551234" in form and "Body=Hello" in form


def test_sms_status_callback_is_verified() -> None:
    sms = SmsHttpChannel(SmsSettings(account_sid=SID, auth_token=TOKEN))
    params = {
        "MessageSid": "SM1",
        "MessageStatus": "undelivered",
        "ErrorCode": "30005",
        "To": "+1555",
    }
    url = "https://cvm.example/v1/callbacks/twilio"
    headers = {"x-cvm-request-url": url, "x-twilio-signature": twilio_signature(TOKEN, url, params)}
    (event,) = sms.parse_callback(urlencode(params).encode(), headers)
    assert event.kind == "bounced" and event.permanent and event.provider_id == "SM1"
    headers["x-twilio-signature"] = "forged"
    assert sms.parse_callback(urlencode(params).encode(), headers) == []
    delivered = {**params, "MessageStatus": "delivered", "ErrorCode": ""}
    headers["x-twilio-signature"] = twilio_signature(TOKEN, url, delivered)
    assert [e.kind for e in sms.parse_callback(urlencode(delivered).encode(), headers)] == [
        "delivered"
    ]


def test_push_fcm_v1(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    push = PushHttpChannel(PushSettings(base_url=url, project_id="shop", access_token=BEARER))
    got = outcomes(push, {"tok-1": "a", "busy": "b", "boom": "c", "dead": "d"})
    assert got["tok-1"].status == "sent" and got["tok-1"].provider_id.startswith(
        "projects/p/messages/"
    )  # type: ignore[union-attr]
    assert got["busy"].status == "temporary_error" and got["boom"].status == "temporary_error"
    assert got["dead"].status == "permanent_error" and got["dead"].bad_address
    sent = [r for r in state.requests if r["path"].endswith("messages:send")][0]
    body = json.loads(sent["body"])["message"]
    assert body["token"] == "tok-1" and body["notification"] == {"title": "Title", "body": "Hello"}
    assert body["data"]["cvm_key"] == "a"
    expired = PushHttpChannel(PushSettings(base_url=url, project_id="shop", access_token="old"))
    assert expired.send(msg("tok-1")).status == "temporary_error"


def test_telegram_bot_api(fake: tuple[str, FakeState]) -> None:
    url, _ = fake
    bot = TelegramChannel(TelegramSettings(base_url=url, bot_token=BOT))
    got = outcomes(bot, {"12345": "a", "flood": "b", "blocked": "c"})
    assert got["12345"].status == "sent" and got["12345"].provider_id
    assert got["flood"].status == "temporary_error"
    assert got["blocked"].status == "permanent_error" and got["blocked"].bad_address


def test_signed_webhook_and_its_callbacks(fake: tuple[str, FakeState]) -> None:
    url, state = fake
    hook = WebhookChannel(WebhookSettings(url=url + "/hook", secret=SECRET), "whatsapp")
    got = outcomes(hook, {"+4911": "a", "boom": "b", "gone": "c"})
    assert got["+4911"].status == "sent" and got["+4911"].provider_id
    assert hook.send(msg("+4911", key="a")).provider_id == got["+4911"].provider_id  # deduplicated
    assert got["boom"].status == "temporary_error"
    assert got["gone"].status == "permanent_error" and got["gone"].bad_address
    unsigned = WebhookChannel(WebhookSettings(url=url + "/hook", secret="wrong"), "viber")
    assert unsigned.send(msg("+4911")).status == "temporary_error"  # refused signature: 401
    body = json.dumps({"events": [{"type": "delivered", "id": "a"}, {"type": "nonsense"}]}).encode()
    (event,) = hook.parse_callback(body, {"X-Cvm-Signature": sign_body(SECRET, body)})
    assert event.kind == "delivered" and event.message_key == "a"
    assert hook.parse_callback(body, {"X-Cvm-Signature": "sha256=00"}) == []


def test_unreachable_provider_is_a_temporary_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for channel in (
        SmsHttpChannel(SmsSettings(base_url=url, account_sid=SID, auth_token=TOKEN, timeout=2)),
        PushHttpChannel(PushSettings(base_url=url, project_id="p", access_token=BEARER, timeout=2)),
        TelegramChannel(TelegramSettings(base_url=url, bot_token=BOT, timeout=2)),
        WebhookChannel(WebhookSettings(url=url + "/hook", secret=SECRET, timeout=2)),
    ):
        assert channel.send(msg("x")).status == "temporary_error"
