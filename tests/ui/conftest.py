"""A small demo company with values and refreshed segments, users of each role, and a client.

Built once per session (about 5 s); tests that change it use their own users or names.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

PASSWORDS = {"ada": "admin-pass-1", "mia": "marketer-pass-1", "vic": "viewer-pass-1"}
ROLES = {"ada": "admin", "mia": "marketer", "vic": "viewer"}


def build_demo(root: Path, customers: int = 1500, smtp_port: int | None = None) -> Path:
    from cvm.demo import generate_company, load_company_into
    from cvm.segments.membership import refresh_memberships
    from cvm.segments.store import open_store
    from cvm.state.runs import record_stage_run
    from cvm.state.users import create_user
    from cvm.value.stage import run_value_stage
    from cvm.workspace import init_workspace

    ws = init_workspace(root)
    if smtp_port is not None:
        (root / "campaigns.toml").write_text(
            f'[email]\nhost = "127.0.0.1"\nport = {smtp_port}\nfrom_address = "news@shop.example"\n'
            "[dispatch]\npoll_seconds = 0.1\n",
            encoding="utf-8",
        )
        # Quiet hours off: the test must not depend on the hour it runs at.
        (root / "decide.toml").write_text(
            '[policy]\nquiet_hours = {start = "00:00", end = "00:01"}\n'
        )
    load_company_into(ws.engine, generate_company(customers, seed=11))
    with record_stage_run(ws.state, "value"):
        run_value_stage(
            ws.engine, ws.settings.value, models_dir=ws.models_dir, runs_dir=ws.runs_dir
        )
    with record_stage_run(ws.state, "segments"):
        refresh_memberships(ws.engine, store=open_store(ws))
    for name, password in PASSWORDS.items():
        create_user(ws.state, name, password, ROLES[name])
    ws.close()
    return root


@pytest.fixture(scope="session")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_demo(tmp_path_factory.mktemp("ui") / "ws")


@pytest.fixture(scope="session")
def app(demo_root: Path) -> Iterator[Any]:
    from fastapi.testclient import TestClient

    from cvm.api.app import create_app

    application = create_app(demo_root, run_loader=False, warm_ui=False)
    with TestClient(application):  # runs the lifespan once for the session
        yield application


def login(app: Any, user: str, password: str | None = None) -> Any:
    """A client signed in as ``user`` (its session's CSRF token on ``client.csrf``)."""
    from fastapi.testclient import TestClient

    client = TestClient(app, base_url="http://testserver")
    page = client.get("/ui/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    response = client.post(
        "/ui/login",
        data={"username": user, "password": password or PASSWORDS[user], "csrf_token": token},
        follow_redirects=False,
    )
    client.login_response = response  # type: ignore[attr-defined]
    if response.status_code == 303:
        home = client.get("/ui/customers")
        client.csrf = re.search(r'name="csrf_token" value="([^"]+)"', home.text).group(1)  # type: ignore[attr-defined,union-attr]
    return client
