"""Why a customer is (not) in a segment: every condition with its path, value and verdict.

Each leaf's verdict is the compiler's own predicate evaluated for this one customer, and its
number comes from the same aggregate the compiler tests, so the explanation cannot disagree
with membership; ``all`` / ``any`` / ``not`` combine the leaf verdicts, and the overall verdict
is checked against the compiled segment query.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlglot.expressions as exp

from cvm.core.errors import CvmError, NotFoundError
from cvm.profiles.contract import CUSTOMER_360_VIEW
from cvm.segments import behaviour
from cvm.segments.compile import compile_flags, compile_segment, customer_column
from cvm.segments.context import C360_ALIAS, CompileContext
from cvm.segments.definition import AllOf, AnyOf, Leaf, Node, Not, children, leaves
from cvm.segments.describe import describe_leaf
from cvm.segments.fields import FieldCatalog, field_catalog
from cvm.segments.store import SegmentStore


@dataclass
class NodeExplanation:
    path: str
    kind: str
    met: bool
    text: str
    children: list[NodeExplanation] = field(default_factory=list)

    def lines(self, depth: int = 0) -> list[str]:
        mark = "✓" if self.met else "✗"
        out = [f"{'  ' * depth}{self.path}: {self.text} {mark}"]
        for child in self.children:
            out += child.lines(depth + 1)
        return out

    def leaves(self) -> list[NodeExplanation]:
        if not self.children:
            return [self]
        return [leaf for c in self.children for leaf in c.leaves()]


@dataclass
class Explanation:
    segment: str
    customer_id: str
    as_of: dt.datetime
    member: bool
    tree: NodeExplanation

    def text(self) -> str:
        verdict = "is a member of" if self.member else "is not a member of"
        head = (
            f"customer {self.customer_id} {verdict} segment {self.segment!r} (as of {self.as_of})"
        )
        return "\n".join([head, *self.tree.lines(1)])


def _row_query(customer_id: str, *columns: exp.Expr) -> exp.Select:
    return (
        exp.select(*columns)
        .from_(exp.to_table(CUSTOMER_360_VIEW).as_(C360_ALIAS))
        .where(customer_column("customer_id").eq(exp.Literal.string(customer_id)))
    )


class Explainer:
    """Evaluates the leaves of one tree for one customer."""

    def __init__(self, store: SegmentStore, ctx: CompileContext, catalog: FieldCatalog) -> None:
        assert ctx.customer_ids is not None and len(ctx.customer_ids) == 1
        self.store, self.ctx, self.catalog = store, ctx, catalog
        self.customer_id = ctx.customer_ids[0]
        self._met: dict[str, bool] = {}

    def scalar(self, *columns: exp.Expr) -> tuple[object, ...]:
        rows = self.store.engine.fetch_rows(_row_query(self.customer_id, *columns))
        return rows[0] if rows else tuple(None for _ in columns)

    def aggregate(self, agg: behaviour.Aggregate) -> object:
        """The aggregate the compiler tests, over this customer's rows only."""
        customer = exp.column("customer_id").eq(exp.Literal.string(self.customer_id))
        query = (
            exp.select(agg.value)
            .from_(self.ctx.table(agg.table))
            .where(exp.and_(customer, *agg.filters))
        )
        return self.store.engine.fetch_scalar(query)

    def verdicts(self, rule: Node) -> None:
        """Every leaf's predicate for this customer, in one query (path → met)."""
        found: dict[str, Node] = dict(leaves(rule, "rule"))
        query, _ = compile_flags(found, self.ctx, self.catalog)
        rows = self.store.engine.fetch_rows(query)  # customer_id, then one flag per leaf
        values = rows[0][1:] if rows else tuple(False for _ in found)
        self._met = {path: bool(v) for path, v in zip(found, values, strict=True)}

    def explain(self, node: Node, path: str) -> NodeExplanation:
        if isinstance(node, AllOf | AnyOf | Not):
            kids = [self.explain(child, f"{path}.{step}") for step, child in children(node)]
            if isinstance(node, AllOf):
                met, text = all(k.met for k in kids), "all of"
            elif isinstance(node, AnyOf):
                met, text = any(k.met for k in kids), "any of"
            else:
                met, text = not kids[0].met, "not"
            return NodeExplanation(path, node.kind, met, text, kids)
        leaf: Leaf = node
        return NodeExplanation(path, leaf.kind, self._met[path], describe_leaf(leaf, self))


def explain_membership(
    store: SegmentStore, name: str, customer_id: str, as_of: dt.datetime | None = None
) -> Explanation:
    """Explain ``customer_id`` against stored segment ``name`` at ``as_of``."""
    definition = store.get(name).definition
    ctx = store.context(as_of, [customer_id])
    catalog = field_catalog(store.engine)
    explainer = Explainer(store, ctx.entering(name), catalog)
    (exists,) = explainer.scalar(exp.Count(this=exp.Star()))
    if not exists:
        raise NotFoundError(f"no customer {customer_id!r} in {CUSTOMER_360_VIEW}")
    explainer.verdicts(definition.rule)
    tree = explainer.explain(definition.rule, "rule")
    query = compile_segment(definition.rule, ctx.entering(name), catalog)
    member = bool(store.engine.fetch_rows(query))
    if member != tree.met:
        raise CvmError(
            f"internal error: explanation ({tree.met}) disagrees with membership ({member}) "
            f"for {customer_id!r} in {name!r}; please report it"
        )
    return Explanation(name, customer_id, ctx.as_of, member, tree)
