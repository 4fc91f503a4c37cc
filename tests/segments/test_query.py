"""Size, preview, export, overlap; the random bucket equals cvm.core.hashing.stable_bucket."""

from __future__ import annotations

from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from cvm.core.hashing import stable_bucket
from cvm.segments.compile import compile_segment
from cvm.segments.definition import SegmentDefinition
from cvm.segments.membership import refresh_memberships
from cvm.segments.query import export_segment, preview_segment, segment_overlap, segment_size
from tests.segments.conftest import Loaded
from tests.segments.data import AS_OF

QUERY_SEGMENTS = [
    {
        "name": "q_berlin_pro",
        "rule": {
            "kind": "all",
            "conditions": [
                {"kind": "near", "latitude": 52.52, "longitude": 13.405, "radius_km": 60},
                {"kind": "profile", "field": "traits.plan", "op": "in", "value": ["pro", "team"]},
                {"kind": "top", "field": "churn_propensity", "share": 0.8},
            ],
        },
    },
    {"name": "q_half", "rule": {"kind": "random", "salt": "query-test", "share": 0.5}},
    {"name": "q_buyers", "rule": {"kind": "purchase", "window": {"days": 365}}},
]


@pytest.fixture(scope="module")
def names(loaded: Loaded) -> list[str]:
    loaded.store.save_many(
        [SegmentDefinition.model_validate(d) for d in QUERY_SEGMENTS], replace=True
    )
    return [d["name"] for d in QUERY_SEGMENTS]


def members(loaded: Loaded, name: str) -> set[str]:
    store = loaded.store
    return {
        r[0]
        for r in loaded.ws.engine.fetch_rows(
            compile_segment(store.resolve(name), store.context(AS_OF))
        )
    }


def test_size_counts_members(loaded: Loaded, names: list[str]) -> None:
    for name in names:
        assert segment_size(loaded.store, name, AS_OF) == len(members(loaded, name)) > 0


def test_random_bucket_equals_stable_bucket(loaded: Loaded, names: list[str]) -> None:
    ids = loaded.data.customers["customer_id"]
    assert members(loaded, "q_half") == {c for c in ids if stable_bucket("query-test", c) < 0.5}


def test_preview_shows_fields_that_matter(loaded: Loaded, names: list[str]) -> None:
    table = preview_segment(loaded.store, "q_berlin_pro", limit=5, as_of=AS_OF)
    assert table.column_names == [
        "customer_id",
        "first_name",
        "last_name",
        "latitude",
        "longitude",
        "traits.plan",
        "churn_propensity",
        "clv",
    ]
    assert table.num_rows == min(5, len(members(loaded, "q_berlin_pro")))
    clv = [v for v in table.column("clv").to_pylist() if v is not None]
    assert clv == sorted(clv, reverse=True)
    assert set(table.column("traits.plan").to_pylist()) <= {"pro", "team"}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_export_writes_every_member(
    loaded: Loaded, names: list[str], tmp_path: Path, fmt: str
) -> None:
    out = tmp_path / f"members.{fmt}"
    rows = export_segment(loaded.store, "q_buyers", out, fmt, AS_OF)  # type: ignore[arg-type]
    table = pacsv.read_csv(out) if fmt == "csv" else pq.read_table(out)
    assert rows == table.num_rows == len(members(loaded, "q_buyers"))
    assert set(table.column("customer_id").to_pylist()) == members(loaded, "q_buyers")
    assert {"email", "phone", "clv"} <= set(table.column_names)


def test_export_of_empty_segment_writes_header(loaded: Loaded, tmp_path: Path) -> None:
    loaded.store.save(
        SegmentDefinition.model_validate(
            {
                "name": "q_nobody",
                "rule": {"kind": "profile", "field": "clv", "op": "lt", "value": -1},
            }
        ),
        replace=True,
    )
    out = tmp_path / "none.csv"
    assert export_segment(loaded.store, "q_nobody", out, "csv", AS_OF) == 0
    assert out.read_text().startswith('"customer_id"')
    loaded.store.delete("q_nobody")


def test_overlap_matrix(loaded: Loaded, names: list[str]) -> None:
    matrix = segment_overlap(loaded.store, names, AS_OF)
    sets = {n: members(loaded, n) for n in names}
    for a in names:
        for b in names:
            assert matrix.loc[a, b] == len(sets[a] & sets[b])
    refresh_memberships(loaded.ws.engine, names, AS_OF, store=loaded.store)
    assert segment_overlap(loaded.store, names, materialised=True).equals(matrix)
