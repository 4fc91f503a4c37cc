"""Login and logout. The login form has its own CSRF token (double-submit cookie), since
there is no session yet to hold one."""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from cvm.state.audit import record_change
from cvm.state.users import (
    SESSION_LIFETIME,
    LoginRefused,
    authenticate,
    create_session,
    end_session,
)
from cvm.ui.auth import COOKIE, LOGIN_COOKIE, Viewer, set_cookie
from cvm.ui.templating import render

router = APIRouter(prefix="/ui", include_in_schema=False)


def _safe_next(target: str | None) -> str:
    # Only local dashboard paths: an open redirect would make phishing links look like ours.
    if target and target.startswith("/ui/") and not target.startswith("//"):
        return target
    return "/ui/"


def _login_page(request: Request, error: str | None, next_: str, status: int = 200) -> Response:
    token = secrets.token_urlsafe(24)
    response = render(
        request, "login.html", status_code=status, login_token=token, error=error, next=next_
    )
    set_cookie(request, response, LOGIN_COOKIE, token, 3600)
    return response


@router.get("/login")
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, None, _safe_next(next))


@router.post("/login")
def login(
    request: Request,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    csrf_token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/ui/",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not csrf_token or not hmac.compare_digest(expected, csrf_token):
        return _login_page(request, "The form expired; please try again.", _safe_next(next), 403)
    state = request.app.state.services.workspace.state
    try:
        user = authenticate(state, username, password)
    except LoginRefused as refused:
        record_change(state, username[:100] or "?", "login.failed", None, {"reason": str(refused)})
        return _login_page(request, str(refused), _safe_next(next), 401)
    session_id, _ = create_session(state, user)
    record_change(state, user.username, "login", None)
    response = RedirectResponse(_safe_next(next), status_code=303)
    set_cookie(request, response, COOKIE, session_id, int(SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE, path="/")
    return response


@router.post("/logout")
def logout(request: Request, session: Viewer) -> Response:
    state = request.app.state.services.workspace.state
    end_session(state, request.cookies.get(COOKIE, ""))
    record_change(state, session.user.username, "logout", None)
    response = RedirectResponse("/ui/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
