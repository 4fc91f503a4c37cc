"""Who is asking, and may they: session cookies, roles and CSRF checks for every page.

The session cookie holds a random id (its SHA-256 is stored; `cvm.state.users`); it is
HttpOnly, SameSite=Lax, and Secure when the request came over https (directly or through a
proxy that says so). Every POST needs a signed-in user with the route's role and the session's
CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``, which htmx sends), so a
forged form from another site is refused even when the browser adds the cookie.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, Response

from cvm.state.users import Session, find_session

COOKIE = "cvm_session"
LOGIN_COOKIE = "cvm_login_csrf"


class LoginRequired(Exception):
    """Raised for pages that need a session; answered with a redirect to the login page."""


def is_https(request: Request) -> bool:
    proto = request.headers.get("x-forwarded-proto", request.url.scheme)
    return proto.split(",")[0].strip().lower() == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name, value, max_age=max_age, httponly=True, samesite="lax",
        secure=is_https(request), path="/",
    )  # fmt: skip


def current_session(request: Request) -> Session | None:
    cached = getattr(request.state, "ui_session", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    session_id = request.cookies.get(COOKIE)
    if not session_id:
        return None
    session = find_session(request.app.state.services.workspace.state, session_id)
    request.state.ui_session = session
    return session


async def submitted_token(request: Request) -> str:
    header = request.headers.get("x-csrf-token")
    if header:
        return header
    if request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        form = await request.form()
        value = form.get("csrf_token")
        return value if isinstance(value, str) else ""
    return ""


def require(role: str) -> Callable[[Request], Coroutine[Any, Any, Session]]:
    """A dependency: the session of a user with at least ``role``; POSTs also need CSRF."""

    async def dependency(request: Request) -> Session:
        session = current_session(request)
        if session is None:
            if request.method == "GET":
                raise LoginRequired()
            raise HTTPException(401, "sign in first")
        if not session.user.can(role):
            raise HTTPException(403, f"this needs the {role} role; you are a {session.user.role}")
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            token = await submitted_token(request)
            if not token or not hmac.compare_digest(token, session.csrf_token):
                raise HTTPException(403, "the form's CSRF token is missing or wrong; reload")
        return session

    return dependency


Viewer = Annotated[Session, Depends(require("viewer"))]
Marketer = Annotated[Session, Depends(require("marketer"))]
Admin = Annotated[Session, Depends(require("admin"))]
