"""The next best action for one customer, now: the batch's rules, answered from memory.

A `RealtimeDecider` loads the decision features of every customer once (the very query the
batch run uses, `cvm.decide.eligibility.feature_query`) into arrays indexed by customer id, and
keeps them fresh in a background thread: every ``delta_seconds`` it re-reads the features of
the customers whose contact history, consents or cool-down events changed since the last look,
and every ``refresh_seconds`` (15 minutes) it reloads everyone. A request is then a dictionary
lookup and a few multiplications (tens of microseconds), whatever the size of the base.

Per request it honours the same policy and control groups as the batch: eligibility, consent,
address, frequency caps (counting history, schedule and the real-time decisions it made
itself), cool-downs, quiet hours (``send_after`` for outbound channels), offer validity,
contexts and a per-day volume cap; the global control group gets no marketing offer and an
offer's control group is held out, both logged with their assignment probability. Every
decision is appended to `decision_log` (buffered, flushed about once a second and on close).
"""

from __future__ import annotations

import datetime as dt
import gc
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.errors import NotFoundError, UserInputError
from cvm.decide.config import DecideSettings
from cvm.decide.contact_policy import CHANNELS, OUTBOUND_CHANNELS
from cvm.decide.eligibility import feature_query, layout_for
from cvm.decide.offers import Offer
from cvm.decide.tables import CONTACT_HISTORY, DECISION_LOG, ensure_decide_tables
from cvm.engine.base import Engine
from cvm.segments.context import ConsentPolicy, utc_naive
from cvm.segments.predicates import timestamp_literal

if TYPE_CHECKING:
    from cvm.workspace.workspace import Workspace


@dataclass
class RealtimeDecision:
    decision_id: str
    customer_id: str
    channel: str
    context: str | None
    offer: Offer | None  # what to show or send (None: nothing)
    offer_id: str | None  # the decided offer, also when held out
    score: float | None
    expected_profit: float | None
    control: bool
    global_control: bool
    assignment_probability: float
    send_after: dt.datetime | None
    reason: str
    considered: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "customer_id": self.customer_id,
            "channel": self.channel,
            "context": self.context,
            "offer": None
            if self.offer is None
            else {
                "id": self.offer.id,
                "name": self.offer.name,
                "description": self.offer.description,
            },
            "offer_id": self.offer_id,
            "score": self.score,
            "expected_profit": self.expected_profit,
            "control": self.control,
            "global_control": self.global_control,
            "assignment_probability": self.assignment_probability,
            "send_after": self.send_after.isoformat() if self.send_after else None,
            "reason": self.reason,
            "considered": self.considered,
        }


class _Snapshot:
    """Feature arrays of the whole base (replaced as a whole on a full reload)."""

    def __init__(self, table: pa.Table) -> None:
        ids = table.column("customer_id").to_pylist()
        self.index = {str(c): i for i, c in enumerate(ids)}
        self.columns: dict[str, np.ndarray] = {}
        for name in table.column_names:
            col = table.column(name)
            if pa.types.is_boolean(col.type):
                self.columns[name] = (
                    col.fill_null(False).to_numpy(zero_copy_only=False).astype(bool)
                )
            elif (
                pa.types.is_floating(col.type)
                or pa.types.is_integer(col.type)
                or pa.types.is_decimal(col.type)
            ):
                # a writable copy: delta refreshes overwrite single rows
                self.columns[name] = np.array(col.cast(pa.float64()).to_numpy(zero_copy_only=False))
            else:
                self.columns[name] = np.array(col.to_pylist(), dtype=object)

    def update(self, table: pa.Table) -> None:
        """Overwrite the rows of the customers in ``table`` (new customers wait for a reload)."""
        fresh = _Snapshot(table)
        for cid, j in fresh.index.items():
            i = self.index.get(cid)
            if i is None:
                continue
            for name, values in fresh.columns.items():
                self.columns[name][i] = values[j]


class RealtimeDecider:
    def __init__(
        self,
        engine: Engine,
        offers: Sequence[Offer],
        settings: DecideSettings,
        *,
        consent_policy: str = "opt_in",
        timezone: str = "UTC",
        refresh_seconds: float = 900.0,
        delta_seconds: float = 2.0,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        # ``clock`` gives the moment the features are read at (tests and replays pin it)
        self._clock = clock or (lambda: utc_naive(None))
        self.engine = engine
        self.offers = sorted(offers, key=lambda o: o.id)
        self.settings = settings
        self.consent_policy = consent_policy
        self.timezone = settings.policy.timezone or timezone
        self.refresh_seconds = refresh_seconds
        self.delta_seconds = delta_seconds
        self.layout = layout_for(self.offers, settings)
        self._lock = threading.Lock()
        self._log: list[dict[str, Any]] = []
        self._recent: dict[int, list[tuple[dt.datetime, str, str]]] = defaultdict(list)
        self._volume: dict[tuple[dt.date, str], int] = defaultdict(int)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._watermark = utc_naive(None)
        self._loaded_at = 0.0
        self._delta_at = 0.0
        ensure_decide_tables(engine)
        self.snapshot = self._load()

    # -- loading ----------------------------------------------------------------------------
    def _query(self, customer_ids: list[str] | None = None) -> pa.Table:
        from cvm.segments.store import SegmentStore

        now = self._clock()
        policy: ConsentPolicy = "opt_out" if self.consent_policy == "opt_out" else "opt_in"
        ctx = SegmentStore(self.engine, consent_policy=policy).context(now, customer_ids)
        query = feature_query(
            self.layout, self.settings, ctx, consent_policy=self.consent_policy, day=now.date()
        )
        return self.engine.fetch_arrow(query)

    def _load(self) -> _Snapshot:
        started = utc_naive(None)
        snap = _Snapshot(self._query())
        self._watermark, self._loaded_at = started, time.monotonic()
        # The snapshot is millions of long-lived objects (the id index); a full collection
        # would walk them all and stall requests for ~100 ms. Collect once now and move what
        # survives out of the collector's sight (CPython's gc.freeze, made for this case).
        gc.collect()
        gc.freeze()
        return snap

    def changed_customers(self, since: dt.datetime) -> list[str]:
        """Customers whose history, consents or events arrived after ``since``."""
        parts = [
            exp.select("customer_id")
            .from_(CONTACT_HISTORY.name)
            .where(exp.column("recorded_at") > timestamp_literal(since)),
            exp.select("customer_id")
            .from_("consents")
            .where(exp.column("_loaded_at") > timestamp_literal(since)),
            exp.select("customer_id")
            .from_("events")
            .where(exp.column("_loaded_at") > timestamp_literal(since)),
        ]
        union: exp.Expression = parts[0]
        for part in parts[1:]:
            union = exp.union(union, part, distinct=True)
        return sorted({str(r[0]) for r in self.engine.fetch_rows(union) if r[0] is not None})

    def refresh(self, full: bool = False) -> int:
        """Reload everyone (``full``) or the changed customers; returns how many were read."""
        if full or time.monotonic() - self._loaded_at > self.refresh_seconds:
            snap = self._load()
            with self._lock:
                self.snapshot = snap
            return len(snap.index)
        since = self._watermark
        self._watermark = utc_naive(None)
        changed = self.changed_customers(since)
        if changed:
            table = self._query(changed)
            with self._lock:
                self.snapshot.update(table)
        return len(changed)

    def start(self) -> None:
        """Refresh and flush the log in a background thread until `close`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="decider", daemon=True)
            self._thread.start()

    def _loop(self) -> None:
        while not self._stop.wait(min(self.delta_seconds, 1.0)):
            try:
                self.flush()
                if time.monotonic() - self._delta_at >= self.delta_seconds:
                    self._delta_at = time.monotonic()
                    self.refresh()
            except Exception:  # keep serving from the last snapshot
                time.sleep(self.delta_seconds)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()

    # -- deciding ---------------------------------------------------------------------------
    def decide(
        self,
        customer_id: str,
        channel: str,
        context: str | None = None,
        now: dt.datetime | None = None,
    ) -> RealtimeDecision:
        if channel not in CHANNELS:
            raise UserInputError(
                f"unknown channel {channel!r}; choose one of {', '.join(CHANNELS)}"
            )
        now = utc_naive(now)
        with self._lock:
            row = self.snapshot.index.get(customer_id)
            if row is None:
                raise NotFoundError(f"no customer {customer_id!r}")
            values = {name: col[row] for name, col in self.snapshot.columns.items()}
            recent = list(self._recent.get(row, ()))
        from cvm.decide.realtime_rules import choose

        decision = choose(self, customer_id, row, values, recent, channel, context, now)
        with self._lock:
            if decision.offer is not None and channel in OUTBOUND_CHANNELS:
                self._recent[row].append(
                    (decision.send_after or now, channel, decision.offer.purpose)
                )
            if decision.offer_id is not None:
                self._volume[(now.date(), decision.offer_id)] += 1
            self._log.append(_log_row(decision, now))
        return decision

    def volume(self, day: dt.date, offer_id: str) -> int:
        return self._volume.get((day, offer_id), 0)

    def flush(self) -> int:
        with self._lock:
            rows, self._log = self._log, []
        if not rows:
            return 0
        self.engine.write_arrow(DECISION_LOG.name, pa.Table.from_pylist(rows, schema=LOG_SCHEMA))
        return len(rows)


LOG_SCHEMA = pa.schema(
    [
        ("decision_id", pa.string()),
        ("decided_at", pa.timestamp("us")),
        ("customer_id", pa.string()),
        ("channel", pa.string()),
        ("context", pa.string()),
        ("offer_id", pa.string()),
        ("score", pa.float64()),
        ("expected_profit", pa.float64()),
        ("control", pa.bool_()),
        ("global_control", pa.bool_()),
        ("contact", pa.bool_()),
        ("assignment_probability", pa.float64()),
        ("send_after", pa.timestamp("us")),
        ("reason", pa.string()),
    ]
)


def _log_row(d: RealtimeDecision, now: dt.datetime) -> dict[str, Any]:
    return {
        "decision_id": d.decision_id,
        "decided_at": now,
        "customer_id": d.customer_id,
        "channel": d.channel,
        "context": d.context,
        "offer_id": d.offer_id,
        "score": d.score,
        "expected_profit": d.expected_profit,
        "control": d.control,
        "global_control": d.global_control,
        "contact": d.offer is not None,
        "assignment_probability": d.assignment_probability,
        "send_after": d.send_after,
        "reason": d.reason,
    }


def open_decider(ws: Workspace, *, start: bool = False) -> RealtimeDecider:
    """A decider over the workspace's catalogue (with the measured uplift posteriors, as the
    batch run), policy and consent setting."""
    from cvm.decide.batch import learned_priors
    from cvm.decide.config import load_decide_settings
    from cvm.decide.offer_store import load_offers

    offers, _took = learned_priors(ws.engine, load_offers(ws.engine))
    decider = RealtimeDecider(
        ws.engine,
        offers,
        load_decide_settings(ws.root),
        consent_policy=ws.settings.consent.policy,
        timezone=ws.settings.workspace.timezone,
    )
    if start:
        decider.start()
    return decider
