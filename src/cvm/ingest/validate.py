"""Validation: the checks of a contract, and the staging statement that applies them.

One scan of each source fills a temporary *stage* table with one row per parsed row: `_file`
(position of the source in the run), `_rec` (the reader's ordinal, when it numbers rows; else
the row's position in the stage, its `rowid`, numbers it), the typed canonical columns, `_bad`
(any check failed) and, for bad rows only, `_detail`: a JSON text holding the raw row, the
malformation and the prepared text of typed columns (`_p_*`), so the reasons can be spelled out
later without a second read of the file.

Checks, in this order, one quarantine entry per failing check:

- a malformed row (wrong number of fields, not JSON): the whole row, column empty;
- a required column with no value: "missing required value";
- text that does not parse as the column's type (`casting.type_reason`);
- a value outside the contract's minimum/maximum, or not one of its choices;
- a negative quantity when the settings (or the mapping) say returns are an error.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
import sqlglot.expressions as exp

from cvm.ingest.casting import lit, prepared, type_reason, typed
from cvm.ingest.plan import ColumnPlan, IngestPlan

BAD = "_bad"
RAW = "_raw"
MALFORMED = "_malformed"
CONTENT = "_content"
DETAIL = "_detail"


def col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def p_name(name: str) -> str:
    return f"_p_{name}"


def stores_prepared(plan: ColumnPlan) -> bool:
    """Text columns are their own prepared value; only typed columns keep the text aside."""
    return plan.column.type != "text" and not plan.derive


def _prepared_ref(plan: ColumnPlan) -> exp.Expression:
    return col(p_name(plan.name)) if stores_prepared(plan) else col(plan.name)


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
        if stores_prepared(cp):
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
    mapped = set(plan.names)
    for rule in plan.contract.row_rules:
        refuse = sqlglot.parse_one(rule.refuse_when, read="duckdb")
        # A rule applies only when the file maps every column it reads.
        if {c.name for c in refuse.find_all(exp.Column)} <= mapped:
            out.append(
                Check(
                    rule.column,
                    rule.reason,
                    exp.Coalesce(this=refuse, expressions=[exp.false()]),
                )
            )
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


def derived_key_update(stage: str, plan: IngestPlan) -> exp.Update | None:
    """Fill the derived key after staging: `<16 hex digits of the content hash>-<occurrence>`,
    the occurrence counted within the file in file order (the stage's rowid). Identical rows
    stay distinct rows, and the same file always yields the same ids, so re-ingesting it adds
    nothing. (A window in the staging scan would force it onto one thread.)"""
    derived = plan.derived
    if derived is None:
        return None
    digest = exp.Substring(
        this=col(CONTENT), start=exp.Literal.number(1), length=exp.Literal.number(16)
    )
    occurrence = exp.Window(
        this=exp.RowNumber(),
        partition_by=[col("_file"), col(CONTENT)],
        order=exp.Order(expressions=[exp.Ordered(this=exp.column("rowid"))]),
    )
    key = exp.DPipe(
        this=exp.DPipe(this=digest, expression=lit("-")), expression=exp.cast(occurrence, "VARCHAR")
    )
    ids = exp.select(exp.column("rowid").as_("_row"), key.as_("_id")).from_(
        exp.to_table(stage, quoted=True)
    )
    return exp.Update(
        this=exp.to_table(stage, quoted=True),
        expressions=[exp.EQ(this=col(derived.name), expression=exp.column("_id", table="d"))],
        from_=exp.From(this=ids.subquery("d")),
        where=exp.Where(
            this=exp.EQ(
                this=exp.column("rowid", table=stage, quoted=False),
                expression=exp.column("_row", table="d"),
            )
        ),
    )


def stage_select(
    plan: IngestPlan,
    view: str,
    file_index: int,
    raw: exp.Expression,
    malformed: exp.Expression,
    numbered: bool,
) -> exp.Select:
    """The staging SELECT for one opened source: parse, type, check, and keep what the
    quarantine needs for bad rows only. Built in layers that DuckDB merges into projections;
    the source columns the raw row needs are only passed through, so the raw text is built
    for bad rows alone, and nothing in it is order-dependent, so the scan runs in parallel."""
    rec: exp.Expression = col("_rec") if numbered else exp.cast(exp.Null(), "BIGINT")
    cleaned = [
        prepared(cp, col(cp.source) if cp.source else None, plan.null_values).as_(
            p_name(cp.name), quoted=True
        )
        for cp in plan.columns
        if not cp.derive
    ]
    # Source columns referenced by the raw-row expression travel as _src_N to the last layer.
    names = sorted({c.name for c in raw.find_all(exp.Column)})
    alias = {name: f"_src_{i}" for i, name in enumerate(names)}
    passed = [col(alias[n]) for n in names]
    raw_late = raw.copy().transform(
        lambda node: (
            col(alias[node.name]) if isinstance(node, exp.Column) and node.name in alias else node
        )
    )
    layer1 = exp.select(
        rec.as_("_rec"),
        *cleaned,
        *[col(n).as_(alias[n], quoted=True) for n in names],
        exp.cast(malformed, "VARCHAR").as_(MALFORMED),
    ).from_(exp.to_table(view, quoted=True))
    typed_values = [
        typed(cp, col(p_name(cp.name))).as_(cp.name, quoted=True)
        for cp in plan.columns
        if not cp.derive
    ]
    kept = [col(p_name(cp.name)) for cp in plan.columns if stores_prepared(cp)]
    layer2 = exp.select(col("_rec"), *kept, *typed_values, *passed, col(MALFORMED)).from_(
        layer1.subquery("parsed")
    )
    values: list[exp.Expr] = [col(cp.name) for cp in plan.columns if not cp.derive]
    derived = plan.derived
    if derived is not None:
        values += [exp.cast(exp.Null(), "VARCHAR").as_(derived.name, quoted=True)]
        values += [content_hash(plan).as_(CONTENT)]
    failing = [c.safe for c in checks(plan)]
    bad = _any([_not_null(col(MALFORMED)), *failing])
    returns = _is_return(plan)
    extra = [returns.as_("is_return", quoted=True)] if returns is not None else []
    layer3 = exp.select(
        col("_rec"),
        *values,
        *extra,
        *kept,
        *[p.copy() for p in passed],
        col(MALFORMED),
        bad.as_(BAD),
    ).from_(layer2.subquery("checked"))
    # Everything the quarantine needs about a bad row travels in one JSON text column, NULL
    # for good rows: one nullable column costs the stage far less than one per value.
    detail = exp.JSONObject(
        expressions=[
            exp.JSONKeyValue(this=lit(RAW), expression=exp.cast(raw_late, "VARCHAR")),
            exp.JSONKeyValue(this=lit(MALFORMED), expression=col(MALFORMED)),
            *[exp.JSONKeyValue(this=lit(k.name), expression=k.copy()) for k in kept],
        ]
    )
    out = [cp.name for cp in plan.columns] + (["is_return"] if extra else [])
    out += [CONTENT] if derived is not None else []
    return exp.select(
        exp.Literal.number(file_index).as_("_file"),
        col("_rec"),
        *[col(n) for n in out],
        col(BAD),
        exp.Case().when(col(BAD), exp.cast(detail, "VARCHAR")).as_(DETAIL),
    ).from_(layer3.subquery("staged"))


def unpack_detail(name: str) -> exp.Expression:
    """One field of a bad row's `_detail` JSON, as text."""
    path = exp.JSONPath(expressions=[exp.JSONPathRoot(), exp.JSONPathKey(this=name)])
    return exp.JSONExtractScalar(this=col(DETAIL), expression=path)


def value_columns(plan: IngestPlan) -> list[str]:
    """The canonical columns a run writes (mapped ones, plus a computed `is_return`)."""
    return plan.names + (["is_return"] if plan.compute_is_return else [])
