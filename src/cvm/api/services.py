"""What the running server holds: the workspace, the intake writer, the loader, key checks.

Built once by `cvm.api.app.create_app` (from settings read at that moment, never at import).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cvm.collect.committer import GroupCommitter
from cvm.collect.config import LiveSettings
from cvm.collect.loader import Loader
from cvm.state.intake import IntakeLog
from cvm.state.keys import ApiKey, find_active_key, hash_secret, touch_key
from cvm.workspace import Workspace

log = logging.getLogger(__name__)


class KeyCache:
    """Checks keys against the store, remembering answers briefly.

    A revoked key stops working within `ttl` seconds; `last_used_at` is written at most once
    a minute per key, not once per request.
    """

    def __init__(self, state: object, ttl: float = 5.0) -> None:
        self.state = state
        self.ttl = ttl
        self._cache: dict[str, tuple[float, ApiKey | None]] = {}
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()

    def answers_without_io(self, secret: str) -> bool:
        """Whether `authenticate` would answer from memory (fresh cache entry, no use to record):
        then it can run on the event loop instead of a worker thread."""
        now = time.monotonic()
        hit = self._cache.get(hash_secret(secret))
        if hit is None or hit[0] <= now:
            return False
        key = hit[1]
        return key is None or now - self._touched.get(key.id, -1e9) <= 60

    def authenticate(self, secret: str) -> ApiKey | None:
        digest = hash_secret(secret)
        now = time.monotonic()
        hit = self._cache.get(digest)
        if hit is not None and hit[0] > now:
            key = hit[1]
        else:
            key = find_active_key(self.state, secret)  # type: ignore[arg-type]
            with self._lock:
                if len(self._cache) > 10_000:
                    self._cache.clear()
                self._cache[digest] = (now + self.ttl, key)
        if key is not None and now - self._touched.get(key.id, -1e9) > 60:
            self._touched[key.id] = now
            try:
                touch_key(self.state, key.id)  # type: ignore[arg-type]
            except Exception:  # bookkeeping must never fail a request
                log.warning("could not record key use")
        return key

    def forget(self) -> None:
        with self._lock:
            self._cache.clear()


@dataclass
class Services:
    workspace: Workspace
    settings: LiveSettings
    intake: IntakeLog
    committer: GroupCommitter
    loader: Loader
    keys: KeyCache
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None
    last_flush_error: str | None = None

    @classmethod
    def build(cls, ws: Workspace, settings: LiveSettings) -> Services:
        intake = IntakeLog(ws.state)
        lock = threading.RLock()
        return cls(
            workspace=ws,
            settings=settings,
            intake=intake,
            committer=GroupCommitter(intake.append),
            loader=Loader(ws.engine, ws.state, settings, lock),
            keys=KeyCache(ws.state),
        )

    @property
    def policy(self) -> str:
        return self.workspace.settings.consent.policy

    def start(self, run_loader: bool = True) -> None:
        # Arrow's datetime conversion imports pandas on first use (seconds): pay it now,
        # not inside the first request's or the first flush's time.
        import pandas  # noqa: F401

        self.committer.start()
        if run_loader:
            self._thread = threading.Thread(target=self._loop, name="loader", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Answer every queued request, load what is left, close the stores."""
        self.committer.stop()
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
        try:
            self.loader.flush_all()
        except Exception:
            log.exception("final flush failed; the intake log keeps the events")
        self.workspace.close()

    @property
    def loader_alive(self) -> bool:
        return self._thread is None or self._thread.is_alive()

    def _loop(self) -> None:
        interval = self.settings.collect.flush_interval_seconds
        while not self._stop.wait(interval):
            try:
                backlog = self.settings.collect.flush_batch_size // 2
                while self.loader.flush().messages >= backlog and not self._stop.is_set():
                    pass  # a backlog: keep going without sleeping
                self.last_flush_error = None
            except Exception as err:  # keep the server up; the intake log keeps the events
                self.last_flush_error = type(err).__name__
                log.exception("flush failed; retrying in %.1f s", interval)
