"""Batch resolution over ingested files: the canonical `customers` and `events` tables.

Rows are turned into the same observations the live path makes (a customers row is an
identify of its customer_id with its e-mail, phone and ``traits.external_ids``; an event row
links its user id and anonymous id) and applied in time order (customers by signup date,
events by time, customers first on ties) with the same rules, so files and live traffic give
the same graph. Rows that came through the live API (``_source = 'api'``) were resolved when
they were loaded and are skipped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cvm.engine.base import Engine
from cvm.identity.graph import Observation
from cvm.identity.live import apply, open_graph, save_graph
from cvm.identity.mirror import replace_identities
from cvm.identity.observations import (
    EPOCH,
    observation_from_customer_row,
    observation_from_event_row,
)
from cvm.state.identity_store import IdentityStore

if TYPE_CHECKING:
    import sqlalchemy

_CUSTOMERS = (
    "SELECT customer_id, email, phone, signup_date, "
    "CAST(json_extract(traits, '$.external_ids') AS VARCHAR) AS external_ids "
    "FROM customers WHERE customer_id IS NOT NULL AND coalesce(_source, '') <> 'api'"
)
_EVENTS = (
    "SELECT event_id, user_id, anonymous_id, occurred_at FROM events "
    "WHERE (user_id IS NOT NULL OR anonymous_id IS NOT NULL) AND coalesce(_source, '') <> 'api'"
)


@dataclass(frozen=True)
class BatchResult:
    observations: int
    identities: int
    profiles: int
    merges: int
    seconds: float
    cpu_seconds: float
    phases: dict[str, float]


def observations_from_warehouse(engine: Engine, default_country: str) -> list[Observation]:
    import json

    found: list[tuple[datetime, int, int, Observation]] = []
    if engine.table_exists("customers"):
        for batch in engine.fetch_batches(_CUSTOMERS):
            cols = batch.to_pydict()
            for i, cid in enumerate(cols["customer_id"]):
                ext = cols["external_ids"][i]
                row = {
                    "customer_id": cid,
                    "email": cols["email"][i],
                    "phone": cols["phone"][i],
                    "signup_date": cols["signup_date"][i],
                    "traits": {"external_ids": json.loads(ext)} if ext else None,
                }
                obs = observation_from_customer_row(row, default_country)
                found.append((obs.at, 0, len(found), obs))
    if engine.table_exists("events"):
        for batch in engine.fetch_batches(_EVENTS):
            for row in batch.to_pylist():
                ev = observation_from_event_row(row)
                if ev is not None:
                    found.append((ev.at or EPOCH, 1, len(found), ev))
    found.sort(key=lambda t: t[:3])
    return [t[3] for t in found]


def resolve_batch(
    engine: Engine,
    state: sqlalchemy.Engine,
    default_country: str = "US",
    max_user_ids: int = 3,
) -> BatchResult:
    """Apply every ingested row to the whole graph, save it, mirror it to the warehouse."""
    started, cpu_started = time.perf_counter(), time.process_time()
    phases: dict[str, float] = {}
    marks = [(started, cpu_started)]

    def lap(name: str) -> None:
        # Wall time and this process's CPU time: on a shared machine the two differ a lot.
        wall, cpu = time.perf_counter(), time.process_time()
        phases[name] = round(wall - marks[-1][0], 2)
        phases[f"{name}_cpu"] = round(cpu - marks[-1][1], 2)
        marks.append((wall, cpu))

    observations = observations_from_warehouse(engine, default_country)
    lap("read")
    store = IdentityStore(state)
    with state.begin() as conn:
        graph = open_graph(store, conn, None, max_user_ids)
        lap("load_graph")
        apply(graph, observations)
        lap("resolve")
        save_graph(store, conn, graph, mirror_pending=False)
    lap("save")
    replace_identities(engine, store, graph.nodes.values())
    lap("mirror")
    changes = graph.changes
    return BatchResult(
        observations=len(observations),
        identities=len(changes.new_nodes),
        profiles=sum(1 for c in graph.customers.values() if c.merged_into is None),
        merges=len(changes.merges),
        seconds=round(time.perf_counter() - started, 2),
        cpu_seconds=round(time.process_time() - cpu_started, 2),
        phases=phases,
    )
