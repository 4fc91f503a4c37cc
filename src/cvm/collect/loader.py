"""Micro-batch loader: intake log → identity graph, traits, consents → warehouse `events`.

One flush, in this order, each step safe to repeat:

1. read the oldest requests not yet loaded (up to about N messages), normalise their
   accepted messages, keep the first of each messageId;
2. apply their identifiers to the graph, and store their traits and consents — one state
   transaction; repeating it changes nothing (same observations, same result);
3. insert the events into the warehouse, skipping event_ids already there (anti-join): this
   is the messageId deduplication, and a crash between 3 and 4 cannot duplicate;
4. stamp the requests loaded (and empty their payload);
5. mirror changed identities and consents to the warehouse.

Exactly once therefore holds across crashes: an event is either not yet stamped (and step 3
re-run inserts nothing twice) or stamped after it is in the warehouse. One flush runs at a
time (`lock`, shared with erasure and unmerge, which must not interleave with it).
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from cvm.collect.config import LiveSettings
from cvm.collect.events_table import events_table, insert_new_events
from cvm.collect.intake_rows import messages_of
from cvm.consent.mirror import mirror_consents
from cvm.consent.traits import consents_from_traits
from cvm.core.timewindows import utc_now as _now
from cvm.engine.base import Engine
from cvm.identity.graph import IdentityGraph, Observation
from cvm.identity.identifiers import ANONYMOUS_ID, USER_ID, Identifier
from cvm.identity.live import Alias, apply, keys_touched, open_graph, save_graph
from cvm.identity.mirror import mirror_identities
from cvm.identity.observations import alias_pair, message_time, observation_from_message
from cvm.state.consents import record_consents
from cvm.state.identity_store import IdentityStore
from cvm.state.intake import IntakeLog
from cvm.state.traits import write_traits

if TYPE_CHECKING:
    import sqlalchemy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FlushResult:
    requests: int = 0
    messages: int = 0
    inserted: int = 0
    identities_mirrored: int = 0
    consents_mirrored: int = 0


def _unique(messages: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """First occurrence of each messageId (a client retry stored the same request twice)."""
    seen: set[str] = set()
    unique: list[dict[str, Any]] = []
    for m in messages:
        if m["messageId"] not in seen:
            seen.add(m["messageId"])
            unique.append(m)
    return unique


class Loader:
    def __init__(
        self,
        engine: Engine,
        state: sqlalchemy.Engine,
        settings: LiveSettings,
        lock: threading.RLock | None = None,
    ) -> None:
        self.engine = engine
        self.state = state
        self.settings = settings
        self.lock = lock or threading.RLock()
        self.intake = IntakeLog(state)
        self.store = IdentityStore(state)
        self._last_purge = datetime.min
        # Called after every flush, under the lock, with the events just loaded (None when
        # there were none): campaign triggers fire from here within about a second.
        self.batch_hooks: list[Callable[[pa.Table | None], object]] = []

    def flush(self, limit: int | None = None) -> FlushResult:
        """Load one micro-batch (at most `limit` rows) and mirror what changed."""
        with self.lock:
            rows = self.intake.fetch_unloaded(limit or self.settings.collect.flush_batch_size)
            inserted = 0
            messages: list[dict[str, Any]] = []
            table: pa.Table | None = None
            if rows:
                messages = _unique(m for r in rows for m in messages_of(r))
                graph = self._resolve(messages)
                table = events_table(messages, graph, run_id=uuid.uuid4().hex, loaded_at=_now())
                inserted = insert_new_events(self.engine, table)
                self.intake.mark_loaded([r.seq for r in rows], _now())
            moved = mirror_identities(self.engine, self.store)
            consents = mirror_consents(self.engine, self.state, moved)
            for hook in self.batch_hooks:
                try:
                    hook(table)
                except Exception:  # a hook must never stop loading; the log says why
                    log.exception("loader hook %r failed", hook)
            self._purge()
        if rows:
            log.info("loaded %d requests, %d events (%d new)", len(rows), len(messages), inserted)
        return FlushResult(len(rows), len(messages), inserted, len(moved), consents)

    def flush_all(self) -> FlushResult:
        total = FlushResult()
        while True:
            result = self.flush()
            total = FlushResult(
                total.requests + result.requests,
                total.messages + result.messages,
                total.inserted + result.inserted,
                total.identities_mirrored + result.identities_mirrored,
                total.consents_mirrored + result.consents_mirrored,
            )
            if result.requests == 0:
                return total

    def _resolve(self, messages: list[dict[str, Any]]) -> IdentityGraph:
        country = self.settings.identity.default_phone_country
        items: list[Observation | Alias] = []
        for message in messages:
            pair = alias_pair(message)
            if pair is not None:
                at = message_time(message)
                items.append((*pair, Observation((), at, "alias", None, message["messageId"])))
                continue
            obs = observation_from_message(message, country)
            if obs is not None:
                items.append(obs)
        observations = [i for i in items if isinstance(i, Observation)]
        aliases = [i for i in items if not isinstance(i, Observation)]
        with self.state.begin() as conn:
            graph = open_graph(
                self.store,
                conn,
                keys_touched(observations, aliases),
                self.settings.identity.max_user_ids_per_identifier,
            )
            apply(graph, items)
            save_graph(self.store, conn, graph)
            traits, consents = self._traits_and_consents(messages, graph)
            write_traits(conn, traits)
            record_consents(conn, consents)
        return graph

    @staticmethod
    def _traits_and_consents(
        messages: list[dict[str, Any]], graph: IdentityGraph
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        traits: list[dict[str, Any]] = []
        consents: list[dict[str, Any]] = []
        recorded = _now()
        for message in messages:
            values = message.get("traits") or {}
            if not values or message["type"] == "alias":
                continue
            anchor = (
                Identifier(USER_ID, message["userId"])
                if message.get("userId")
                else Identifier(ANONYMOUS_ID, message["anonymousId"])
            )
            node = graph.nodes.get(anchor)
            if node is None:
                continue
            at = message_time(message)
            source = f"api:{message['type']}"
            traits.extend(
                {"identity_id": node.id, "name": name[:200], "value": value, "source": source,
                 "observed_at": at}
                for name, value in values.items()
            )  # fmt: skip
            consents.extend(
                {"identity_id": node.id, "channel": c, "purpose": p, "status": s,
                 "occurred_at": at, "source": "traits", "recorded_at": recorded}
                for c, p, s in consents_from_traits(values)
            )  # fmt: skip
        return traits, consents

    def _purge(self) -> None:
        # Hourly is plenty: retention is counted in days.
        if _now() - self._last_purge < timedelta(hours=1):
            return
        self._last_purge = _now()
        days = self.settings.collect.intake_retention_days
        self.intake.purge_loaded(_now() - timedelta(days=days))
