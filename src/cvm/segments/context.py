"""What a compilation needs besides the tree: the evaluation time, the engine dialect, the
workspace consent policy, a way to look up other segments, and an optional customer subset."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import sqlglot.expressions as exp

from cvm.core.errors import UserInputError
from cvm.segments.definition import Node
from cvm.segments.plan import AggregatePlan

ConsentPolicy = Literal["opt_in", "opt_out"]
C360_ALIAS = "c"
"""Alias of `customer_360` in every compiled query; profile predicates read ``c.<column>``."""


def utc_naive(moment: dt.datetime | None) -> dt.datetime:
    """Warehouse timestamps are UTC without a zone; an aware ``as_of`` is converted to match."""
    if moment is None:
        return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    if moment.tzinfo is not None:
        return moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment


@dataclass(frozen=True)
class CompileContext:
    """``as_of`` is "now" for every relative window, so a result can be reproduced later."""

    as_of: dt.datetime
    dialect: str = "duckdb"
    consent_policy: ConsentPolicy = "opt_in"
    resolve: Callable[[str], Node] | None = None
    # Evaluate only these customers (live re-evaluation); None means everyone.
    customer_ids: tuple[str, ...] | None = None
    stack: tuple[str, ...] = ()
    # Logical table → the table to read instead (live refresh reads a few customers' rows).
    tables: Mapping[str, str] = field(default_factory=dict)
    # Aggregates and ranks the compiled predicates refer to (shared by referenced segments).
    plan: AggregatePlan = field(default_factory=AggregatePlan)

    def fresh(self) -> CompileContext:
        """The same settings with an empty plan: one plan per emitted query."""
        return replace(self, plan=AggregatePlan())

    def table(self, name: str) -> str:
        return self.tables.get(name, name)

    def entering(self, name: str) -> CompileContext:
        """The context inside a referenced segment; a name already on the stack is a cycle."""
        if name in self.stack:
            chain = " → ".join((*self.stack, name))
            raise UserInputError(f"segment reference cycle: {chain}")
        return replace(self, stack=(*self.stack, name))

    def referenced(self, name: str) -> Node:
        if self.resolve is None:
            raise UserInputError(f"segment {name!r} is referenced but no segment store is open")
        return self.resolve(name)

    def restriction(self, column: exp.Expr) -> list[exp.Expr]:
        """Extra filters limiting a per-customer scan to the requested customers."""
        if self.customer_ids is None:
            return []
        return [column.isin(*(exp.Literal.string(c) for c in self.customer_ids))]
