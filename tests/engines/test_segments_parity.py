"""Segment compilation on every engine: every node kind, compiled once per engine dialect,
gives the same members; decision control groups (stable buckets in SQL) agree too."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
import sqlglot.expressions as exp
from pydantic import TypeAdapter

from cvm.decide.config import GlobalControl
from cvm.decide.control_groups import global_control_sql
from cvm.segments.compile import compile_flags, compile_segment, make_context
from cvm.segments.definition import Node
from tests.engines.conftest import Pair
from tests.segments.data import AS_OF
from tests.segments.test_compile_vs_pandas import BOOLEAN, LEAVES

NODE = TypeAdapter(Node)


def _flags(pair_engine: Any, nodes: dict[str, Node], policy: str = "opt_in") -> dict[str, set[str]]:
    ctx = make_context(AS_OF, dialect=pair_engine.dialect, consent_policy=policy)  # type: ignore[arg-type]
    query, names = compile_flags(nodes, ctx)
    table = pair_engine.fetch_arrow(query)
    ids = table.column("customer_id").to_pylist()
    return {
        key: {i for i, flag in zip(ids, table.column(col).to_pylist(), strict=True) if flag}
        for key, col in names.items()
    }


@pytest.mark.parametrize("kind", sorted(LEAVES))
def test_every_leaf_kind(segments: Pair, kind: str) -> None:
    """All conditions of one node kind in one shared-scan query (as a refresh runs them)."""
    nodes = {f"{kind}-{i}": NODE.validate_python(raw) for i, raw in enumerate(LEAVES[kind])}
    got = _flags(segments.engine, nodes)
    want = _flags(segments.baseline, nodes)
    assert got == want
    assert any(want.values()), "no condition of this kind has members: the test proves nothing"


def test_boolean_nodes_one_query_each(segments: Pair) -> None:
    """all / any / not, each compiled alone (``compile_segment``)."""
    for raw in BOOLEAN:
        node = NODE.validate_python(raw)
        members = []
        for engine in (segments.engine, segments.baseline):
            query = compile_segment(node, make_context(AS_OF, dialect=engine.dialect))
            members.append({r[0] for r in engine.fetch_rows(query)})
        assert members[0] == members[1], raw


def test_opt_out_consent_policy(segments: Pair) -> None:
    nodes = {f"c{i}": NODE.validate_python(raw) for i, raw in enumerate(LEAVES["consent"])}
    assert _flags(segments.engine, nodes, "opt_out") == _flags(segments.baseline, nodes, "opt_out")


def test_decision_global_control_group(segments: Pair) -> None:
    """The global control group of the decide stage, as SQL over the whole base."""
    control = GlobalControl(share=0.1)
    day = dt.date(2024, 6, 30)
    members = []
    for engine in (segments.engine, segments.baseline):
        cid = exp.column("customer_id")
        query = (
            exp.select("customer_id")
            .from_("customers")
            .where(global_control_sql(cid, control, day, engine.dialect))
        )
        members.append({r[0] for r in engine.fetch_rows(query)})
    assert members[0] == members[1]
    assert 5 < len(members[1]) < 60
