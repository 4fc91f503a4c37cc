"""A workspace loaded with the seeded synthetic data, shared by the segment tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cvm.segments.store import SegmentStore
from cvm.workspace import Workspace, init_workspace
from tests.segments.data import AS_OF, Warehouse, generate
from tests.segments.pandas_reference import Reference


@dataclass
class Loaded:
    ws: Workspace
    data: Warehouse
    store: SegmentStore
    _references: dict[tuple[str, object], Reference] = field(default_factory=dict)

    def reference(self, policy: str = "opt_in", as_of: object = AS_OF) -> Reference:
        """The pandas interpreter over the same data (cached: it parses every JSON once)."""
        key = (policy, as_of)
        if key not in self._references:
            d = self.data
            self._references[key] = Reference(
                d.customers,
                d.profiles,
                d.events,
                d.transactions,
                d.consents,
                as_of,  # type: ignore[arg-type]
                policy,
                self.store.resolve,
            )
        return self._references[key]


def load(root: Path, seed: int = 7) -> Loaded:
    ws = init_workspace(root)
    data = generate(seed)
    for name, table in data.arrow().items():
        ws.engine.write_arrow(name, table)
    return Loaded(ws, data, SegmentStore(ws.engine))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Loaded]:
    result = load(tmp_path_factory.mktemp("segments") / "ws")
    try:
        yield result
    finally:
        result.ws.close()
