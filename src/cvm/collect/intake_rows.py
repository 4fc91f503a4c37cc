"""Between the API and the intake log: the row a request becomes, and the normalised messages
a row gives back to the loader (pure)."""

from __future__ import annotations

import json
from collections.abc import Collection
from typing import Any

from cvm.collect.normalize import NormalizedEvent
from cvm.collect.request import ParsedRequest, normalize_batch, normalize_single
from cvm.state.intake import IntakeRow


def intake_row(parsed: ParsedRequest, key_id: str | None) -> dict[str, Any]:
    return {
        "key_id": key_id,
        "received_at": parsed.received_at,
        "kind": parsed.kind,
        "event_count": parsed.accepted,
        "rejected": sorted(r.index for r in parsed.rejections) or None,
        "payload": parsed.body,
    }


def messages_of(row: IntakeRow) -> list[dict[str, Any]]:
    """The accepted messages of one request, normalised exactly as at the door.

    A message sent without messageId gets ``cvm-<seq>-<index>``: the same on every reload.
    """
    body = json.loads(row.payload)
    prefix = f"cvm-{row.seq}"
    if row.kind is not None:
        result = normalize_single(body, row.kind, row.received_at, f"{prefix}-0")
        return [result.message] if isinstance(result, NormalizedEvent) else []
    skip = set(row.rejected)
    return [
        r.message
        for r in normalize_batch(body, row.received_at, prefix, None)
        if isinstance(r, NormalizedEvent) and r.index not in skip
    ]


def _about(message: dict[str, Any], ids: Collection[str]) -> bool:
    return any(
        str(message.get(k)) in ids
        for k in ("userId", "anonymousId", "previousId")
        if message.get(k)
    )


def messages_about(row: IntakeRow, ids: Collection[str]) -> list[dict[str, Any]]:
    return [m for m in messages_of(row) if _about(m, ids)]


def without_messages_about(row: IntakeRow, ids: Collection[str]) -> tuple[str, int] | None:
    """The row's body with a person's messages removed (None when none were there).

    The other messages stay as sent (so they load exactly as before), each given the
    messageId it would have been loaded under; refused messages are dropped (never loaded,
    they might still mention the person). `("", 0)`: nothing is left.
    """
    if row.kind is not None:
        return ("", 0) if messages_about(row, ids) else None
    body = json.loads(row.payload)
    prefix = f"cvm-{row.seq}"
    results = normalize_batch(body, row.received_at, prefix, None)
    about = {r.index for r in results if isinstance(r, NormalizedEvent) and _about(r.message, ids)}
    if not about:
        return None
    skip = (
        about | set(row.rejected) | {r.index for r in results if not isinstance(r, NormalizedEvent)}
    )
    kept = []
    for index, message in enumerate(body["batch"]):
        if index not in skip:
            kept.append({**message, "messageId": message.get("messageId") or f"{prefix}-{index}"})
    if not kept:
        return "", 0
    return json.dumps({**body, "batch": kept}, separators=(",", ":")), len(kept)
