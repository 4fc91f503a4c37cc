"""Tracking and feedback endpoints (no API key: the signed token is the credential).

* ``GET /t/o/{token}.gif`` — open pixel (a 1×1 GIF; 404 for a token we did not sign);
* ``GET /t/c/{token}`` — click: 302 to the URL inside the signed token, never elsewhere;
* ``GET /u/{token}`` and ``POST /u/{token}`` — unsubscribe at once (the POST is RFC 8058's
  one-click, sent by mail clients from the ``List-Unsubscribe-Post`` header);
* ``POST /v1/callbacks/{provider}`` — delivery reports: ``twilio`` (checked against the
  ``X-Twilio-Signature``), ``whatsapp`` / ``viber`` (``X-Cvm-Signature``), ``email`` (the
  relay's JSON, with an admin key).
"""

from __future__ import annotations

import html
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cvm.api.deps import authorize, key_from_header
from cvm.campaigns.feedback import Feedback
from cvm.campaigns.tracking import PIXEL_GIF
from cvm.channels.registry import open_channel
from cvm.core.errors import NotFoundError, UserInputError

router = APIRouter(tags=["tracking"])
PROVIDERS = {"twilio": "sms", "sms": "sms", "whatsapp": "whatsapp", "viber": "viber",
             "email": "email", "smtp": "email", "push": "push", "telegram": "telegram"}  # fmt: skip
NO_CACHE = {"Cache-Control": "no-store, max-age=0"}


def _feedback(request: Request) -> Feedback:
    feedback: Feedback = request.app.state.feedback
    return feedback


@router.get("/t/o/{token}.gif", include_in_schema=False)
def opened(token: str, request: Request) -> Response:
    if not _feedback(request).opened(token):
        raise NotFoundError("unknown tracking token")
    return Response(PIXEL_GIF, media_type="image/gif", headers=NO_CACHE)


@router.get("/t/c/{token}", include_in_schema=False)
def clicked(token: str, request: Request) -> RedirectResponse:
    url = _feedback(request).clicked(token)
    if url is None:
        raise NotFoundError("unknown tracking token")
    return RedirectResponse(url, status_code=302, headers=NO_CACHE)


def _page(title: str, text: str, status: int = 200) -> HTMLResponse:
    body = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"</head><body style='font-family:sans-serif;max-width:36em;margin:3em auto'>"
            f"<h1>{html.escape(title)}</h1><p>{html.escape(text)}</p></body></html>")  # fmt: skip
    return HTMLResponse(body, status_code=status, headers=NO_CACHE)


def _unsubscribe(token: str, request: Request) -> HTMLResponse:
    done = _feedback(request).unsubscribe(token)
    if done is None:
        return _page("Link not valid", "This unsubscribe link is not valid.", 404)
    what = "messages" if done["channel"] == "all" else f"{done['channel']} messages"
    return _page("You are unsubscribed", f"You will get no more {done['purpose']} {what} from us.")


@router.get("/u/{token}", include_in_schema=False)
def unsubscribe_link(token: str, request: Request) -> HTMLResponse:
    return _unsubscribe(token, request)


@router.post("/u/{token}", include_in_schema=False)
def unsubscribe_one_click(token: str, request: Request) -> HTMLResponse:
    return _unsubscribe(token, request)


@router.post("/v1/callbacks/{provider}", tags=["campaigns"], summary="Provider delivery reports")
async def callback(provider: str, request: Request) -> dict[str, Any]:
    channel = PROVIDERS.get(provider)
    if channel is None:
        raise UserInputError(f"unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
    if channel == "email":
        services = request.app.state.services
        authorize(services, key_from_header(request.headers.get("authorization")), "admin")
    body = await request.body()
    headers = {k.lower(): v for k, v in request.headers.items()}
    headers["x-cvm-request-url"] = str(request.url)
    client = open_channel(channel, request.app.state.campaign_settings)
    try:
        events = client.parse_callback(body, headers)
    finally:
        client.close()
    return {"received": len(events), "matched": _feedback(request).apply(channel, events)}
