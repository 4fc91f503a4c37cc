"""Group commit: many concurrent requests share one durable transaction.

Each request hands its rows to `submit` and waits; a single writer thread takes everything
queued, writes it in one transaction (one fsync), then answers every waiting request. Under
load that turns hundreds of commits per second into a few dozen, with the same guarantee: a
request is answered only after its rows are committed. If a shared write fails, the items are
retried one by one so a single bad request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

Rows = Sequence[dict[str, Any]]
WriteFn = Callable[[Rows, Rows], None]


@dataclass
class _Item:
    rows: Rows
    rejects: Rows
    future: Future[None] = field(default_factory=Future)


class GroupCommitter:
    """One writer thread that commits queued row sets together."""

    def __init__(self, write: WriteFn, max_rows: int = 10_000) -> None:
        self._write = write
        self._max_rows = max_rows
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.commits = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="intake-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish everything queued, then end the writer thread."""
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join()
            self._thread = None

    def submit(self, rows: Rows, rejects: Rows = ()) -> Future[None]:
        if self._thread is None:
            raise RuntimeError("the intake writer is not running")
        item = _Item(rows, rejects)
        self._queue.put(item)
        return item.future

    async def commit(self, rows: Rows, rejects: Rows = ()) -> None:
        """Wait until `rows` are durably committed (raises if they could not be)."""
        await asyncio.wrap_future(self.submit(rows, rejects))

    def _run(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is None:
                break
            items = [first]
            size = len(first.rows)
            while size < self._max_rows:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    stopping = True
                    break
                items.append(nxt)
                size += len(nxt.rows)
            self._commit(items)

    def _commit(self, items: list[_Item]) -> None:
        try:
            self._write([r for i in items for r in i.rows], [r for i in items for r in i.rejects])
            self.commits += 1
        except Exception:
            if len(items) == 1:
                log.exception("intake write failed")
                items[0].future.set_exception(RuntimeError("intake write failed"))
                return
            for item in items:
                self._commit([item])
            return
        for item in items:
            item.future.set_result(None)
