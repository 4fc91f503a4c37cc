"""Shared scans: every behaviour condition of a query becomes a filtered aggregate, and all the
aggregates over one table are computed in ONE grouped scan of it.

A behaviour leaf ("performed page_view ≥ 3 times in 30 days") needs one number per customer: a
count, a sum, a first or last time over the rows that match its filters. Rather than one scan
of ``events`` per leaf, the compiler registers ``value FILTER (WHERE …)`` here, and `joins`
emits one ``SELECT customer_id, <all aggregates> FROM events … GROUP BY customer_id`` per table,
left-joined to ``customer_360``. Refreshing 50 segments therefore reads ``events`` once instead
of once per condition, and identical conditions (in several segments, or in a referenced
segment) are computed once. Three details keep the shared scan cheap:

- conditions every aggregate of a table shares (``occurred_at ≤ as_of``) move to its WHERE;
- each filter is a chain ``CASE WHEN name = … THEN <next> ELSE FALSE END``, so costly tests
  (JSON properties) only run on rows that already match the cheap ones;
- distinct counts (messages, orders) get a two-level aggregation of their own: engines run
  ``COUNT(DISTINCT …) FILTER (…)`` inside a wide grouped scan very slowly (DuckDB: ~3x the
  whole scan for a single such column).

``top`` conditions register a rank over the whole population the same way (one per field).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlglot.expressions as exp

TABLE_ALIASES = {"events": "_ev", "transactions": "_tx", "consents": "_cs"}
RANKS_ALIAS = "_rk"


def _text(e: exp.Expr) -> str:
    return e.sql(dialect="duckdb")


def chain(conditions: list[exp.Expr]) -> exp.Expr:
    """All conditions, evaluated left to right: later ones only on rows passing earlier ones."""
    if not conditions:
        return exp.true()
    if len(conditions) == 1:
        return conditions[0].copy()
    rest = chain(conditions[1:])
    return exp.Case(ifs=[exp.If(this=conditions[0].copy(), true=rest)], default=exp.false())


def with_filter(value: exp.Expr, condition: exp.Expr) -> exp.Expr:
    """Every aggregate inside ``value`` gets ``FILTER (WHERE condition)``."""

    def add(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.AggFunc) and not isinstance(node.parent, exp.Filter):
            return exp.Filter(this=node.copy(), expression=exp.Where(this=condition.copy()))
        return node

    return value.copy().transform(add)


@dataclass
class Registered:
    """Aggregates of one scan (a table, or a distinct key on it), deduplicated by SQL text."""

    prefix: str
    keys: dict[str, str] = field(default_factory=dict)
    items: list[tuple[str, exp.Expr | None, list[exp.Expr]]] = field(default_factory=list)

    def add(self, value: exp.Expr | None, filters: list[exp.Expr]) -> str:
        key = (_text(value) if value is not None else "") + "|" + "|".join(map(_text, filters))
        if key not in self.keys:
            self.keys[key] = f"{self.prefix}{len(self.keys)}"
            self.items.append((self.keys[key], value, filters))
        return self.keys[key]

    def common(self) -> list[exp.Expr]:
        """Conditions every aggregate has: they go to the scan's WHERE instead."""
        texts = [{_text(f) for f in filters} for _, _, filters in self.items]
        shared = set.intersection(*texts) if texts else set()
        first = self.items[0][2] if self.items else []
        return [f for f in first if _text(f) in shared]

    def specific(self, filters: list[exp.Expr], common: list[exp.Expr]) -> list[exp.Expr]:
        hoisted = {_text(c) for c in common}
        return [f for f in filters if _text(f) not in hoisted]


@dataclass
class AggregatePlan:
    tables: dict[str, Registered] = field(default_factory=dict)
    names: dict[str, set[str] | None] = field(default_factory=dict)
    distinct: dict[tuple[str, str], tuple[exp.Expr, Registered]] = field(default_factory=dict)
    ranks: dict[str, tuple[str, str]] = field(default_factory=dict)

    def aggregate(
        self,
        table: str,
        filters: list[exp.Expr],
        value: exp.Expr,
        names: list[str] | None,
        distinct: tuple[exp.Expr, exp.Expr | None] | None = None,
    ) -> exp.Column:
        """Register one leaf's aggregate over its matching rows; returns its column.

        ``names`` lists the event names the leaf can match (None: any row), so the scan can
        skip rows no registered condition looks at. ``distinct`` = (key, extra condition)
        marks a value that is the number of distinct non-null keys among the matching rows
        that also meet the extra condition.
        """
        seen = self.names.get(table, set())
        self.names[table] = None if names is None or seen is None else seen | set(names)
        alias = TABLE_ALIASES[table]
        if distinct is None:
            registered = self.tables.setdefault(table, Registered("a"))
            return exp.column(registered.add(value, filters), table=alias)
        key, extra = distinct
        group = (table, _text(key))
        _, registered = self.distinct.setdefault(group, (key, Registered("d")))
        index = list(self.distinct).index(group)
        marked = [*filters, extra] if extra is not None else filters
        return exp.column(registered.add(None, marked), table=f"{alias}_k{index}")

    def rank(self, field_name: str) -> tuple[exp.Column, exp.Column]:
        """(rank among customers with a value, highest first; how many have one)."""
        if field_name not in self.ranks:
            i = len(self.ranks)
            self.ranks[field_name] = (f"r{i}", f"n{i}")
        rank, count = self.ranks[field_name]
        return exp.column(rank, table=RANKS_ALIAS), exp.column(count, table=RANKS_ALIAS)

    def _where(self, table: str, common: list[exp.Expr], restriction: list[exp.Expr]) -> exp.Expr:
        where: list[exp.Expr] = [exp.column("customer_id").is_(exp.null()).not_()]
        names = self.names.get(table)
        if names:
            where.append(exp.column("name").isin(*(exp.Literal.string(n) for n in sorted(names))))
        return exp.and_(*where, *(c.copy() for c in common), *(r.copy() for r in restriction))

    def joins(
        self, source: dict[str, str], restriction: list[exp.Expr], customers: str
    ) -> list[tuple[exp.Subquery, str]]:
        """One grouped subquery per scan, plus the ranks; to left-join on customer_id.

        ``source`` maps a logical table to the table read; ``restriction`` limits the scans
        to some customers (never the ranks, which need the whole population).
        """
        out: list[tuple[exp.Subquery, str]] = []
        customer = exp.column("customer_id")
        for table, registered in self.tables.items():
            common = registered.common()
            columns = [
                with_filter(value, chain(registered.specific(filters, common))).as_(name)
                for name, value, filters in registered.items
                if value is not None
            ]
            query = (
                exp.select(customer.copy(), *columns)
                .from_(exp.to_table(source.get(table, table)))
                .where(self._where(table, common, restriction))
                .group_by(customer.copy())
            )
            out.append((query.subquery(TABLE_ALIASES[table]), TABLE_ALIASES[table]))
        for index, ((table, _), (key, registered)) in enumerate(self.distinct.items()):
            alias = f"{TABLE_ALIASES[table]}_k{index}"
            query = self._distinct_query(table, key, registered, source, restriction)
            out.append((query.subquery(alias), alias))
        if self.ranks:
            out.append((self._ranks_query(customers).subquery(RANKS_ALIAS), RANKS_ALIAS))
        return out

    def _distinct_query(
        self,
        table: str,
        key: exp.Expr,
        registered: Registered,
        source: dict[str, str],
        restriction: list[exp.Expr],
    ) -> exp.Select:
        """Per (customer, key): one marker per condition; then marked keys per customer."""
        customer = exp.column("customer_id")
        common = registered.common()
        conditions = [(n, chain(registered.specific(f, common))) for n, _, f in registered.items]
        any_condition = exp.or_(*(exp.paren(c.copy()) for _, c in conditions))
        where = exp.and_(self._where(table, common, restriction), exp.paren(any_condition))
        per_key = (
            exp.select(
                customer.copy(),
                key.copy().as_("k"),
                *(exp.func("BOOL_OR", c).as_(name) for name, c in conditions),
            )
            .from_(exp.to_table(source.get(table, table)))
            .where(where)
            .group_by(customer.copy(), key.copy())
        )
        known = exp.column("k").is_(exp.null()).not_()
        marked = [
            with_filter(exp.Count(this=exp.Star()), exp.and_(exp.column(n), known)).as_(n)
            for n, _ in conditions
        ]
        return (
            exp.select(customer.copy(), *marked)
            .from_(per_key.subquery("per_key"))
            .group_by(customer.copy())
        )

    def _ranks_query(self, customers: str) -> exp.Select:
        columns: list[exp.Expr] = [exp.column("customer_id")]
        for field_name, (rank, count) in self.ranks.items():
            value = exp.column(field_name, quoted=True)
            missing = exp.Is(this=value.copy(), expression=exp.null())
            ordered = exp.Window(
                this=exp.Rank(),
                partition_by=[missing],
                order=exp.Order(expressions=[exp.Ordered(this=value.copy(), desc=True)]),
                over="OVER",
            )
            columns.append(exp.If(this=missing.copy(), true=exp.null(), false=ordered).as_(rank))
            columns.append(exp.Window(this=exp.Count(this=value.copy()), over="OVER").as_(count))
        return exp.select(*columns).from_(exp.to_table(customers))
