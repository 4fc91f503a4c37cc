"""The live-side CLI commands, in-process (typer's runner): keys, collect, profile, identity,
consent, privacy; plus erasure of messages the loader has not reached yet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cvm.cli.app import app
from cvm.collect.config import LiveSettings
from cvm.collect.loader import Loader
from cvm.privacy import erase_person
from cvm.state.intake import IntakeLog
from cvm.workspace import init_workspace
from tests.identity.live_helpers import store_messages

runner = CliRunner()


def _run(*args: str) -> str:
    result = runner.invoke(app, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.slow
def test_live_cli_end_to_end(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    store_messages(ws, [
        {"type": "identify", "userId": "u1", "anonymousId": "a1", "messageId": "m1",
         "traits": {"email": "cli@example.org", "first_name": "Cleo"}},
        {"type": "page", "anonymousId": "a2", "name": "Home", "messageId": "m2"},
    ])  # fmt: skip
    Loader(ws.engine, ws.state, LiveSettings()).flush_all()
    store_messages(ws, [
        {"type": "identify", "anonymousId": "a2", "traits": {"email": "cli@example.org"}, "messageId": "m3"},
    ])  # fmt: skip
    ws.close()
    w = ("--workspace", str(tmp_path / "ws"))
    assert json.loads(_run("collect", "status", *w, "--json"))["pending"] == 1
    assert json.loads(_run("collect", "flush", *w, "--json"))["inserted"] == 1
    created = json.loads(_run("keys", "create", "--scope", "read", "--name", "crm", *w, "--json"))
    assert created["secret"].startswith("cvm_r_")
    assert [k["name"] for k in json.loads(_run("keys", "list", *w, "--json"))] == ["crm"]
    _run("keys", "revoke", created["id"][:8], *w)
    assert json.loads(_run("keys", "list", *w, "--json")) == []
    profile = json.loads(_run("profile", "show", "--email", "CLI@example.org", *w, "--json"))
    assert profile["customer_id"] == "u1" and profile["traits"]["first_name"]["value"] == "Cleo"
    merges = json.loads(_run("identity", "merges", "u1", *w, "--json"))
    assert len(merges) == 1  # a2 joined through the e-mail
    restored = json.loads(_run("identity", "unmerge", str(merges[0]["id"]), *w, "--json"))
    assert restored["restored"] and restored["kept"] == "u1"
    _run("consent", "set", "u1", "--channel", "sms", "--status", "granted", *w)
    assert json.loads(_run("consent", "check", "u1", "--channel", "sms", *w, "--json"))["reachable"]
    exported = json.loads(_run("privacy", "export", "u1", *w))
    assert exported["customer_id"] == "u1"
    record = json.loads(_run("privacy", "erase", "u1", "--yes", *w, "--json"))
    assert record["counts"]["warehouse.events"] >= 1


def test_erasure_reaches_messages_not_loaded_yet(workspace) -> None:  # type: ignore[no-untyped-def]
    store_messages(workspace, [
        {"type": "identify", "userId": "gone", "traits": {"email": "gone@example.org"}, "messageId": "g1"},
        {"type": "track", "userId": "stays", "event": "A", "messageId": "s1"},
    ])  # fmt: skip
    loader = Loader(workspace.engine, workspace.state, LiveSettings())
    loader.flush_all()
    store_messages(workspace, [
        {"type": "track", "userId": "gone", "event": "Late", "properties": {"mail": "gone@example.org"}},
        {"type": "track", "userId": "stays", "event": "B", "messageId": "s2"},
    ])  # fmt: skip
    erase_person(workspace.engine, workspace.state, "gone")
    (row,) = IntakeLog(workspace.state).unloaded()
    assert "gone@example.org" not in row.payload and row.event_count == 1
    loader.flush_all()
    names = workspace.engine.fetch_rows("SELECT user_id, name FROM events ORDER BY name")
    assert names == [("stays", "A"), ("stays", "B")]
