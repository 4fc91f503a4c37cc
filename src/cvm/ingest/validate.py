"""Validation: the checks of a contract, and the staging statement that applies them.

One scan of each source fills a temporary *stage* table with one row per parsed row: `_file`
(position of the source in the run), `_rec` (its ordinal), the typed canonical columns,
`_bad` (any check failed) and, for bad rows only, the prepared text of typed columns (`_p_*`)
and the raw row, so the reasons can be spelled out later without a second read of the file.

Checks, in this order, one quarantine entry per failing check:

- a malformed row (wrong number of fields, not JSON): the whole row, column empty;
- a required column with no value: "missing required value";
- text that does not parse as the column's type (`casting.type_reason`);
- a value outside the contract's minimum/maximum, or not one of its choices;
- a negative quantity when the settings (or the mapping) say returns are an error.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import sqlglot.expressions as exp

from cvm.ingest.casting import lit, prepared, type_reason, typed
from cvm.ingest.plan import ColumnPlan, IngestPlan

BAD = "_bad"
RAW = "_raw"
MALFORMED = "_malformed"
CONTENT = "_content"


def col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def p_name(name: str) -> str:
    return f"_p_{name}"


def _stores_prepared(plan: ColumnPlan) -> bool:
    """Text columns are their own prepared value; only typed columns keep the text aside."""
    return plan.column.type != "text" and not plan.derive


def _prepared_ref(plan: ColumnPlan) -> exp.Expression:
    return col(p_name(plan.name)) if _stores_prepared(plan) else col(plan.name)


def _is_null(value: exp.Expression) -> exp.Expression:
    return exp.Is(this=value, expression=exp.Null())


def _not_null(value: exp.Expression) -> exp.Expression:
    return exp.Not(this=_is_null(value))


@dataclass(frozen=True)
class Check:
    column: str
    reason: str
    condition: exp.Expression  # over stage columns; TRUE means the row fails

    @property
    def safe(self) -> exp.Expression:
        """The condition with NULL read as "passes" (a NULL value fails only `required`)."""
        return exp.Coalesce(this=self.condition.copy(), expressions=[exp.false()])


def _number(value: float) -> str:
    return f"{value:g}"


def checks(plan: IngestPlan) -> list[Check]:
    """Every value-level check of the plan's columns, as conditions over stage columns."""
    out: list[Check] = []
    for cp in plan.columns:
        column, value = cp.column, col(cp.name)
        if cp.derive:
            continue
        if column.required:
            out.append(Check(cp.name, "missing required value", _is_null(_prepared_ref(cp))))
        if _stores_prepared(cp):
            failed = exp.And(this=_not_null(_prepared_ref(cp)), expression=_is_null(value.copy()))
            out.append(Check(cp.name, type_reason(cp), failed))
        if column.minimum is not None:
            floor = exp.Literal.number(column.minimum)
            reason = f"below minimum {_number(column.minimum)}"
            out.append(Check(cp.name, reason, exp.LT(this=value.copy(), expression=floor)))
        if column.maximum is not None:
            ceiling = exp.Literal.number(column.maximum)
            reason = f"above maximum {_number(column.maximum)}"
            out.append(Check(cp.name, reason, exp.GT(this=value.copy(), expression=ceiling)))
        if column.choices:
            allowed = [lit(c) for c in column.choices]
            condition = exp.Not(this=exp.In(this=value.copy(), expressions=allowed))
            out.append(Check(cp.name, f"not one of {', '.join(column.choices)}", condition))
        if cp.name == "quantity" and plan.negative_quantity == "error":
            negative = exp.LT(this=value.copy(), expression=exp.Literal.number(0))
            out.append(Check(cp.name, "negative quantity (returns refused by settings)", negative))
    return out


def _any(conditions: list[exp.Expression]) -> exp.Expression:
    if not conditions:
        return exp.false()
    result = conditions[0]
    for condition in conditions[1:]:
        result = exp.Or(this=result, expression=condition)
    return result


def _is_return(plan: IngestPlan) -> exp.Expression | None:
    """Returns are negative lines: by quantity when there is one, else by amount."""
    if not plan.compute_is_return:
        return None
    zero = exp.Literal.number(0)
    if plan.get("quantity") is not None:
        by_quantity = exp.LT(this=col("quantity"), expression=zero)
        if plan.get("amount") is None:
            return exp.Coalesce(this=by_quantity, expressions=[exp.false()])
        by_amount = exp.LT(this=col("amount"), expression=zero.copy())
        either = exp.Case().when(_is_null(col("quantity")), by_amount).else_(by_quantity.copy())
        return exp.Coalesce(this=either, expressions=[exp.false()])
    by_amount = exp.LT(this=col("amount"), expression=zero)
    return exp.Coalesce(this=by_amount, expressions=[exp.false()])


def content_hash(plan: IngestPlan) -> exp.Expression:
    """md5 of the row's typed values (all mapped columns but the derived key), in contract order."""
    parts: list[exp.Expression] = [lit("\x1f")]
    for cp in plan.columns:
        if not cp.derive:
            text = exp.cast(col(cp.name), "VARCHAR")
            parts.append(exp.Coalesce(this=text, expressions=[lit("")]))
    return exp.MD5(this=exp.ConcatWs(expressions=parts))


def derived_key(order: list[exp.Expression]) -> exp.Expression:
    """`<16 hex digits of the content hash>-<occurrence>`: identical rows stay distinct rows,
    and the same file always yields the same ids (so re-ingesting it adds nothing)."""
    digest = exp.Substring(
        this=col(CONTENT), start=exp.Literal.number(1), length=exp.Literal.number(16)
    )
    occurrence = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col(CONTENT)],
        order=exp.Order(expressions=[exp.Ordered(this=o) for o in order]),
    )
    return exp.DPipe(
        this=exp.DPipe(this=digest, expression=lit("-")), expression=exp.cast(occurrence, "VARCHAR")
    )


def stage_select(
    plan: IngestPlan,
    view: str,
    file_index: int,
    raw: exp.Expression,
    malformed: exp.Expression,
    source_column: Callable[[str], exp.Expression],
) -> exp.Select:
    """The staging SELECT for one opened source: parse, type, check, keep what the quarantine
    needs for bad rows only. Built in layers (DuckDB merges them into one projection)."""
    rec = col("_rec")
    cleaned = [
        prepared(cp, source_column(cp.source) if cp.source else None, plan.null_values).as_(
            p_name(cp.name), quoted=True
        )
        for cp in plan.columns
        if not cp.derive
    ]
    raw_text, reason = exp.cast(raw, "VARCHAR"), exp.cast(malformed, "VARCHAR")
    layer1 = exp.select(rec, *cleaned, raw_text.as_(RAW), reason.as_(MALFORMED)).from_(
        exp.to_table(view, quoted=True)
    )
    typed_values = [
        typed(cp, col(p_name(cp.name))).as_(cp.name, quoted=True)
        for cp in plan.columns
        if not cp.derive
    ]
    kept = [col(p_name(cp.name)) for cp in plan.columns if _stores_prepared(cp)]
    layer2 = exp.select(rec, *kept, *typed_values, col(RAW), col(MALFORMED)).from_(
        layer1.subquery("parsed")
    )
    derived = plan.derived
    values: list[exp.Expr] = [col(cp.name) for cp in plan.columns if not cp.derive]
    if derived is not None:
        with_hash = exp.select(
            rec, *kept, *values, col(RAW), col(MALFORMED), content_hash(plan).as_(CONTENT)
        )
        layer2 = with_hash.from_(layer2.subquery("typed"))
        values.append(derived_key([rec.copy()]).as_(derived.name, quoted=True))
    failing = [c.safe for c in checks(plan)]
    bad = (
        exp.Or(this=_not_null(col(MALFORMED)), expression=_any(failing))
        if failing
        else _not_null(col(MALFORMED))
    )
    returns = _is_return(plan)
    extra = [returns.as_("is_return", quoted=True)] if returns is not None else []
    layer3 = exp.select(rec, *values, *extra, *kept, col(RAW), col(MALFORMED), bad.as_(BAD)).from_(
        layer2.subquery("checked")
    )
    only_bad = [
        exp.Case().when(col(BAD), k.copy()).as_(k.name, quoted=True) for k in [*kept, col(RAW)]
    ]
    names = [cp.name for cp in plan.columns] + (["is_return"] if extra else [])
    return exp.select(
        exp.Literal.number(file_index).as_("_file"),
        rec.copy(),
        *[col(n) for n in names],
        col(MALFORMED),
        col(BAD),
        *only_bad,
    ).from_(layer3.subquery("staged"))


def value_columns(plan: IngestPlan) -> list[str]:
    """The canonical columns a run writes (mapped ones, plus a computed `is_return`)."""
    return plan.names + (["is_return"] if plan.compute_is_return else [])
