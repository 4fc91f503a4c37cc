"""A workspace loaded with the seeded synthetic data, shared by the segment tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from cvm.engine.duckdb_engine import DuckDBEngine
from cvm.engine.warehouse import ensure_warehouse
from cvm.profiles.views import ensure_profile_tables
from cvm.segments.store import SegmentStore
from tests.segments.data import AS_OF, generate
from tests.segments.data import Warehouse as Data
from tests.segments.pandas_reference import Reference


@dataclass
class Warehouse:
    """Just the warehouse (in memory), for tests that need no state store or settings."""

    engine: DuckDBEngine

    def close(self) -> None:
        self.engine.close()


def bare_warehouse() -> Warehouse:
    engine = DuckDBEngine()
    ensure_warehouse(engine)
    ensure_profile_tables(engine)
    return Warehouse(engine)


@dataclass
class Loaded:
    ws: Warehouse
    data: Data
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


def load(seed: int = 7) -> Loaded:
    ws = bare_warehouse()
    data = generate(seed)
    for name, table in data.arrow().items():
        ws.engine.write_arrow(name, table)
    return Loaded(ws, data, SegmentStore(ws.engine))


@pytest.fixture(scope="session")
def loaded() -> Iterator[Loaded]:
    """Shared by all modules: tests that add segments or memberships clean up or use their own
    names, so they do not disturb each other."""
    result = load()
    try:
        yield result
    finally:
        result.ws.close()
