"""Figures the pages show, computed once per data version and kept in memory.

Aggregates over a million customers (monthly KPIs, cohorts, concentration, RFM) take seconds;
a page must answer in well under a second. So each aggregate is computed once, keyed by the
data version (the latest stage runs in the state store, checked at most every few seconds)
and kept until that version changes or `ttl` passes. `warm` computes the heavy ones in a
background thread when the server starts, so the first visitor does not pay for them either.
Changes made through the dashboard call `invalidate`.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from cvm.state.runs import last_stage_runs

log = logging.getLogger(__name__)


class FigureCache:
    def __init__(self, state: Any, ttl: float = 900.0, version_every: float = 5.0) -> None:
        self.state = state
        self.ttl = ttl
        self.version_every = version_every
        self._values: dict[str, tuple[str, float, Any]] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()
        self._version = ("", 0.0)

    def version(self) -> str:
        """Latest finished stage runs; cheap (a small state-store table), checked rarely."""
        text, checked = self._version
        now = time.monotonic()
        if now - checked < self.version_every and text:
            return text
        try:
            runs = last_stage_runs(self.state)
            text = "|".join(sorted(f"{r['stage']}:{r['finished_at']}" for r in runs)) or "-"
        except Exception:  # a version check must never break a page
            log.warning("could not read stage runs for the figure cache")
            text = text or "-"
        self._version = (text, now)
        return text

    def get(self, key: str, compute: Callable[[], Any]) -> Any:
        version = self.version()
        hit = self._values.get(key)
        if hit is not None and hit[0] == version and time.monotonic() - hit[1] < self.ttl:
            return hit[2]
        with self._guard:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:  # one computation per key at a time; others wait for its result
            hit = self._values.get(key)
            if hit is not None and hit[0] == version and time.monotonic() - hit[1] < self.ttl:
                return hit[2]
            value = compute()
            self._values[key] = (version, time.monotonic(), value)
            return value

    def invalidate(self, prefix: str = "") -> None:
        for key in [k for k in self._values if k.startswith(prefix)]:
            self._values.pop(key, None)

    def warm(self, jobs: Iterable[tuple[str, Callable[[], Any]]]) -> threading.Thread:
        def run() -> None:
            for key, compute in jobs:
                try:
                    self.get(key, compute)
                except Exception:  # warming is best effort; the page computes on demand
                    log.exception("warming %s failed", key)

        thread = threading.Thread(target=run, name="ui-warm", daemon=True)
        thread.start()
        return thread
