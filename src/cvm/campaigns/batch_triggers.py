"""Segment-transition and score-crossing triggers, evaluated after each refresh (batch).

* **Segment:** rows of `segment_transitions` for the segment and direction recorded after the
  campaign's cursor (``seg:<campaign>``, first set at the first look to the newest row, so a
  campaign launched today reacts to tomorrow's entries, not to the whole history). The step of
  each message is the refresh id, so a refresh seen twice sends nothing twice.
* **Score:** customers whose `customer_360` column passes the threshold now; those not marked
  ``above`` in `campaign_entries` have crossed and fire, those marked but no longer passing are
  unmarked (they may cross again, subject to the re-entry rule). The first look only marks.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import sqlglot.expressions as exp

from cvm.campaigns.campaign import Campaign, ScoreTrigger, SegmentTrigger
from cvm.segments.predicates import timestamp_literal
from cvm.state.campaign_store import marked_above, save_entries
from cvm.state.message_events import read_cursor, write_cursor

if TYPE_CHECKING:
    from cvm.workspace.workspace import Workspace

_OPS = {"gt": exp.GT, "gte": exp.GTE, "lt": exp.LT, "lte": exp.LTE}


def evaluate_batch_triggers(
    ws: Workspace, campaigns: Sequence[Campaign], as_of: dt.datetime
) -> dict[str, Any]:
    from cvm.campaigns.triggers import Fired, fire

    out: dict[str, Any] = {}
    for campaign in campaigns:
        trigger = campaign.trigger
        fired: list[Fired] = []
        if isinstance(trigger, SegmentTrigger):
            fired = _segment_fired(ws, campaign, trigger)
        elif isinstance(trigger, ScoreTrigger):
            fired = _score_fired(ws, campaign, trigger, as_of)
        else:
            continue
        out[campaign.id] = fire(ws, campaign, fired) if fired else {"fired": 0, "queued": 0}
    return out


def _segment_fired(ws: Workspace, campaign: Campaign, trigger: SegmentTrigger) -> list[Any]:
    from cvm.campaigns.triggers import Fired

    engine = ws.engine
    if not engine.table_exists("segment_transitions"):
        return []
    name = f"seg:{campaign.id}"
    cursor = read_cursor(ws.state, name)
    where = exp.and_(
        exp.column("segment").eq(exp.Literal.string(trigger.segment)),
        exp.column("transition").eq(exp.Literal.string(trigger.on)),
    )
    if cursor is None:
        newest = engine.fetch_scalar(
            exp.select(exp.func("MAX", exp.column("recorded_at")))
            .from_("segment_transitions")
            .where(where)
        )
        write_cursor(ws.state, name, str(newest or dt.datetime(1970, 1, 1)))
        return []
    query = (
        exp.select("customer_id", "at", "refresh_id", "recorded_at")
        .from_("segment_transitions")
        .where(
            exp.and_(
                where,
                exp.column("recorded_at") > timestamp_literal(dt.datetime.fromisoformat(cursor)),
            )
        )
        .order_by("recorded_at")
    )
    rows = engine.fetch_rows(query)
    if not rows:
        return []
    fired = [
        Fired(str(cid), at, f"segment:{refresh}",  # type: ignore[arg-type]
              {"name": f"segment_{trigger.on}", "properties": {"segment": trigger.segment}})
        for cid, at, refresh, _ in rows
    ]  # fmt: skip
    write_cursor(ws.state, name, str(rows[-1][3]))
    return fired


def _score_fired(
    ws: Workspace, campaign: Campaign, trigger: ScoreTrigger, as_of: dt.datetime
) -> list[Any]:
    from cvm.campaigns.triggers import Fired

    column = exp.column(trigger.field, quoted=True)
    query = (
        exp.select("customer_id", column)
        .from_("customer_360")
        .where(_OPS[trigger.op](this=column, expression=exp.Literal.number(trigger.threshold)))
    )
    now_above = {str(cid): value for cid, value in ws.engine.fetch_rows(query)}
    name = f"score:{campaign.id}"
    first_look = read_cursor(ws.state, name) is None
    with ws.state.connect() as conn:
        before = marked_above(conn, campaign.id)
    crossed = [c for c in now_above if c not in before]
    dropped = [c for c in before if c not in now_above]
    marks = [
        {"campaign_id": campaign.id, "customer_id": c, "entries": before.get(c, {}).get("entries", 0),
         "first_at": as_of, "last_at": before.get(c, {}).get("last_at", as_of), "above": c in now_above}
        for c in (*crossed, *dropped)
    ]  # fmt: skip
    with ws.state.begin() as conn:
        save_entries(conn, marks)
    write_cursor(ws.state, name, as_of.isoformat())
    if first_look:
        return []
    name_crossed = f"{trigger.field}_crossed"
    step = f"score:{as_of.date().isoformat()}"
    return [
        Fired(c, as_of, step, {"name": name_crossed, "properties": {
            "field": trigger.field, "threshold": trigger.threshold, "value": now_above[c]}})
        for c in crossed
    ]  # fmt: skip
