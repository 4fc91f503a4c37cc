"""`run_campaigns`: recurring occurrences once a day, segment-entry and score-crossing
triggers (the first look only records; later crossings fire once)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cvm.campaigns.campaign import parse_campaign
from cvm.campaigns.lifecycle import create_campaign, launch_campaign, run_campaigns
from cvm.state.outbox import OutboxStore

CONTENT = {"email": {"en": {"subject": "Hello", "text": "Hi {{ first_name | default('') }}"}}}


def _ids(ws: Any, n: int, offset: int = 0) -> list[str]:
    rows = ws.engine.fetch_rows(
        "SELECT customer_id FROM consents WHERE channel = 'email' AND purpose = 'marketing' "
        "GROUP BY customer_id HAVING max(CASE WHEN status='granted' THEN occurred_at END) > "
        "coalesce(max(CASE WHEN status='denied' THEN occurred_at END), TIMESTAMP '1900-01-01') "
        "ORDER BY customer_id"
    )
    return [str(r[0]) for r in rows[offset : offset + n]]


def _set_churn(ws: Any, ids: list[str], value: float) -> None:
    for cid in ids:
        ws.engine.execute("DELETE FROM profiles WHERE customer_id = ?", [cid])
        ws.engine.execute(
            "INSERT INTO profiles (customer_id, churn_propensity) VALUES (?, ?)", [cid, value]
        )


def test_recurring_campaign_runs_once_a_day(demo_ws: Any) -> None:
    definition = {"id": "daily", "name": "Daily", "audience": {"segment": "with_email"},
                  "channels": ["email"], "content": CONTENT,
                  "schedule": {"every": "daily", "time": "10:00", "local": False}}  # fmt: skip
    create_campaign(demo_ws, parse_campaign(definition))
    launch_campaign(demo_ws, "daily")
    store = OutboxStore(demo_ws.state)
    assert store.counts("daily") == {}  # a recurring campaign waits for its day
    day = dt.datetime(2031, 5, 5, 6, 0)
    first = run_campaigns(demo_ws, day)
    assert [r["occurrence"] for r in first["runs"]] == ["day:2031-05-05"]
    queued = store.messages("daily")
    assert queued and all(m["not_before"] == dt.datetime(2031, 5, 5, 10, 0) for m in queued)
    again = run_campaigns(demo_ws, day + dt.timedelta(hours=3))
    assert again["runs"][0]["status"] == "already done"
    assert len(store.messages("daily")) == len(queued)


def test_score_crossing_fires_for_new_crossers_only(demo_ws: Any) -> None:
    early, late, dropping = _ids(demo_ws, 3), _ids(demo_ws, 2, offset=3), _ids(demo_ws, 1, 5)
    _set_churn(demo_ws, early + dropping, 0.9)
    definition = {"id": "save", "name": "Save", "trigger": {"field": "churn_propensity",
                  "op": "gt", "threshold": 0.7, "reentry": "always"},
                  "channels": ["email"], "content": CONTENT}  # fmt: skip
    create_campaign(demo_ws, parse_campaign(definition))
    launch_campaign(demo_ws, "save")  # first look: records who is already above
    store = OutboxStore(demo_ws.state)
    assert store.counts("save") == {}
    _set_churn(demo_ws, late, 0.8)
    _set_churn(demo_ws, dropping, 0.1)
    result = run_campaigns(demo_ws)
    assert result["triggers"]["save"]["fired"] == 2
    assert {m["customer_id"] for m in store.messages("save")} == set(late)
    assert run_campaigns(demo_ws)["triggers"]["save"]["fired"] == 0  # still above: no new crossing
    _set_churn(demo_ws, dropping, 0.95)  # fell below, crossed again
    assert run_campaigns(demo_ws)["triggers"]["save"]["fired"] == 1


def test_segment_entry_fires_from_new_transitions(demo_ws: Any) -> None:
    from cvm.segments.tables import SEGMENT_TRANSITIONS

    demo_ws.engine.ensure_table(SEGMENT_TRANSITIONS)
    old, new = _ids(demo_ws, 1), _ids(demo_ws, 2, offset=1)
    insert = (
        'INSERT INTO segment_transitions (segment, customer_id, transition, "at", refresh_id, '
        "recorded_at) VALUES ('with_email', ?, ?, ?, ?, ?)"
    )
    then = dt.datetime(2030, 1, 1)
    demo_ws.engine.execute(insert, [old[0], "entered", then, "r1", then])
    definition = {"id": "welcome", "name": "Welcome", "trigger": {"segment": "with_email"},
                  "channels": ["email"], "content": CONTENT}  # fmt: skip
    create_campaign(demo_ws, parse_campaign(definition))
    launch_campaign(demo_ws, "welcome")  # the cursor starts after the history
    later = then + dt.timedelta(days=1)
    demo_ws.engine.execute(insert, [new[0], "entered", later, "r2", later])
    demo_ws.engine.execute(insert, [new[1], "exited", later, "r2", later])
    result = run_campaigns(demo_ws)
    assert result["triggers"]["welcome"]["fired"] == 1
    assert [m["customer_id"] for m in OutboxStore(demo_ws.state).messages("welcome")] == [new[0]]
    assert run_campaigns(demo_ws)["triggers"]["welcome"]["fired"] == 0
