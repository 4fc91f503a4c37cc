"""The key cache answers from memory only when it has nothing to look up or record, so the
async key check can stay on the event loop; revocation still takes effect within the TTL."""

from __future__ import annotations

import time
from pathlib import Path

from cvm.api.services import KeyCache
from cvm.state.keys import create_key, revoke_key
from cvm.workspace import init_workspace


def test_cache_hits_avoid_io_until_the_ttl_or_the_use_record_is_due(tmp_path: Path) -> None:
    ws = init_workspace(tmp_path / "ws")
    try:
        key, secret = create_key(ws.state, "write", "web")
        cache = KeyCache(ws.state, ttl=0.3)
        assert not cache.answers_without_io(secret)  # first sight: a store lookup
        assert cache.authenticate(secret) is not None
        assert cache.answers_without_io(secret)  # cached, use recorded a moment ago
        assert not cache.answers_without_io("not-a-key")
        assert cache.authenticate("not-a-key") is None
        assert cache.answers_without_io("not-a-key")  # a cached refusal needs no I/O either
        revoke_key(ws.state, key.id)
        time.sleep(0.35)
        assert not cache.answers_without_io(secret)  # expired: look again
        assert cache.authenticate(secret) is None  # and the revocation is seen
    finally:
        ws.close()
