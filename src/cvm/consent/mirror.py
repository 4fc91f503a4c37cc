"""Mirror the consent log to the warehouse `consents` table (the canonical contract).

Rows written here carry ``_source = 'consent_log'`` and ``_ingest_run = 'consent:<id>'``, so
each warehouse row maps to exactly one state record and is rewritten when that record's
identifier moves to another profile (merge, unmerge) or is erased.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pyarrow as pa

from cvm.core.contracts import CONSENTS
from cvm.engine.base import Engine
from cvm.state.consents import clear_mirror_flags, pending_mirror

SOURCE = "consent_log"
_VIEW = "__cvm_consent_mirror"
_DELETE = f"DELETE FROM consents WHERE _ingest_run IN (SELECT _ingest_run FROM {_VIEW})"  # noqa: S608
_INSERT = f"INSERT INTO consents BY NAME SELECT * FROM {_VIEW}"  # noqa: S608


def run_ids(record_ids: Sequence[int]) -> list[str]:
    return [f"consent:{i}" for i in record_ids]


def mirror_consents(engine: Engine, state: object, moved_identity_ids: Sequence[int]) -> int:
    """Write pending (and moved) consent records to the warehouse; returns how many."""
    with state.connect() as conn:  # type: ignore[attr-defined]
        rows = pending_mirror(conn, moved_identity_ids, limit=100_000)
    if not rows:
        return 0
    engine.ensure_table(CONSENTS)
    now = datetime.now(UTC).replace(tzinfo=None)
    table = pa.table(
        {
            "customer_id": pa.array([r["customer_id"] for r in rows], pa.string()),
            "channel": pa.array([r["channel"] for r in rows], pa.string()),
            "purpose": pa.array([r["purpose"] for r in rows], pa.string()),
            "status": pa.array([r["status"] for r in rows], pa.string()),
            "occurred_at": pa.array([r["occurred_at"] for r in rows], pa.timestamp("us")),
            "source": pa.array([r["source"] for r in rows], pa.string()),
            "_source": pa.array([SOURCE] * len(rows), pa.string()),
            "_ingest_run": pa.array(run_ids([int(r["id"]) for r in rows]), pa.string()),
            "_loaded_at": pa.array([now] * len(rows), pa.timestamp("us")),
        }
    )
    engine.register_arrow(_VIEW, table)
    try:
        engine.execute(_DELETE)
        engine.execute(_INSERT)
    finally:
        engine.unregister(_VIEW)
    with state.begin() as conn:  # type: ignore[attr-defined]
        clear_mirror_flags(conn, [int(r["id"]) for r in rows])
    return len(rows)
