"""Send Segment messages through the real intake path (normalise → log → loader), no HTTP."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from cvm.collect.config import LiveSettings
from cvm.collect.intake_rows import intake_row
from cvm.collect.loader import FlushResult, Loader
from cvm.collect.request import parse_batch
from cvm.state.intake import IntakeLog
from cvm.workspace import Workspace


def store_messages(
    ws: Workspace, messages: list[dict[str, Any]], received_at: datetime | None = None
) -> None:
    parsed = parse_batch(json.dumps({"batch": messages}).encode(), None, received_at)
    assert not parsed.rejections, parsed.rejections
    IntakeLog(ws.state).append([intake_row(parsed, None)])


def send(
    ws: Workspace, messages: list[dict[str, Any]], settings: LiveSettings | None = None
) -> FlushResult:
    store_messages(ws, messages)
    return Loader(ws.engine, ws.state, settings or LiveSettings()).flush_all()


def identity_map(ws: Workspace) -> dict[tuple[str, str], str]:
    rows = ws.engine.fetch_rows("SELECT kind, value, customer_id FROM identities")
    return {(str(k), str(v)): str(c) for k, v, c in rows}
