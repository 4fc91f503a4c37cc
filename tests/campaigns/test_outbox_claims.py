"""Outbox claims on SQLite and on a real PostgreSQL: concurrent workers never share a message,
expired leases are taken over, keys are unique, waiting messages respect the watermark."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cvm.state.outbox import OutboxStore
from cvm.state.store import connect_state, upgrade_state

NOW = dt.datetime(2025, 3, 1, 12, 0, 0)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[OutboxStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'state.sqlite'}"
    else:
        url = request.getfixturevalue("fresh_postgres_db")
    engine = connect_state(url)
    upgrade_state(engine)
    try:
        yield OutboxStore(engine)
    finally:
        engine.dispose()


def message(i: int, **overrides: Any) -> dict[str, Any]:
    row = {
        "idempotency_key": f"key-{i:05d}", "campaign_id": "c1", "run_id": "r1",
        "customer_id": f"cust-{i % 97}", "step": "launch", "channel": "email",
        "purpose": "marketing", "address": f"p{i}@example.com", "language": "en",
        "time_zone": "UTC", "subject": "s", "body": "b", "html": None, "meta": {"offer_id": None},
        "status": "queued", "not_before": NOW, "created_at": NOW, "attempts": 0,
        "lease_until": None, "worker": None, "sent_at": None, "provider_id": None,
        "last_error": None, "cancel_event": None, "cancel_after": None, "history_pending": True,
    }  # fmt: skip
    return {**row, **overrides}


def test_keys_are_unique_and_a_rerun_adds_nothing(store: OutboxStore) -> None:
    rows = [message(i) for i in range(50)]
    assert len(store.enqueue(rows)) == 50
    assert store.enqueue(rows) == []
    assert store.counts() == {"queued": 50}


def test_concurrent_workers_claim_each_message_once(store: OutboxStore) -> None:
    total = 600
    store.enqueue([message(i) for i in range(total)])
    claimed: list[int] = []
    lock = threading.Lock()
    errors: list[BaseException] = []

    def work(name: str) -> None:
        try:
            while True:
                rows = store.claim(name, 25, NOW, NOW + dt.timedelta(minutes=5), None)
                if not rows:
                    return
                with lock:
                    claimed.extend(r["id"] for r in rows)
                sent = [{"id": r["id"], "at": NOW, "provider_id": name} for r in rows]
                store.complete(name, sent=sent)
        except BaseException as err:  # pragma: no cover - reported below
            errors.append(err)

    threads = [threading.Thread(target=work, args=(f"w{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(claimed) == total
    assert max(Counter(claimed).values()) == 1
    assert store.counts() == {"sent": total}


def test_expired_lease_is_taken_over_and_the_old_worker_cannot_overwrite(
    store: OutboxStore,
) -> None:
    store.enqueue([message(i) for i in range(5)])
    first = store.claim("dead-worker", 10, NOW, NOW + dt.timedelta(seconds=30), None)
    assert len(first) == 5 and all(r["attempts"] == 1 for r in first)
    assert store.claim("other", 10, NOW + dt.timedelta(seconds=10), NOW, None) == []
    later = NOW + dt.timedelta(seconds=31)
    again = store.claim("other", 10, later, later + dt.timedelta(seconds=30), None)
    assert sorted(r["id"] for r in again) == sorted(r["id"] for r in first)
    assert all(r["attempts"] == 2 for r in again)
    # The first worker wakes up and reports: its lease is gone, nothing changes.
    store.complete("dead-worker", dead=[{"id": r["id"], "detail": "late"} for r in first])
    assert store.counts() == {"sending": 5}
    store.complete("other", sent=[{"id": r["id"], "at": later, "provider_id": "p"} for r in again])
    assert store.counts() == {"sent": 5}


def test_retry_waits_for_its_time(store: OutboxStore) -> None:
    store.enqueue([message(1)])
    (row,) = store.claim("w", 10, NOW, NOW + dt.timedelta(minutes=1), None)
    retry_at = NOW + dt.timedelta(minutes=5)
    store.complete("w", retry=[{"id": row["id"], "not_before": retry_at, "attempts": 1}])
    assert store.claim("w", 10, NOW + dt.timedelta(minutes=4), NOW, None) == []
    assert len(store.claim("w", 10, retry_at, retry_at + dt.timedelta(minutes=1), None)) == 1


def test_waiting_message_needs_the_watermark_past_its_time(store: OutboxStore) -> None:
    due = NOW + dt.timedelta(hours=1)
    store.enqueue(
        [message(1, not_before=due, cancel_event="order_completed", cancel_after=NOW), message(2)]
    )
    late = due + dt.timedelta(minutes=1)
    lease = late + dt.timedelta(minutes=1)
    assert [r["idempotency_key"] for r in store.claim("w", 10, late, lease, None)] == ["key-00002"]
    assert store.claim("w", 10, late, lease, due - dt.timedelta(seconds=1)) == []
    assert store.claim("w", 10, late, lease, due) == []  # strictly after the due time
    after = due + dt.timedelta(microseconds=1)
    assert [r["idempotency_key"] for r in store.claim("w", 10, late, lease, after)] == ["key-00001"]


def test_a_cancelling_event_after_the_trigger_cancels(store: OutboxStore) -> None:
    store.enqueue(
        [
            message(1, customer_id="a", cancel_event="order_completed", cancel_after=NOW),
            message(2, customer_id="b", cancel_event="order_completed", cancel_after=NOW),
        ]
    )
    before = {"a": NOW - dt.timedelta(minutes=1)}  # bought before the cart: does not cancel
    assert store.cancel_waiting("c1", "order_completed", ["a"], before) == []
    after = {"a": NOW + dt.timedelta(minutes=1), "b": NOW + dt.timedelta(minutes=2)}
    assert sorted(store.cancel_waiting("c1", "order_completed", ["a", "b"], after)) == [
        "key-00001",
        "key-00002",
    ]
    assert store.counts() == {"cancelled": 2}
