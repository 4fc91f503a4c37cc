"""E-mail over SMTP against a real aiosmtpd server: message shape, connection reuse, errors,
DKIM signatures that verify."""

from __future__ import annotations

import smtplib

import pytest

from cvm.channels.base import OutgoingMessage
from cvm.channels.email_mime import build_email, encode_header
from cvm.channels.email_smtp import SmtpChannel, SmtpSettings, key_of_message_id
from tests.campaigns.smtp_sink import free_port, smtp_sink


def _message(key: str, to: str) -> OutgoingMessage:
    return OutgoingMessage(
        key=key, channel="email", to=to, subject="Весна — spring sale ✿",
        body="Plain text, ünïcode", html="<p>Hello <b>there</b></p>",
        meta={"headers": {"List-Unsubscribe": "<https://x.example/u/t>",
                          "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}},
    )  # fmt: skip


@pytest.mark.parametrize("pipelining", [True, False])
def test_messages_arrive_whole_over_one_connection(pipelining: bool) -> None:
    with smtp_sink() as (sink, port):
        sink.pipelining = pipelining
        channel = SmtpChannel(
            SmtpSettings(
                host="127.0.0.1", port=port, from_address="news@shop.example", from_name="Shöp"
            )
        )
        connects = 0
        original = channel._connect

        def counting() -> smtplib.SMTP:
            nonlocal connects
            connects += 1
            return original()

        channel._connect = counting  # type: ignore[method-assign]
        messages = [_message(f"key{i}", f"c{i}@example.com") for i in range(5)]
        messages[3] = OutgoingMessage("key3", "email", "c3@example.com", "s", ".dot\n..two\n", None)
        results = channel.send_many(messages)
        assert channel._smtp is not None and channel._smtp.has_extn("pipelining") == pipelining
        channel.close()
        assert [r.status for r in results] == ["sent"] * 5
        assert connects == 1  # reused for every message
        assert channel._smtp is None  # closed
        got = sink.snapshot()
        assert len(got) == 5
        first = got[0]
        assert first.message_id == "<key0@shop.example>" == results[0].provider_id
        assert key_of_message_id(first.message_id) == "key0"
        assert first.message["Subject"] == "Весна — spring sale ✿"
        assert "Shöp" in str(first.message["From"])
        assert first.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert first.part("plain").strip() == "Plain text, ünïcode"
        assert "<b>there</b>" in first.part("html")
        assert got[3].part("plain").replace("\r\n", "\n") == ".dot\n..two\n"  # dot-stuffed


@pytest.mark.parametrize("pipelining", [True, False])
def test_refused_recipient_is_a_hard_bounce_and_the_connection_survives(pipelining: bool) -> None:
    with smtp_sink() as (sink, port):
        sink.pipelining = pipelining
        sink.refuse.add("nobody@example.com")
        channel = SmtpChannel(SmtpSettings(host="127.0.0.1", port=port))
        bad, good = channel.send_many(
            [_message("a", "nobody@example.com"), _message("b", "ok@example.com")]
        )
        channel.close()
    assert bad.status == "permanent_error" and bad.bad_address and "550" in bad.detail
    assert good.status == "sent"


def test_server_down_is_temporary() -> None:
    channel = SmtpChannel(SmtpSettings(host="127.0.0.1", port=free_port(), timeout=2))
    assert channel.send(_message("a", "x@example.com")).status == "temporary_error"


@pytest.mark.parametrize("code, status", [(451, "temporary_error"), (554, "permanent_error")])
def test_reply_codes_classify(code: int, status: str) -> None:
    result = SmtpChannel._refused(code, b"reason", recipient=False)
    assert result.status == status and not result.bad_address


def test_headers_fold_long_non_ascii_subjects() -> None:
    value = encode_header("Ü" * 100)
    assert all(len(line) < 78 for line in value.split("\r\n"))
    data = build_email(
        message_id="<k@d>", sender="a@d", to="b@d", subject="Ü" * 100, text="x", html=None
    )
    import email
    import email.policy

    assert email.message_from_bytes(data, policy=email.policy.default)["Subject"] == "Ü" * 100


def test_dkim_signature_verifies() -> None:
    dkim = pytest.importorskip("dkim")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    import base64

    record = b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)
    channel = SmtpChannel(
        SmtpSettings(
            from_address="news@shop.example",
            dkim_selector="s1",
            dkim_domain="shop.example",
            dkim_private_key=private,
        )
    )
    data = channel.render(_message("k", "c@example.com"))
    assert data.startswith(b"DKIM-Signature:")
    assert dkim.verify(
        data,
        dnsfunc=lambda name, timeout=5: record if name == b"s1._domainkey.shop.example." else None,
    )
    tampered = (
        data.replace(b"Plain", b"Plane") if b"Plain" in data else data.replace(b"Hello", b"Jello")
    )
    assert not dkim.verify(tampered, dnsfunc=lambda name, timeout=5: record)
