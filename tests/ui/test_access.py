"""Access control: login, lockout, roles, CSRF, session cookies and the audit log."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.ui.conftest import login

PAGES = ["/ui/", "/ui/customers", "/ui/segments", "/ui/value", "/ui/models", "/ui/campaigns",
         "/ui/offers", "/ui/health"]  # fmt: skip


def test_pages_need_a_session(app: Any) -> None:
    from fastapi.testclient import TestClient

    anonymous = TestClient(app)
    for page in PAGES:
        response = anonymous.get(page, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/ui/login?next=")
    assert anonymous.post("/ui/segments/check", json={}).status_code == 401


def test_login_sets_a_hardened_cookie_and_every_page_renders(app: Any) -> None:
    client = login(app, "vic")
    cookie = client.login_response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http here; behind https it is set (next test)
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, (page, response.text[:300])
        # Nothing is loaded from another host: the dashboard works offline.
        assert not re.search(r'(src|href)="(https?:)?//', response.text), page


def test_cookie_is_secure_behind_https(app: Any) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(app)
    response = client.get("/ui/login", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in response.headers["set-cookie"]


def test_wrong_password_then_lockout_after_five_failures(app: Any) -> None:
    from cvm.state.users import create_user

    state = app.state.services.workspace.state
    create_user(state, "locky", "right-password", "viewer")
    for _ in range(4):
        assert login(app, "locky", "wrong").login_response.status_code == 401
    fifth = login(app, "locky", "wrong").login_response
    assert fifth.status_code == 401 and "15 minutes" in fifth.text
    # Even the right password is refused while locked.
    locked = login(app, "locky", "right-password").login_response
    assert locked.status_code == 401 and "15 minutes" in locked.text


def test_login_form_without_its_token_is_refused(app: Any) -> None:
    from fastapi.testclient import TestClient

    client = TestClient(app)
    response = client.post("/ui/login", data={"username": "ada", "password": "admin-pass-1"})
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("/ui/campaigns/new", {"name": "x", "segment": "x"}),
        ("/ui/segments/champions/delete", {}),
        ("/ui/admin/users", {"username": "z", "password": "zzzzzzzz"}),
        ("/ui/admin/keys", {"scope": "read"}),
    ],
)
def test_viewer_cannot_change_anything(app: Any, path: str, data: dict[str, str]) -> None:
    client = login(app, "vic")
    response = client.post(path, data={**data, "csrf_token": client.csrf})
    assert response.status_code == 403
    check = client.post("/ui/segments/check", json={}, headers={"X-CSRF-Token": client.csrf})
    assert check.status_code == 403


def test_marketer_cannot_manage_users_or_keys(app: Any) -> None:
    client = login(app, "mia")
    assert client.get("/ui/admin/users").status_code == 403
    response = client.post("/ui/admin/keys", data={"scope": "admin", "csrf_token": client.csrf})
    assert response.status_code == 403


def test_post_without_or_with_a_wrong_csrf_token_is_refused(app: Any) -> None:
    client = login(app, "ada")
    form = {"username": "forged", "password": "forged-pass", "role": "admin"}
    assert client.post("/ui/admin/users", data=form).status_code == 403
    assert client.post("/ui/admin/users", data={**form, "csrf_token": "nope"}).status_code == 403
    ok = client.post("/ui/admin/users", data={**form, "csrf_token": client.csrf})
    assert ok.status_code == 200 and "Created admin forged" in ok.text


def test_changes_are_audited_with_who_and_when(app: Any) -> None:
    from cvm.state.audit import recent_changes

    client = login(app, "ada")
    client.post("/ui/admin/keys", data={"scope": "read", "name": "bi", "csrf_token": client.csrf})
    entries = recent_changes(app.state.services.workspace.state, 20)
    created = [e for e in entries if e["action"] == "key.create"]
    assert created and created[0]["actor"] == "ada" and created[0]["at"] is not None
    assert "key.create" in client.get("/ui/admin/audit").text


def test_logout_ends_the_session(app: Any) -> None:
    client = login(app, "vic")
    assert (
        client.post(
            "/ui/logout", data={"csrf_token": client.csrf}, follow_redirects=False
        ).status_code
        == 303
    )
    assert client.get("/ui/", follow_redirects=False).status_code == 303


def test_disabled_user_loses_the_session_at_once(app: Any) -> None:
    from cvm.state.users import create_user, disable_user

    state = app.state.services.workspace.state
    create_user(state, "leaver", "leaver-pass", "marketer")
    client = login(app, "leaver", "leaver-pass")
    assert client.get("/ui/").status_code == 200
    disable_user(state, "leaver")
    assert client.get("/ui/", follow_redirects=False).status_code == 303
