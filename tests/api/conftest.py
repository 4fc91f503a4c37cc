from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cvm.state.keys import create_key
from cvm.workspace import init_workspace
from tests.api.server import Server, running_server


@dataclass
class Keys:
    write: str
    read: str
    admin: str


def make_workspace(folder: Path) -> Keys:
    ws = init_workspace(folder)
    keys = Keys(*(create_key(ws.state, scope)[1] for scope in ("write", "read", "admin")))
    ws.close()
    return keys


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Keys]]:
    """One real server per test module, logging at debug level to a file we can inspect."""
    folder = tmp_path_factory.mktemp("live")
    keys = make_workspace(folder / "ws")
    with running_server(folder / "ws", folder / "server.log", log_level="debug") as server:
        yield server, keys
