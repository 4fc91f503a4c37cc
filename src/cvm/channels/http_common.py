"""What the HTTP providers share: one keep-alive client per channel, error classification,
and HMAC-SHA256 request signing (the generic webhook's ``X-Cvm-Signature``)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

import httpx

from cvm.channels.base import SendResult, classify_http, short

SIGNATURE_HEADER = "X-Cvm-Signature"


def make_client(timeout: float = 10.0) -> httpx.Client:
    # Keep-alive pool: a dispatch worker sends many messages over few connections.
    return httpx.Client(timeout=timeout, limits=httpx.Limits(max_keepalive_connections=4))


def sign_body(secret: str, body: bytes) -> str:
    """``sha256=<hex>`` over the raw body (the GitHub/Stripe-style webhook signature)."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, header: str | None) -> bool:
    return bool(header) and hmac.compare_digest(sign_body(secret, body), str(header))


def post(
    call: Callable[[], httpx.Response],
    read_id: Callable[[httpx.Response], str | None],
    bad_address: Callable[[httpx.Response], bool] = lambda _r: False,
) -> SendResult:
    """Run one request and turn its outcome into a `SendResult`."""
    try:
        response = call()
    except (httpx.TimeoutException, httpx.TransportError) as err:
        return SendResult("temporary_error", detail=f"{type(err).__name__}: {short(err)}")
    status = classify_http(response.status_code)
    if response.status_code == 401:
        # Our credentials, not the message: retried (with back-off) while someone fixes them.
        status = "temporary_error"
    if status == "sent":
        try:
            provider_id = read_id(response)
        except (ValueError, KeyError, TypeError):
            provider_id = None
        return SendResult("sent", provider_id=provider_id)
    detail = f"HTTP {response.status_code} {short(response.text)}"
    return SendResult(
        status, detail=detail, bad_address=status == "permanent_error" and bad_address(response)
    )
