"""After staging: duplicates, unknown customers, and the merge into the canonical table.

- **Duplicates within the run**: for each natural key (from the contract) the first occurrence,
  by (source, line), is kept; later ones are quarantined with a reason naming the key. Keys
  that repeat are found with a GROUP BY first, so the window runs only over those rows.
- **Unknown customers** (transactions and consents): per settings or the mapping, either a
  customer *stub* is created (id, and for transactions `signup_date` = first purchase in the
  run) or the rows are quarantined with "unknown customer_id".
- **Merge**, idempotent by natural key: customers and products *upsert* (an accepted row whose
  values differ updates the stored row; a blank value never erases a stored one); transactions,
  events and consents are *insert-if-absent* (a key already stored is left as it is).

Rows failing after staging go to the small `late` table (row, column, reason); the
accepted rows are the stage's good rows not in `late`. A staged row is identified by its
`rowid` in the stage table (its position in the run, in file order).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import sqlglot.expressions as exp

from cvm.core.contracts import CUSTOMERS
from cvm.engine.base import Engine
from cvm.engine.sql import literal
from cvm.ingest.plan import IngestPlan
from cvm.ingest.validate import BAD, col, value_columns

UPSERT_TABLES = ("customers", "products")
REFERENCES_CUSTOMER = ("transactions", "consents")
LINEAGE = ("_source", "_ingest_run", "_loaded_at")


@dataclass
class RunTables:
    """The run's temporary relations. A staged row is identified by its stage `rowid`."""

    stage: str
    late: str
    labels: list[str] = field(default_factory=list)  # source label per _file
    starts: list[int] = field(default_factory=list)  # first stage rowid per _file

    def files(self, alias: str = "f") -> exp.Values:
        """(_file, _source, _start) as an inline VALUES list: files are few, and a literal
        relation keeps the joins inside DuckDB (no Python object to scan)."""
        rows = [
            exp.Tuple(
                expressions=[exp.Literal.number(i), literal(label), exp.Literal.number(start)]
            )
            for i, (label, start) in enumerate(zip(self.labels, self.starts, strict=True))
        ]
        columns = [exp.to_identifier(c) for c in ("_file", "_source", "_start")]
        alias_ = exp.TableAlias(this=exp.to_identifier(alias), columns=columns)
        return exp.Values(expressions=rows, alias=alias_)


def _table(name: str, alias: str | None = None) -> exp.Table:
    table = exp.to_table(name, quoted=True)
    return table.as_(alias) if alias else table  # type: ignore[return-value]


def _ref(alias: str, name: str) -> exp.Column:
    return exp.column(name, table=alias, quoted=True)


def _all(conditions: list[exp.Expression]) -> exp.Expression:
    result = conditions[0]
    for condition in conditions[1:]:
        result = exp.And(this=result, expression=condition)
    return result


def _same(columns: tuple[str, ...] | list[str], left: str, right: str) -> exp.Expression:
    return _all([exp.EQ(this=_ref(left, c), expression=_ref(right, c)) for c in columns])


def create_temp(engine: Engine, name: str, select: exp.Expression) -> None:
    engine.execute(
        exp.Create(
            this=_table(name),
            kind="TABLE",
            replace=True,
            expression=select,
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]),
        )
    )


def create_late(engine: Engine, tables: RunTables) -> None:
    empty = exp.select(
        exp.cast(exp.Null(), "BIGINT").as_("_row"),
        exp.cast(exp.Null(), "VARCHAR").as_("column_name"),
        exp.cast(exp.Null(), "VARCHAR").as_("reason"),
    ).where(exp.false())
    create_temp(engine, tables.late, empty)


def _not_late(tables: RunTables, alias: str) -> exp.Expression:
    late = (
        exp.select(exp.Literal.number(1))
        .from_(_table(tables.late, "l"))
        .where(exp.EQ(this=_ref("l", "_row"), expression=_rowid(alias)))
    )
    return exp.Not(this=exp.Exists(this=late))


def _rowid(alias: str) -> exp.Column:
    return exp.column("rowid", table=alias)


def _good(alias: str) -> exp.Expression:
    return exp.Not(this=_ref(alias, BAD))


def _key_hash(alias: str | None, key: tuple[str, ...]) -> exp.Expr:
    columns = [_ref(alias, k) if alias else col(k) for k in key]
    return exp.func("HASH", *columns)


def find_duplicates(engine: Engine, plan: IngestPlan, tables: RunTables) -> None:
    """Quarantine every later occurrence (in file order) of a key already seen in this run.

    Most keys are unique, so grouping the full keys would build a hash table as large as the
    run. Grouping a 64-bit hash of the key is far smaller; only rows whose hash repeats are
    then compared on the real key (a hash collision costs a comparison, never a wrong
    refusal)."""
    key = plan.contract.key
    repeated = (
        exp.select(_key_hash(None, key).as_("_h"))
        .from_(_table(tables.stage))
        .where(exp.Not(this=col(BAD)))
        .group_by(exp.column("_h"))
        .having(exp.GT(this=exp.Count(this=exp.Star()), expression=exp.Literal.number(1)))
    )
    order = exp.Order(expressions=[exp.Ordered(this=_rowid("s"))])
    occurrence = exp.Window(
        this=exp.RowNumber(), partition_by=[_ref("s", k) for k in key], order=order
    )
    ranked = (
        exp.select(_rowid("s").as_("_row"), occurrence.as_("n"))
        .from_(_table(tables.stage, "s"))
        .join(
            repeated.subquery("d"),
            on=exp.EQ(this=_key_hash("s", key), expression=exp.column("_h", table="d")),
        )
        .where(_good("s"))
    )
    reason = f"duplicate {', '.join(key)} (first occurrence kept)"
    later = (
        exp.select(col("_row"), exp.Literal.string(", ".join(key)), exp.Literal.string(reason))
        .from_(ranked.subquery("r"))
        .where(exp.GT(this=col("n"), expression=exp.Literal.number(1)))
    )
    engine.execute(exp.Insert(this=_table(tables.late), expression=later))


def _unknown(alias: str, column: str = "customer_id") -> exp.Expression:
    known = (
        exp.select(exp.Literal.number(1))
        .from_(_table(CUSTOMERS.name, "c"))
        .where(exp.EQ(this=_ref("c", "customer_id"), expression=_ref(alias, column)))
    )
    return exp.Not(this=exp.Exists(this=known))


def quarantine_unknown_customers(engine: Engine, plan: IngestPlan, tables: RunTables) -> None:
    if plan.contract.name not in REFERENCES_CUSTOMER or plan.unknown_customer != "quarantine":
        return
    rows = (
        exp.select(
            _rowid("s"),
            exp.Literal.string("customer_id"),
            exp.Literal.string("unknown customer_id"),
        )
        .from_(_table(tables.stage, "s"))
        .where(_all([_good("s"), _not_late(tables, "s"), _unknown("s")]))
    )
    engine.execute(exp.Insert(this=_table(tables.late), expression=rows))


def _good_rows(tables: RunTables, any_late: bool) -> exp.Expression:
    return _all([_good("s"), _not_late(tables, "s")]) if any_late else _good("s")


def _accepted(
    plan: IngestPlan, tables: RunTables, run_id: str, loaded_at: dt.datetime, any_late: bool
) -> exp.Select:
    """The rows to merge, with their lineage columns."""
    values = [_ref("s", c) for c in value_columns(plan)]
    return (
        exp.select(
            *values,
            _ref("f", "_source"),
            literal(run_id).as_("_ingest_run"),
            literal(loaded_at).as_("_loaded_at"),
        )
        .from_(_table(tables.stage, "s"))
        .join(tables.files(), on=_same(("_file",), "s", "f"))
        .where(_good_rows(tables, any_late))
    )


def create_customer_stubs(
    engine: Engine,
    plan: IngestPlan,
    tables: RunTables,
    run_id: str,
    loaded_at: dt.datetime,
    any_late: bool = True,
) -> int:
    """Insert a stub for every customer the accepted rows name but the warehouse lacks.
    Rows are grouped by customer first, so the lookup runs once per customer, not per row."""
    if plan.contract.name not in REFERENCES_CUSTOMER or plan.unknown_customer != "create":
        return 0
    first_seen = _ref("s", "occurred_at") if plan.contract.name == "transactions" else exp.Null()
    per_customer = (
        exp.select(
            _ref("s", "customer_id"),
            exp.Min(this=exp.cast(first_seen, "TIMESTAMP")).as_("signup_date"),
            exp.Min(this=_ref("s", "_file")).as_("_file"),
        )
        .from_(_table(tables.stage, "s"))
        .where(_good_rows(tables, any_late))
        .group_by(_ref("s", "customer_id"))
    )
    stubs = (
        exp.select(
            _ref("u", "customer_id"),
            _ref("u", "signup_date"),
            _ref("f", "_source"),
            literal(run_id).as_("_ingest_run"),
            literal(loaded_at).as_("_loaded_at"),
        )
        .from_(per_customer.subquery("u"))
        .join(tables.files(), on=_same(("_file",), "u", "f"))
        .where(_unknown("u"))
    )
    columns = ["customer_id", "signup_date", *LINEAGE]
    return _dml_count(engine, _insert(CUSTOMERS.name, columns, stubs))


def _insert(table: str, columns: list[str], select: exp.Expression) -> exp.Insert:
    target = exp.Schema(
        this=_table(table), expressions=[exp.to_identifier(c, quoted=True) for c in columns]
    )
    return exp.Insert(this=target, expression=select)


def _dml_count(engine: Engine, statement: exp.Expression) -> int:
    """Rows an INSERT/UPDATE changed (DuckDB returns the count as the statement's result)."""
    return int(engine.fetch_scalar(statement) or 0)  # type: ignore[call-overload]


def merge(
    engine: Engine,
    plan: IngestPlan,
    tables: RunTables,
    run_id: str,
    loaded_at: dt.datetime,
    any_late: bool = True,
) -> tuple[int, int]:
    """Write the accepted rows; returns (inserted, updated)."""
    target = plan.contract.name
    key = plan.contract.key
    columns = value_columns(plan)
    accepted = _accepted(plan, tables, run_id, loaded_at, any_late)
    updated = 0
    if target in UPSERT_TABLES:
        values = [c for c in columns if c not in key]
        if values:
            # A blank (NULL) in the source never erases a stored value.
            changed = [
                exp.And(
                    this=exp.Not(this=exp.Is(this=_ref("a", c), expression=exp.Null())),
                    expression=exp.NullSafeNEQ(this=_ref("t", c), expression=_ref("a", c)),
                )
                for c in values
            ]
            any_change: exp.Expression = changed[0]
            for condition in changed[1:]:
                any_change = exp.Or(this=any_change, expression=condition)
            assignments = [
                exp.EQ(
                    this=exp.column(c, quoted=True),
                    expression=exp.Coalesce(this=_ref("a", c), expressions=[_ref("t", c)]),
                )
                for c in values
            ] + [exp.EQ(this=exp.column(c, quoted=True), expression=_ref("a", c)) for c in LINEAGE]
            update = exp.Update(
                this=_table(target, "t"),
                expressions=assignments,
                from_=exp.From(this=accepted.subquery("a")),
                where=exp.Where(
                    this=exp.And(this=_same(key, "t", "a"), expression=exp.Paren(this=any_change))
                ),
            )
            updated = _dml_count(engine, update)
    present = (
        exp.select(exp.Literal.number(1)).from_(_table(target, "t")).where(_same(key, "t", "a"))
    )
    fresh = (
        exp.select(*[_ref("a", c) for c in [*columns, *LINEAGE]])
        .from_(accepted.subquery("a"))
        .where(exp.Not(this=exp.Exists(this=present)))
    )
    inserted = _dml_count(engine, _insert(target, [*columns, *LINEAGE], fresh))
    return inserted, updated
