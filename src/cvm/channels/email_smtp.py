"""E-mail over SMTP (smtplib): plain, STARTTLS or implicit TLS, optional AUTH and DKIM.

One connection is kept open per channel instance (one per dispatch worker) and reused for
every message: a new TCP + EHLO (+ TLS + AUTH) handshake per message would cost more than the
message. When the server offers PIPELINING (RFC 2920; Postfix and most relays do) the
envelope commands go in one write, halving the round trips per message. The idempotency key is the Message-ID (``<key@domain>``), so a message resent after a
crash between the server's ``250`` and our commit carries the same Message-ID as the first
copy; receivers (and the end-to-end test) recognise it.

Errors: 4xx replies and connection failures are temporary; a 5xx reply to RCPT (no such
user, bad domain) is a hard bounce (permanent, address suppressed); other 5xx are permanent.
Asynchronous bounces and complaints come back through `parse_callback` (a JSON webhook of the
form ``{"events": [{"type": "bounced", "message_id": "<…>", "email": "…", "permanent": true}]}``,
the shape most relays can be configured to post).
"""

from __future__ import annotations

import json
import re
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from cvm.channels.base import (
    BaseChannel,
    DeliveryEvent,
    OutgoingMessage,
    SendResult,
    short,
    utc_now,
)
from cvm.channels.email_mime import address, build_email, dkim_sign

_DOT_LINE = re.compile(rb"(?m)^\.")  # dot-stuffing (RFC 5321 4.5.2)


@dataclass
class SmtpSettings:
    host: str = "localhost"
    port: int = 25
    security: str = "none"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    from_address: str = "marketing@example.com"
    from_name: str | None = None
    reply_to: str | None = None
    timeout: float = 30.0
    dkim_selector: str | None = None
    dkim_domain: str | None = None
    dkim_private_key: bytes | None = field(default=None, repr=False)
    verify_tls: bool = True

    @property
    def domain(self) -> str:
        return self.from_address.rpartition("@")[2] or "localhost"


def message_id(key: str, domain: str) -> str:
    return f"<{key}@{domain}>"


def key_of_message_id(value: str) -> str | None:
    inner = value.strip().strip("<>")
    return inner.partition("@")[0] or None


class SmtpChannel(BaseChannel):
    provider = "smtp"

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings
        self.sender = address(settings.from_name, settings.from_address)
        self._smtp: smtplib.SMTP | None = None

    # -- connection -------------------------------------------------------------------------
    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context()
        if not s.verify_tls:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        smtp: smtplib.SMTP
        if s.security == "tls":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        smtp.ehlo()
        if s.security == "starttls":
            smtp.starttls(context=context)
            smtp.ehlo()
        if s.username:
            smtp.login(s.username, s.password or "")
        return smtp

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                self._smtp.close()
            self._smtp = None

    # -- sending ----------------------------------------------------------------------------
    def render(self, message: OutgoingMessage) -> bytes:
        """The message bytes: headers (List-Unsubscribe from meta), text and HTML parts."""
        headers: list[tuple[str, str]] = []
        if self.settings.reply_to:
            headers.append(("Reply-To", self.settings.reply_to))
        for name, value in (message.meta.get("headers") or {}).items():
            headers.append((str(name), str(value)))
        data = build_email(
            message_id=message_id(message.key, self.settings.domain),
            sender=self.sender,
            to=message.to,
            subject=message.subject or "",
            text=message.body,
            html=message.html,
            headers=headers,
        )
        s = self.settings
        if s.dkim_selector and s.dkim_domain and s.dkim_private_key:
            data = dkim_sign(data, s.dkim_selector, s.dkim_domain, s.dkim_private_key)
        return data

    def send(self, message: OutgoingMessage) -> SendResult:
        return self.send_many([message])[0]

    def send_many(self, messages: Sequence[OutgoingMessage]) -> list[SendResult]:
        results: list[SendResult] = []
        for message in messages:
            results.append(self._send_one(message, retry_connection=True))
        return results

    def _send_one(self, message: OutgoingMessage, retry_connection: bool) -> SendResult:
        try:
            data = self.render(message)
        except Exception as err:  # a message we cannot build will never go
            return SendResult("permanent_error", detail=f"cannot build message: {short(err)}")
        try:
            if self._smtp is None:
                self._smtp = self._connect()
            if self._smtp.has_extn("pipelining"):
                return self._pipelined(self._smtp, message, data)
            self._smtp.sendmail(self.settings.from_address, [message.to], data)
            return SendResult("sent", provider_id=message_id(message.key, self.settings.domain))
        except smtplib.SMTPRecipientsRefused as err:
            code, reply = next(iter(err.recipients.values()))
            return self._refused(code, reply, recipient=True)
        except (smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as err:
            self._reset()
            return self._refused(err.smtp_code, err.smtp_error, recipient=False)
        except smtplib.SMTPServerDisconnected as err:
            self._drop()
            if retry_connection:  # the server closed an idle connection: one fresh try
                return self._send_one(message, retry_connection=False)
            return SendResult("temporary_error", detail=f"disconnected: {short(err)}")
        except smtplib.SMTPResponseException as err:
            self._drop()
            return self._refused(err.smtp_code, err.smtp_error, recipient=False)
        except (smtplib.SMTPException, OSError) as err:
            self._drop()
            return SendResult("temporary_error", detail=f"{type(err).__name__}: {short(err)}")

    def _pipelined(self, smtp: smtplib.SMTP, message: OutgoingMessage, data: bytes) -> SendResult:
        """RFC 2920: MAIL, RCPT and DATA in one write, their three replies read together, then
        the content: two round trips per message instead of four."""
        smtp.send(f"MAIL FROM:<{self.settings.from_address}>\r\nRCPT TO:<{message.to}>\r\nDATA\r\n")
        replies = [smtp.getreply() for _ in range(3)]
        (mail_code, mail_reply), (rcpt_code, rcpt_reply), (data_code, _) = replies
        if data_code != 354:
            self._reset()
            if mail_code != 250:
                return self._refused(mail_code, mail_reply, recipient=False)
            if rcpt_code not in (250, 251):
                return self._refused(rcpt_code, rcpt_reply, recipient=True)
            return self._refused(data_code, b"DATA refused", recipient=False)
        body = _DOT_LINE.sub(b"..", data)
        if not body.endswith(b"\r\n"):
            body += b"\r\n"
        smtp.send(body + b".\r\n")
        code, reply = smtp.getreply()
        if code != 250:
            return self._refused(code, reply, recipient=False)
        return SendResult("sent", provider_id=message_id(message.key, self.settings.domain))

    @staticmethod
    def _refused(code: int, reply: bytes | str, recipient: bool) -> SendResult:
        text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
        detail = f"SMTP {code} {short(text)}"
        if 400 <= code < 500:
            return SendResult("temporary_error", detail=detail)
        return SendResult("permanent_error", detail=detail, bad_address=recipient)

    def _reset(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.rset()
            except (smtplib.SMTPException, OSError):
                self._drop()

    def _drop(self) -> None:
        if self._smtp is not None:
            self._smtp.close()
            self._smtp = None

    # -- callbacks --------------------------------------------------------------------------
    def parse_callback(self, body: bytes, headers: Mapping[str, str]) -> list[DeliveryEvent]:
        data = json.loads(body or b"{}")
        items = data.get("events", [data]) if isinstance(data, dict) else data
        out: list[DeliveryEvent] = []
        for item in items:
            kind = str(item.get("type", "")).lower()
            if kind not in ("delivered", "bounced", "failed", "complained", "opened", "clicked"):
                continue
            mid = str(item.get("message_id") or "")
            out.append(
                DeliveryEvent(
                    kind=kind,  # type: ignore[arg-type]
                    provider_id=mid or None,
                    message_key=key_of_message_id(mid) if mid else None,
                    address=item.get("email"),
                    occurred_at=utc_now(),
                    detail=short(item.get("reason", "")),
                    permanent=bool(item.get("permanent", kind == "bounced")),
                )
            )
        return out
