"""Campaign definitions, their runs and trigger entries in the state store.

Definitions are stored as validated JSON (`cvm.campaigns.campaign.Campaign`); this module
knows rows, not meaning.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from cvm.core.timewindows import utc_now as _now
from cvm.state.tables import campaign_entries, campaign_runs, campaigns
from cvm.state.upsert import insert_ignore, upsert


class CampaignRows:
    """Repository over `campaigns`, `campaign_runs` and `campaign_entries`."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- definitions ------------------------------------------------------------------------
    def insert(self, campaign_id: str, name: str, definition: dict[str, Any]) -> bool:
        """Store a new campaign as a draft; False when the id is taken."""
        now = _now()
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(campaigns.c.id).where(campaigns.c.id == campaign_id)
            ).first()
            if exists is not None:
                return False
            conn.execute(
                campaigns.insert().values(
                    id=campaign_id, name=name, status="draft", definition=definition,
                    created_at=now, updated_at=now,
                )
            )  # fmt: skip
        return True

    def replace_definition(self, campaign_id: str, name: str, definition: dict[str, Any]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id)
                .values(name=name, definition=definition, updated_at=_now())
            )

    def get(self, campaign_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(campaigns).where(campaigns.c.id == campaign_id)).first()
        return dict(row._mapping) if row is not None else None

    def all(self, statuses: Sequence[str] | None = None) -> list[dict[str, Any]]:
        query = select(campaigns).order_by(campaigns.c.created_at, campaigns.c.id)
        if statuses:
            query = query.where(campaigns.c.status.in_(list(statuses)))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def set_status(self, campaign_id: str, status: str, expect: Sequence[str]) -> bool:
        """Move to ``status`` if the campaign is in one of ``expect`` (compare and set)."""
        values: dict[str, Any] = {"status": status, "updated_at": _now()}
        if status == "active":
            values["launched_at"] = _now()
        if status in ("stopped", "completed"):
            values["stopped_at"] = _now()
        with self.engine.begin() as conn:
            result = conn.execute(
                update(campaigns)
                .where(campaigns.c.id == campaign_id, campaigns.c.status.in_(list(expect)))
                .values(**values)
            )
        return bool(result.rowcount)

    def delete(self, campaign_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(campaigns.delete().where(campaigns.c.id == campaign_id))

    # -- runs -------------------------------------------------------------------------------
    def start_run(self, campaign_id: str, occurrence: str) -> tuple[str, bool]:
        """The run of this occurrence: (run id, whether it had finished already)."""
        with self.engine.begin() as conn:
            insert_ignore(
                conn,
                campaign_runs,
                [{"id": uuid.uuid4().hex, "campaign_id": campaign_id, "occurrence": occurrence,
                  "started_at": _now(), "status": "running"}],
                ["campaign_id", "occurrence"],
            )  # fmt: skip
            row = conn.execute(
                select(campaign_runs.c.id, campaign_runs.c.status).where(
                    campaign_runs.c.campaign_id == campaign_id,
                    campaign_runs.c.occurrence == occurrence,
                )
            ).one()
        return str(row.id), row.status == "done"

    def finish_run(self, run_id: str, summary: dict[str, Any], status: str = "done") -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(campaign_runs)
                .where(campaign_runs.c.id == run_id)
                .values(finished_at=_now(), status=status, summary=summary)
            )

    def runs(self, campaign_id: str) -> list[dict[str, Any]]:
        query = (
            select(campaign_runs)
            .where(campaign_runs.c.campaign_id == campaign_id)
            .order_by(campaign_runs.c.started_at)
        )
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def occurrences(self, campaign_id: str) -> set[str]:
        query = select(campaign_runs.c.occurrence).where(
            campaign_runs.c.campaign_id == campaign_id, campaign_runs.c.status == "done"
        )
        with self.engine.connect() as conn:
            return {str(r[0]) for r in conn.execute(query)}


# -- trigger entries (used inside the enqueue transaction) -----------------------------------
def entries_of(
    conn: Connection, campaign_id: str, customer_ids: Sequence[str]
) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    ids = sorted(set(customer_ids))
    for start in range(0, len(ids), 900):
        query = select(campaign_entries).where(
            campaign_entries.c.campaign_id == campaign_id,
            campaign_entries.c.customer_id.in_(ids[start : start + 900]),
        )
        found.update({r.customer_id: dict(r._mapping) for r in conn.execute(query)})
    return found


def save_entries(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Upsert ``{campaign_id, customer_id, entries, first_at, last_at, above}`` rows."""
    upsert(
        conn,
        campaign_entries,
        list(rows),
        ["campaign_id", "customer_id"],
        ["entries", "last_at", "above"],
    )


def workspace_secret(engine: Engine, name: str) -> str:
    """A random secret kept in the state store (created on first use), shared by every process
    of the workspace: the API server verifies what a dispatch worker signed."""
    import secrets

    from cvm.state.tables import workspace_secrets

    with engine.begin() as conn:
        insert_ignore(
            conn, workspace_secrets, [{"name": name, "value": secrets.token_hex(32)}], ["name"]
        )
        row = conn.execute(
            select(workspace_secrets.c.value).where(workspace_secrets.c.name == name)
        ).one()
    return str(row[0])


def marked_above(conn: Connection, campaign_id: str) -> dict[str, dict[str, Any]]:
    """Entries of a score-triggered campaign currently marked above its threshold."""
    query = select(campaign_entries).where(
        campaign_entries.c.campaign_id == campaign_id, campaign_entries.c.above.is_(True)
    )
    return {r.customer_id: dict(r._mapping) for r in conn.execute(query)}
