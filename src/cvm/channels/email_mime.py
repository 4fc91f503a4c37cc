"""Build RFC 5322 / MIME message bytes fast (no `email.message` object per message).

At hundreds of messages a second the standard library's policy-driven message objects cost
more than the SMTP round trips, so the few shapes we send are written directly: headers with
RFC 2047 encoded-words when not ASCII, ``multipart/alternative`` (text + HTML) with each part
7bit when it is short-lined ASCII and base64 otherwise. DKIM signing (RFC 6376), when
configured, uses `dkimpy` over the finished bytes.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from email.utils import format_datetime, formataddr

CRLF = "\r\n"
_ENCODED_CHUNK = 45  # bytes of UTF-8 per encoded-word: 60 base64 characters, under 75


def encode_header(value: str) -> str:
    """The value as is when it is plain ASCII, else RFC 2047 base64 encoded-words."""
    if value.isascii() and "\n" not in value and "\r" not in value and len(value) < 900:
        return value
    words: list[str] = []
    chunk = b""
    for char in value.replace("\r", " ").replace("\n", " "):
        encoded = char.encode("utf-8")
        if len(chunk) + len(encoded) > _ENCODED_CHUNK:
            words.append(chunk.decode("utf-8"))
            chunk = b""
        chunk += encoded
    if chunk:
        words.append(chunk.decode("utf-8"))
    return (CRLF + " ").join(
        "=?utf-8?b?" + base64.b64encode(w.encode("utf-8")).decode("ascii") + "?=" for w in words
    )


def address(name: str | None, email: str) -> str:
    return formataddr((name, email), charset="utf-8") if name else email


def _part(content_type: str, text: str) -> str:
    if text.isascii() and all(len(line) < 990 for line in text.splitlines()):
        body = CRLF.join(text.splitlines())
        encoding = "7bit"
    else:
        body = base64.encodebytes(text.encode("utf-8")).decode("ascii").replace("\n", CRLF)
        encoding = "base64"
    return (
        f"Content-Type: {content_type}; charset=utf-8{CRLF}"
        f"Content-Transfer-Encoding: {encoding}{CRLF}{CRLF}{body}"
    )


def build_email(
    *,
    message_id: str,
    sender: str,
    to: str,
    subject: str,
    text: str | None,
    html: str | None,
    headers: Mapping[str, str] | Sequence[tuple[str, str]] = (),
    date: datetime | None = None,
) -> bytes:
    """The whole message as bytes with CRLF line ends, ready for SMTP DATA."""
    when = (
        (date or datetime.now(UTC)).replace(tzinfo=UTC)
        if date is None or date.tzinfo is None
        else date
    )
    lines = [
        f"From: {sender}",
        f"To: {to}",
        f"Subject: {encode_header(subject)}",
        f"Date: {format_datetime(when)}",
        f"Message-ID: {message_id}",
        "MIME-Version: 1.0",
    ]
    extra = headers.items() if isinstance(headers, Mapping) else headers
    lines += [f"{name}: {encode_header(value)}" for name, value in extra]
    parts = [p for p in (("text/plain", text), ("text/html", html)) if p[1] is not None]
    if not parts:
        parts = [("text/plain", "")]
    if len(parts) == 1:
        head = CRLF.join(lines)
        return (head + CRLF + _part(parts[0][0], parts[0][1] or "") + CRLF).encode("utf-8")
    boundary = "=_cvm_" + message_id.strip("<>").replace("@", "_")
    lines.append(f'Content-Type: multipart/alternative; boundary="{boundary}"')
    body = "".join(f"--{boundary}{CRLF}{_part(ct, t or '')}{CRLF}" for ct, t in parts)
    return (CRLF.join(lines) + CRLF + CRLF + body + f"--{boundary}--{CRLF}").encode("utf-8")


SIGNED_HEADERS = (
    b"from", b"to", b"subject", b"date", b"message-id", b"mime-version",
    b"list-unsubscribe", b"list-unsubscribe-post",
)  # fmt: skip


def dkim_sign(message: bytes, selector: str, domain: str, private_key: bytes) -> bytes:
    """Prepend a DKIM-Signature (rsa-sha256, relaxed/relaxed) to ``message``."""
    import dkim  # dkimpy: imported only when signing is configured

    signature = dkim.sign(
        message,
        selector.encode(),
        domain.encode(),
        private_key,
        canonicalize=(b"relaxed", b"relaxed"),
        include_headers=list(SIGNED_HEADERS),
    )
    return bytes(signature) + message
