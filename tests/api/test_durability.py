"""A 200 means stored: SIGKILL the server mid-load, restart it, and every acknowledged
messageId is in the warehouse exactly once."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from cvm.state.intake import IntakeLog
from cvm.workspace import open_workspace
from tests.api.conftest import make_workspace
from tests.api.server import start_server, wait_for


@pytest.mark.slow
def test_acknowledged_events_survive_kill_9(tmp_path: Path) -> None:
    keys = make_workspace(tmp_path / "ws")
    server = start_server(tmp_path / "ws", tmp_path / "server.log")
    acked: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=server.url, auth=(keys.write, ""), timeout=5) as http:
            while not stop.is_set():
                ids = [f"k-{uuid.uuid4().hex}" for _ in range(50)]
                batch = [{"type": "track", "userId": f"u{i % 7}", "event": "Tick", "messageId": m}
                         for i, m in enumerate(ids)]  # fmt: skip
                try:
                    response = http.post("/v1/batch", json={"batch": batch})
                except httpx.TransportError:
                    return  # the server died with this request in flight: not acknowledged
                if response.status_code == 200:
                    with lock:
                        acked.extend(ids)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    assert wait_for(lambda: len(acked) >= 2_000, timeout=60), server.log()[-2000:]
    server.kill()  # mid-load: requests are in flight, the loader may be mid-flush
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert len(acked) >= 2_000

    restarted = start_server(tmp_path / "ws", tmp_path / "server2.log")
    restarted.stop()  # graceful: the final flush loads whatever the loader had not
    with open_workspace(tmp_path / "ws") as ws:
        assert IntakeLog(ws.state).counts()["pending"] == 0
        ws.engine.register_arrow("acked", pa.table({"id": acked}))
        missing = ws.engine.fetch_scalar(
            "SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = a.id)"
        )
        dupes = ws.engine.fetch_scalar("SELECT count(*) - count(DISTINCT event_id) FROM events")
    assert (missing, dupes) == (0, 0)
