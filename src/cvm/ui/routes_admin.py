"""Admin pages: users (create, role, disable), API keys (create, revoke), the audit log.

Marketers and viewers get 403 here: only admins manage access.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from cvm.state.audit import recent_changes, record_change
from cvm.state.keys import SCOPES, create_key, list_keys, revoke_key
from cvm.state.users import ROLES, create_user, list_users, set_user
from cvm.ui.auth import Admin
from cvm.ui.templating import render

router = APIRouter(prefix="/ui/admin", include_in_schema=False)


def _state(request: Request) -> Any:
    return request.app.state.services.workspace.state


def _users_page(request: Request, **extra: Any) -> Response:
    state = _state(request)
    return render(
        request, "users.html", page="users", users=list_users(state), roles=ROLES,
        keys=list_keys(state, include_revoked=True), scopes=SCOPES, **extra,
    )  # fmt: skip


@router.get("/users")
def users(request: Request, session: Admin) -> Response:
    return _users_page(request)


@router.post("/users")
def add_user(
    request: Request,
    session: Admin,
    username: Annotated[str, Form()],
    password: Annotated[str, Form()],
    role: Annotated[str, Form()] = "viewer",
) -> Response:
    user = create_user(_state(request), username, password, role)
    record_change(_state(request), session.user.username, "user.create", user.username,
                  {"role": role})  # fmt: skip
    return _users_page(request, message=f"Created {role} {user.username}.")


@router.post("/users/{username}")
def change_user(
    request: Request,
    username: str,
    session: Admin,
    action: Annotated[str, Form()],
    role: Annotated[str | None, Form()] = None,
) -> Response:
    state = _state(request)
    if action == "role" and role:
        set_user(state, username, role=role)
    elif action in ("disable", "enable"):
        if username == session.user.username and action == "disable":
            return _users_page(request, error="You cannot disable yourself.")
        set_user(state, username, disabled=action == "disable")
    record_change(state, session.user.username, f"user.{action}", username,
                  {"role": role} if role else None)  # fmt: skip
    return _users_page(request, message=f"{username}: {action} done.")


@router.post("/keys")
def add_key(
    request: Request,
    session: Admin,
    scope: Annotated[str, Form()],
    name: Annotated[str, Form()] = "",
) -> Response:
    key, secret = create_key(_state(request), scope, name or None)
    record_change(_state(request), session.user.username, "key.create", key.id,
                  {"scope": scope, "name": key.name})  # fmt: skip
    return _users_page(request, secret=secret, message=f"Created {scope} key {key.name}.")


@router.post("/keys/{key_id}/revoke")
def revoke(request: Request, key_id: str, session: Admin) -> Response:
    key = revoke_key(_state(request), key_id)
    request.app.state.services.keys.forget()
    record_change(_state(request), session.user.username, "key.revoke", key.id)
    return _users_page(request, message=f"Revoked key {key.name}.")


@router.get("/audit")
def audit(request: Request, session: Admin, actor: str | None = None) -> Response:
    rows = recent_changes(_state(request), 300, actor or None)
    return render(request, "audit.html", page="audit", rows=rows, actor=actor or "")
