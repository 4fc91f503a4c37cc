"""From source text to a typed value, as sqlglot expressions (one per column).

Two steps per column, so a failure can be told apart from a missing value:

1. *prepared* text: spaces trimmed, empty strings and the mapping's `null_values` made NULL,
   the `default` filled in, id transforms (`zero_pad`, `strip_leading_zeros`, case), and
   numbers normalised (thousands separator removed, decimal comma made a point);
2. *typed* value: `TRY_CAST` or `TRY_STRPTIME` into the contract type, NULL when the text does
   not parse, so "prepared is not NULL but typed is NULL" is exactly a type error.

Money is cast straight to DECIMAL(18,4); a `multiply` (units, e.g. cents x 0.01) goes through
DOUBLE first because DECIMAL multiplication can overflow and abort the whole statement, and
rounding the product to 4 decimals is exact for amounts below 2^53 / 10^4. Timestamps with an
explicit offset (`...+03:00`) are converted to UTC; naive ones are read in the column's time
zone (mapping `timezone`, else the workspace's) and converted to UTC.
"""

from __future__ import annotations

import sqlglot.expressions as exp

from cvm.core.contracts import MONEY
from cvm.ingest.plan import ColumnPlan

# A time followed by a UTC offset: only these strings need the zone-aware cast.
OFFSET_PATTERN = r"\d:\d\d(:\d\d(\.\d+)?)?\s*([+-]\d\d(:?\d\d)?|Z)$"


def lit(value: str) -> exp.Literal:
    return exp.Literal.string(value)


def _trimmed(value: exp.Expression) -> exp.Expression:
    # TRIM allocates a new string for every row; the LIKE tests do not, and most values
    # need no trimming, so trim only those that start or end with a space.
    needs = exp.Or(
        this=exp.Like(this=value, expression=lit(" %")),
        expression=exp.Like(this=value.copy(), expression=lit("% ")),
    )
    return exp.Case().when(needs, exp.Trim(this=value.copy())).else_(value.copy())


def _nulled(value: exp.Expression, null_values: tuple[str, ...]) -> exp.Expression:
    if not null_values:
        return exp.Nullif(this=value, expression=lit(""))
    markers = [lit(""), *[lit(v) for v in null_values]]
    return exp.Case().when(exp.In(this=value, expressions=markers), exp.Null()).else_(value.copy())


def prepared(
    plan: ColumnPlan, source: exp.Expression | None, null_values: tuple[str, ...]
) -> exp.Expr:
    """The column's text after cleaning, before typing (NULL means "no value")."""
    if plan.constant is not None:
        return lit(plan.constant)
    if source is None:
        return exp.Null()
    value: exp.Expr = _nulled(_trimmed(source), null_values)
    if plan.default is not None:
        value = exp.Coalesce(this=value, expressions=[lit(plan.default)])
    spec = plan.spec
    if spec.zero_pad:
        width = exp.Literal.number(spec.zero_pad)
        padded = exp.Pad(this=value.copy(), expression=width, fill_pattern=lit("0"), is_left=True)
        # LPAD cuts longer strings down to the width; an id longer than the pad stays whole.
        value = (
            exp.Case()
            .when(exp.LT(this=exp.Length(this=value.copy()), expression=width), padded)
            .else_(value)
        )
    if spec.strip_leading_zeros:
        # "000" is the id 0, not an empty id; NULL stays NULL (the comparison is NULL).
        stripped = exp.Trim(this=value.copy(), expression=lit("0"), position="LEADING")
        value = (
            exp.Case()
            .when(exp.EQ(this=stripped.copy(), expression=lit("")), lit("0"))
            .else_(stripped)
        )
    if spec.lowercase:
        value = exp.Lower(this=value)
    if spec.uppercase:
        value = exp.Upper(this=value)
    if plan.column.type in ("integer", "decimal", "double"):
        if plan.thousands_separator:
            value = exp.func("REPLACE", value, lit(plan.thousands_separator), lit(""))
        if plan.decimal_separator == ",":
            value = exp.func("REPLACE", value, lit(","), lit("."))
    return value


def _timestamp(value: exp.Expression, plan: ColumnPlan) -> exp.Expression:
    utc = lit("UTC")
    if plan.formats:
        parsed: list[exp.Expression] = []
        for fmt in plan.formats:
            if "%z" in fmt or "%Z" in fmt:
                zoned: exp.Expr = exp.Anonymous(
                    this="TRY_STRPTIME", expressions=[value.copy(), lit(fmt)]
                )
                parsed.append(exp.AtTimeZone(this=zoned, zone=utc))
            else:
                parsed.append(
                    _naive_to_utc(
                        exp.StrToTime(this=value.copy(), format=lit(fmt), safe=True), plan
                    )
                )
        return (
            parsed[0] if len(parsed) == 1 else exp.Coalesce(this=parsed[0], expressions=parsed[1:])
        )
    has_offset = exp.RegexpLike(this=value.copy(), expression=lit(OFFSET_PATTERN))
    zoned = exp.AtTimeZone(
        this=exp.TryCast(this=value.copy(), to=exp.DataType.build("TIMESTAMPTZ")), zone=utc
    )
    naive = _naive_to_utc(exp.TryCast(this=value.copy(), to=exp.DataType.build("TIMESTAMP")), plan)
    return exp.Case().when(has_offset, zoned).else_(naive)


def _naive_to_utc(value: exp.Expression, plan: ColumnPlan) -> exp.Expression:
    if plan.timezone.upper() in ("UTC", "ETC/UTC", "Z"):
        return value
    local = exp.AtTimeZone(this=value, zone=lit(plan.timezone))
    return exp.AtTimeZone(this=local, zone=lit("UTC"))


def _boolean(value: exp.Expression, plan: ColumnPlan) -> exp.Expression:
    spec = plan.spec
    if spec.true_values is None and spec.false_values is None:
        return exp.TryCast(this=value, to=exp.DataType.build("BOOLEAN"))
    lowered = exp.Lower(this=value)
    case = exp.Case()
    if spec.true_values:
        case = case.when(
            exp.In(this=lowered.copy(), expressions=[lit(v.lower()) for v in spec.true_values]),
            exp.true(),
        )
    if spec.false_values:
        case = case.when(
            exp.In(this=lowered.copy(), expressions=[lit(v.lower()) for v in spec.false_values]),
            exp.false(),
        )
    return case


def typed(plan: ColumnPlan, value: exp.Expression) -> exp.Expr:
    """The prepared text as a value of the contract type, NULL when it does not parse."""
    multiply = plan.spec.multiply
    match plan.column.type:
        case "text":
            return exp.Lower(this=value) if plan.name == "email" else value
        case "integer":
            number = exp.TryCast(this=value, to=exp.DataType.build("BIGINT"))
            if multiply is not None:
                scaled = exp.Mul(
                    this=exp.TryCast(this=value.copy(), to=exp.DataType.build("DOUBLE")),
                    expression=exp.Literal.number(multiply),
                )
                number = exp.TryCast(this=exp.Round(this=scaled), to=exp.DataType.build("BIGINT"))
            return number
        case "decimal":
            if multiply is None:
                return exp.TryCast(this=value, to=exp.DataType.build(MONEY))
            scaled = exp.Mul(
                this=exp.TryCast(this=value, to=exp.DataType.build("DOUBLE")),
                expression=exp.Literal.number(multiply),
            )
            return exp.TryCast(this=scaled, to=exp.DataType.build(MONEY))
        case "double":
            number = exp.TryCast(this=value, to=exp.DataType.build("DOUBLE"))
            return (
                number
                if multiply is None
                else exp.Mul(this=number, expression=exp.Literal.number(multiply))
            )
        case "boolean":
            return _boolean(value, plan)
        case "date":
            if not plan.formats:
                return exp.TryCast(this=value, to=exp.DataType.build("DATE"))
            dates: list[exp.Expression] = [
                exp.StrToDate(this=value.copy(), format=lit(f), safe=True) for f in plan.formats
            ]
            return (
                dates[0] if len(dates) == 1 else exp.Coalesce(this=dates[0], expressions=dates[1:])
            )
        case "timestamp":
            return _timestamp(value, plan)
        case "json":
            return exp.TryCast(this=value, to=exp.DataType.build("JSON"))


def type_reason(plan: ColumnPlan) -> str:
    """The quarantine reason when the text does not parse as the column's type."""
    formats = " or ".join(plan.formats)
    match plan.column.type:
        case "integer":
            return "not a whole number"
        case "decimal" | "double":
            return (
                "not a number" if plan.column.type == "double" else "not a number (or out of range)"
            )
        case "boolean":
            return "not true/false"
        case "date":
            return f"not a date in format {formats}" if formats else "not a date (YYYY-MM-DD)"
        case "timestamp":
            return (
                f"not a timestamp in format {formats}" if formats else "not a timestamp (ISO 8601)"
            )
        case "json":
            return "not valid JSON"
    return "invalid value"
