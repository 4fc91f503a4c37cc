"""Signed tracking links: open pixel, click redirect, unsubscribe.

A token is ``base64url(fields joined by U+001F) "." base64url(HMAC-SHA256(secret, kind "."
body))``, the tag truncated to 128 bits. The payload carries the message key, and for a click the target URL
itself, so the redirect goes only where the signed message said: a tampered or foreign token
fails verification (the API answers 404) and there is no open redirect. The kind is part of the
signed text, so an open token cannot be replayed as an unsubscribe. The secret is a workspace
secret in the state store (`cvm.state.campaign_store.workspace_secret`), shared by the
processes that sign (render) and verify (API).

URLs: ``{base}/t/o/{token}.gif`` (open), ``{base}/t/c/{token}`` (click), ``{base}/u/{token}``
(unsubscribe page and RFC 8058 one-click POST).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any

_HREF = re.compile(r"""(<a\b[^>]*?\bhref\s*=\s*)(["'])(https?://[^"']+)\2""", re.IGNORECASE)
TAG_BYTES = 16


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


_FIELDS = {"o": ("k",), "c": ("k", "u"), "u": ("k", "c", "ch", "p")}
_SEP = "\x1f"  # unit separator: cannot occur in keys, ids, channel names or URLs


@dataclass
class LinkSigner:
    secret: bytes
    base_url: str

    def sign(self, kind: str, payload: dict[str, Any]) -> str:
        return self._sign(kind, _SEP.join(str(payload[f]) for f in _FIELDS[kind]))

    def _sign(self, kind: str, text: str) -> str:
        # Fields joined by a separator, not JSON, and one-shot HMAC: a million messages sign
        # four links each.
        body = _b64(text.encode())
        tag = hmac.digest(self.secret, f"{kind}.{body}".encode(), "sha256")
        return f"{body}.{_b64(tag[:TAG_BYTES])}"

    def verify(self, kind: str, token: str) -> dict[str, Any] | None:
        """The payload, or None when the token was not signed by us for this kind."""
        body, _, tag = token.partition(".")
        if not body or not tag or kind not in _FIELDS:
            return None
        expected = hmac.new(self.secret, f"{kind}.{body}".encode(), hashlib.sha256).digest()
        # Compared as text: base64's spare bits would let two spellings decode to one tag.
        if not hmac.compare_digest(tag.encode(), _b64(expected[:TAG_BYTES]).encode()):
            return None
        try:
            parts = _unb64(body).decode("utf-8").split(_SEP)
        except (ValueError, UnicodeDecodeError):
            return None
        names = _FIELDS[kind]
        return dict(zip(names, parts, strict=True)) if len(parts) == len(names) else None

    @cached_property
    def _base(self) -> str:
        return self.base_url.rstrip("/")

    def open_url(self, key: str) -> str:
        return f"{self._base}/t/o/{self._sign('o', key)}.gif"

    def click_url(self, key: str, url: str) -> str:
        return f"{self._base}/t/c/{self._sign('c', key + _SEP + url)}"

    def unsubscribe_url(self, key: str, customer_id: str, channel: str, purpose: str) -> str:
        token = self._sign("u", _SEP.join((key, customer_id, channel, purpose)))
        return f"{self._base}/u/{token}"


def rewrite_links(html: str, signer: LinkSigner, key: str) -> str:
    """Route every http(s) link through the click redirect (our own links stay as they are)."""
    own = signer._base

    def swap(match: re.Match[str]) -> str:
        url = match.group(3)
        if url.startswith(own):
            return match.group(0)
        quote = match.group(2)
        return f"{match.group(1)}{quote}{signer.click_url(key, url.replace('&amp;', '&'))}{quote}"

    return _HREF.sub(swap, html)


def add_open_pixel(html: str, url: str) -> str:
    pixel = f'<img src="{url}" width="1" height="1" alt="" style="display:none">'
    return _before_body_end(html, pixel)


def _before_body_end(html: str, snippet: str) -> str:
    end = max(html.rfind("</body"), html.rfind("</BODY"), html.rfind("</Body"))
    return html + snippet if end < 0 else html[:end] + snippet + html[end:]


def ensure_unsubscribe_html(html: str, url: str) -> str:
    """Every marketing e-mail shows an unsubscribe link; add a footer when the template has none."""
    if url in html:
        return html
    footer = f'<p style="font-size:12px;color:#888"><a href="{url}">Unsubscribe</a></p>'
    return _before_body_end(html, footer)


def ensure_unsubscribe_text(text: str, url: str) -> str:
    return text if url in text else f"{text.rstrip()}\n\nUnsubscribe: {url}\n"


def unsubscribe_headers(url: str, mailto: str | None = None) -> dict[str, str]:
    """RFC 2369 List-Unsubscribe and RFC 8058 one-click (the URL answers a POST)."""
    targets = f"<{url}>" + (f", <mailto:{mailto}?subject=unsubscribe>" if mailto else "")
    return {"List-Unsubscribe": targets, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


PIXEL_GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
