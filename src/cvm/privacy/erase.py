"""`cvm privacy erase`: remove a person's personal data from both stores.

What happens, in this order (warehouse first, so a crash part-way can be re-run: the state
store still knows the identifiers until its own step):

* warehouse: the person's ``events`` (by profile id, user id or anonymous id) and
  ``identities`` rows are deleted; every other table with a ``customer_id`` column
  (``customers``, ``profiles``, segment memberships, a message outbox...) loses the person's
  rows, except ``transactions`` and ``consents``, which are kept with ``customer_id``
  replaced by ``erased:<erasure id>`` so revenue totals and the proof of consent decisions
  survive without saying whose they were; ``quarantine`` rows quoting an identifier go;
* state store: identities, links, merges, sightings, traits, consent records, the person's
  messages in requests not loaded yet (loaded requests keep no payload), and rows of any other
  table with a ``customer_id`` column;
* an erasure record stays: its id, time, per-table counts and a salted SHA-256 of each
  identifier (the salt is a per-workspace secret), enough to answer "was this person
  erased?" without holding who they were.

Events that arrive later with the same identifiers are not suppressed: they start a fresh,
empty profile (the person came back; nothing of the old profile returns, since it is gone).
"""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from cvm.collect.intake_rows import without_messages_about
from cvm.core.errors import NotFoundError
from cvm.engine.base import Engine
from cvm.identity.identifiers import ANONYMOUS_ID, USER_ID
from cvm.privacy.scope import (
    IDS_VIEW,
    REKEYED_TABLES,
    person_scope,
    warehouse_customer_tables,
)
from cvm.state.consents import delete_consents
from cvm.state.identity_store import IdentityStore
from cvm.state.intake import IntakeLog
from cvm.state.privacy import (
    customer_tables,
    delete_customers,
    privacy_salt,
    record_erasure,
    salted_hash,
)
from cvm.state.traits import delete_traits

if TYPE_CHECKING:
    import sqlalchemy

_IN_IDS = f"(SELECT value FROM {IDS_VIEW})"  # noqa: S608


def _count(engine: Engine, table: str, where: str) -> int:
    sql = f'SELECT count(*) FROM "{table}" WHERE {where}'  # noqa: S608 (identifiers from information_schema, values via a view)
    return int(engine.fetch_scalar(sql) or 0)  # type: ignore[call-overload]


def _erase_warehouse(engine: Engine, erased_as: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for table in warehouse_customer_tables(engine):
        where = f"customer_id IN {_IN_IDS}"
        if table == "events":
            where += f" OR user_id IN {_IN_IDS} OR anonymous_id IN {_IN_IDS}"
        elif table == "identities":
            where += f" OR value IN {_IN_IDS}"
        n = _count(engine, table, where)
        if not n:
            continue
        if table in REKEYED_TABLES:
            engine.execute(f'UPDATE "{table}" SET customer_id = ? WHERE {where}', [erased_as])  # noqa: S608
        else:
            engine.execute(f'DELETE FROM "{table}" WHERE {where}')  # noqa: S608
        counts[f"warehouse.{table}"] = n
    if engine.table_exists("quarantine"):
        quoted = f"EXISTS (SELECT 1 FROM {IDS_VIEW} i WHERE contains(quarantine.raw, i.value))"  # noqa: S608
        n = _count(engine, "quarantine", quoted)
        if n:
            engine.execute(f"DELETE FROM quarantine WHERE {quoted}")  # noqa: S608
            counts["warehouse.quarantine"] = n
    return counts


def _erase_unloaded(intake: IntakeLog, ids: set[str]) -> int:
    """Remove the person's messages from requests the loader has not reached yet."""
    touched = 0
    for row in intake.unloaded():
        rewritten = without_messages_about(row, ids)
        if rewritten is not None:
            payload, count = rewritten
            intake.rewrite(row.seq, payload, count, [])
            touched += 1
    return touched


def erase_person(
    engine: Engine,
    state: sqlalchemy.Engine,
    customer_id: str,
    *,
    requested_by: str | None = None,
    default_country: str = "US",
    lock: threading.RLock | None = None,
) -> dict[str, Any]:
    """Erase one person (any of their profile ids); returns the erasure record."""
    with lock or threading.RLock():
        scope = person_scope(engine, state, customer_id, default_country)
        erasure_id = uuid.uuid4().hex
        erased_as = f"erased:{erasure_id}"
        engine.register_arrow(IDS_VIEW, scope.ids_table())
        try:
            counts = _erase_warehouse(engine, erased_as)
        finally:
            engine.unregister(IDS_VIEW)
        counts["state.intake_batches"] = _erase_unloaded(
            IntakeLog(state), set(scope.values(USER_ID)) | set(scope.values(ANONYMOUS_ID))
        )
        store = IdentityStore(state)
        with state.begin() as conn:
            counts["state.trait_values"] = delete_traits(conn, scope.node_ids)
            counts["state.consent_records"] = len(delete_consents(conn, scope.node_ids))
            for name, n in store.delete_customer(conn, scope.customer_ids).items():
                counts[f"state.identity_{name}"] = n
            for name, n in delete_customers(
                conn, customer_tables(state), scope.customer_ids
            ).items():
                counts[f"state.{name}"] = n
            if not any(counts.values()):
                raise NotFoundError(f"nothing is held about {customer_id!r}")
            salt = privacy_salt(conn)
            hashes = [salted_hash(salt, kind, value) for kind, value in scope.identifiers]
            at = datetime.now(UTC).replace(tzinfo=None)
            counts = {k: v for k, v in counts.items() if v}
            record_erasure(conn, erasure_id, at, hashes, counts, requested_by)
    return {"erasure_id": erasure_id, "erased_at": at.isoformat(), "counts": counts,
            "identifiers_erased": len(hashes)}  # fmt: skip
