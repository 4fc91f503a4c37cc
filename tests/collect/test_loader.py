"""Intake log → warehouse: exactly once, idempotent by event id, across a crash."""

from __future__ import annotations

from unittest import mock

import pytest

from cvm.collect.config import LiveSettings
from cvm.collect.loader import Loader
from cvm.state.intake import IntakeLog
from tests.identity.live_helpers import send, store_messages


def _count(ws, sql: str) -> int:  # type: ignore[no-untyped-def]
    return int(ws.engine.fetch_scalar(sql) or 0)


def test_messages_load_once_and_duplicates_are_skipped(workspace) -> None:  # type: ignore[no-untyped-def]
    msgs = [
        {"type": "track", "userId": "u1", "event": "A", "messageId": f"m{i}"} for i in range(50)
    ]
    store_messages(workspace, msgs)
    store_messages(workspace, msgs[:10])  # a client retry: same messageIds
    assert IntakeLog(workspace.state).counts()["accepted"] == 60  # stored as sent...
    result = Loader(workspace.engine, workspace.state, LiveSettings()).flush_all()
    assert (result.requests, result.inserted) == (2, 50)  # ...loaded once: 2 requests, 50 events
    assert Loader(workspace.engine, workspace.state, LiveSettings()).flush_all().requests == 0
    assert _count(workspace, "SELECT count(*) FROM events") == 50
    assert _count(workspace, "SELECT count(DISTINCT event_id) FROM events") == 50
    assert _count(workspace, "SELECT count(*) FROM events WHERE customer_id = 'u1'") == 50


def test_crash_after_warehouse_insert_does_not_duplicate(workspace) -> None:  # type: ignore[no-untyped-def]
    store_messages(
        workspace, [{"type": "page", "anonymousId": "a", "messageId": f"p{i}"} for i in range(5)]
    )
    loader = Loader(workspace.engine, workspace.state, LiveSettings())
    with mock.patch.object(IntakeLog, "mark_loaded", side_effect=RuntimeError("killed")):
        with pytest.raises(RuntimeError):
            loader.flush()
    assert _count(workspace, "SELECT count(*) FROM events") == 5  # inserted, not stamped
    result = loader.flush_all()  # the restart
    assert (result.requests, result.inserted) == (1, 0)
    assert _count(workspace, "SELECT count(*) FROM events") == 5
    assert IntakeLog(workspace.state).counts()["pending"] == 0


def test_events_follow_a_merge_and_consents_come_from_traits(workspace) -> None:  # type: ignore[no-untyped-def]
    send(workspace, [{"type": "page", "anonymousId": "a1", "name": "Home", "messageId": "p1"}])
    before = workspace.engine.fetch_scalar("SELECT customer_id FROM events WHERE event_id = 'p1'")
    assert str(before).startswith("cvm_")
    send(
        workspace,
        [{"type": "identify", "userId": "u1", "anonymousId": "a1", "messageId": "i1",
          "traits": {"email": "A@X.io", "unsubscribed": True, "consent": {"sms": {"marketing": "yes"}}}}],
    )  # fmt: skip
    after = workspace.engine.fetch_scalar("SELECT customer_id FROM events WHERE event_id = 'p1'")
    assert after == "u1"  # anonymous history re-keyed to the known profile
    rows = workspace.engine.fetch_rows(
        "SELECT customer_id, channel, purpose, status FROM consents ORDER BY channel"
    )
    assert rows == [("u1", "email", "marketing", "denied"), ("u1", "sms", "marketing", "granted")]
    ids = workspace.engine.fetch_rows(
        "SELECT kind, value FROM identities WHERE customer_id = 'u1' ORDER BY kind"
    )
    assert ("email", "a@x.io") in ids and ("anonymous_id", "a1") in ids
