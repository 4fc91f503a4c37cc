"""Logging that cannot leak personal data.

Every handler of the server process gets `RedactingFilter`: it renders the message, masks
anything shaped like an e-mail address or a phone number, drops query strings from request
lines (profile lookups carry ``?email=``), and renders tracebacks frame by frame without the
exception's text (a database error message can quote the values it was given).
"""

from __future__ import annotations

import logging
import re
import traceback

_EMAIL = re.compile(r"[^\s@\"'<>(),;:]+@[^\s@\"'<>(),;:]+\.[A-Za-z]{2,}")
_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")
_IPV4 = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")


def _mask_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = sum(ch.isdigit() for ch in text)
    # IPv4 addresses, dates and times look phone-ish; a phone has at least 8 digits.
    if digits < 8 or _IPV4.match(text.strip()) or re.search(r"\d{4}-\d{2}-\d{2}", text):
        return text
    return "<phone>"


_QUERY = re.compile(r"(\s/[^\s?\"]*)\?[^\s\"]*")


def redact(text: str) -> str:
    text = _QUERY.sub(r"\1?<redacted>", text)
    text = _EMAIL.sub("<email>", text)
    return _PHONE.sub(_mask_phone, text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not kill logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = ()
        if record.exc_info and record.exc_info[0] is not None:
            kind, _, tb = record.exc_info
            frames = "".join(traceback.format_tb(tb))
            record.exc_text = redact(f"Traceback (values withheld):\n{frames}{kind.__name__}")
            record.exc_info = None
        return True


def install_redaction(level: int = logging.INFO) -> None:
    """Put the filter on every handler of the root and uvicorn loggers (idempotent)."""
    root = logging.getLogger()
    if not root.handlers:
        handler: logging.Handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
    root.setLevel(level)
    for name in ("", "uvicorn", "uvicorn.error", "uvicorn.access", "fastapi"):
        for handler in logging.getLogger(name).handlers:
            if not any(isinstance(f, RedactingFilter) for f in handler.filters):
                handler.addFilter(RedactingFilter())
