"""Comparison, time-window and distance predicates as sqlglot expressions.

Every value from a definition enters SQL as a sqlglot literal, never as pasted text. Every
predicate returned here is two-valued (TRUE/FALSE, never NULL), so ``not`` in a rule tree means
exactly "not a member": a comparison on a missing value is false, and ``ne`` / ``not_in`` /
``not_set`` are the exact negations of ``eq`` / ``in`` / ``is_set``.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlglot.expressions as exp

from cvm.core.contracts import LogicalType
from cvm.segments.definition import Scalar, Value, Window
from cvm.segments.fields import TEMPORAL

EARTH_RADIUS_KM = 6371.0088
"""Mean Earth radius (IUGG, Moritz 2000, "Geodetic Reference System 1980")."""


def two_valued(predicate: exp.Expr) -> exp.Expr:
    """NULL (unknown) counts as false, so every node is a plain yes/no per customer."""
    # Trees are built fresh and never shared, so builders need not copy (copy=False).
    return exp.func("COALESCE", exp.paren(predicate, copy=False), exp.false())


def negate(predicate: exp.Expr) -> exp.Expr:
    return exp.not_(exp.paren(predicate, copy=False), copy=False)


def timestamp_literal(moment: dt.datetime) -> exp.Expr:
    return exp.cast(exp.Literal.string(moment.isoformat(sep=" ")), "TIMESTAMP")


def date_literal(day: dt.date) -> exp.Expr:
    return exp.cast(exp.Literal.string(day.isoformat()), "DATE")


def midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def number_literal(value: float | int | Decimal) -> exp.Expr:
    if isinstance(value, float):
        # repr round-trips the exact double; the cast keeps DuckDB from reading it as DECIMAL
        return exp.cast(exp.Literal.number(repr(value)), "DOUBLE")
    return exp.Literal.number(str(value))


def is_date_text(value: Scalar) -> bool:
    return isinstance(value, str) and len(value) == 10


def scalar_literal(value: Scalar, typ: LogicalType) -> exp.Expr:
    """A definition value as a literal of the column's type (validation checked they agree)."""
    if typ in TEMPORAL:
        assert isinstance(value, str)
        if is_date_text(value):
            return date_literal(dt.date.fromisoformat(value))
        return timestamp_literal(dt.datetime.fromisoformat(value))
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, int | float):
        return number_literal(value)
    return exp.Literal.string(value)


def json_operand(extracted: exp.Expr, value: Value) -> tuple[exp.Expr, LogicalType]:
    """A JSON value (trait or event property) typed by the value it is compared with."""
    sample = value[0] if isinstance(value, list) and value else value
    if isinstance(sample, bool):
        return exp.TryCast(this=extracted, to=exp.DataType.build("BOOLEAN")), "boolean"
    if isinstance(sample, int | float):
        return exp.TryCast(this=extracted, to=exp.DataType.build("DOUBLE")), "double"
    return extracted, "text"


def compare(
    operand: exp.Expr, typ: LogicalType, op: str, value: Value, as_of: dt.datetime
) -> exp.Expr:
    """``operand op value`` as a two-valued predicate, for a column of logical type ``typ``."""
    if typ == "json":
        operand, typ = json_operand(operand, value)
    if typ == "timestamp" and _all_dates(value) and op not in ("within_days", "older_than_days"):
        # A day given for a timestamp compares calendar days: `signup_date = 2024-05-01`.
        operand, typ = exp.cast(operand, "DATE"), "date"
    match op:
        case "is_set":
            return _is_set(operand, typ)
        case "not_set":
            return negate(_is_set(operand, typ))
        case "ne":
            return negate(compare(operand, typ, "eq", value, as_of))
        case "not_in":
            return negate(compare(operand, typ, "in", value, as_of))
        case "within_days" | "older_than_days":
            assert isinstance(value, int)
            cutoff = timestamp_literal(as_of - dt.timedelta(days=value))
            moment = exp.cast(operand, "TIMESTAMP")
            if op == "older_than_days":
                return two_valued(moment <= cutoff)
            return two_valued(
                exp.and_(moment > cutoff, moment <= timestamp_literal(as_of), copy=False)
            )
        case "in":
            assert isinstance(value, list)
            return two_valued(operand.isin(*(scalar_literal(v, typ) for v in value), copy=False))
        case "between":
            assert isinstance(value, list) and len(value) == 2
            low, high = (scalar_literal(v, typ) for v in value)
            return two_valued(exp.Between(this=operand, low=low, high=high))
        case "contains" | "starts_with":
            assert isinstance(value, str)
            text = exp.Lower(this=exp.cast(operand, "VARCHAR"))
            needle = exp.Lower(this=exp.Literal.string(value))
            if op == "contains":
                return two_valued(exp.func("STRPOS", text, needle) > exp.Literal.number(0))
            return two_valued(exp.func("STARTS_WITH", text, needle))
    assert not isinstance(value, list) and value is not None
    literal = scalar_literal(value, typ)
    comparisons = {
        "eq": exp.EQ,
        "lt": exp.LT,
        "lte": exp.LTE,
        "gt": exp.GT,
        "gte": exp.GTE,
    }
    return two_valued(comparisons[op](this=operand, expression=literal))


def _all_dates(value: Value) -> bool:
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(v is not None and is_date_text(v) for v in values)


def _is_set(operand: exp.Expr, typ: LogicalType) -> exp.Expr:
    present: exp.Expr = exp.not_(exp.Is(this=operand, expression=exp.null()))
    if typ == "text":
        # An empty string is no more "set" than NULL for a marketer (e.g. an empty e-mail).
        empty = exp.NEQ(this=operand.copy(), expression=exp.Literal.string(""))
        present = exp.and_(present, empty, copy=False)
    return two_valued(present)


def window_conditions(
    moment: exp.Expr, window: Window | None, as_of: dt.datetime
) -> list[exp.Expr]:
    """``moment`` falls in ``window`` (see `Window`) and never after ``as_of``, as conjuncts."""
    parts: list[exp.Expr] = [moment <= timestamp_literal(as_of)]
    if window is not None:
        if window.days is not None:
            parts.append(moment > timestamp_literal(as_of - dt.timedelta(days=window.days)))
        if window.max_days_ago is not None:
            start = as_of - dt.timedelta(days=window.max_days_ago)
            parts.append(moment > timestamp_literal(start))
        if window.min_days_ago is not None:
            end = as_of - dt.timedelta(days=window.min_days_ago)
            parts.append(moment <= timestamp_literal(end))
        if window.from_ is not None:
            parts.append(moment >= timestamp_literal(midnight(window.from_)))
        if window.to is not None:
            end_exclusive = midnight(window.to + dt.timedelta(days=1))
            parts.append(moment < timestamp_literal(end_exclusive))
    return parts


def cutoff_predicate(
    moment: exp.Expr,
    op: str,
    date: dt.date | None,
    days_ago: int | None,
    as_of: dt.datetime,
) -> exp.Expr:
    """``moment`` before / after a date (midnight, ``<`` / ``≥``) or N days ago (``≤`` / ``>``)."""
    if date is not None:
        cutoff = timestamp_literal(midnight(date))
        return moment < cutoff if op == "before" else moment >= cutoff
    assert days_ago is not None
    cutoff = timestamp_literal(as_of - dt.timedelta(days=days_ago))
    return moment <= cutoff if op == "before" else moment > cutoff


def haversine_km(latitude: exp.Expr, longitude: exp.Expr, lat0: float, lon0: float) -> exp.Expr:
    """Great-circle distance in km (haversine formula; Sinnott 1984, Sky & Telescope 68(2):159)."""

    def rad(e: exp.Expr) -> exp.Expr:
        return exp.func("RADIANS", e)

    def half_sine_sq(delta: exp.Expr) -> exp.Expr:
        half = exp.Div(this=rad(delta), expression=exp.Literal.number(2))
        return exp.Pow(this=exp.func("SIN", half), expression=exp.Literal.number(2))

    lat_0, lon_0 = number_literal(float(lat0)), number_literal(float(lon0))
    a = exp.Add(
        this=half_sine_sq(exp.Sub(this=latitude, expression=lat_0)),
        expression=exp.Mul(
            this=exp.Mul(
                this=exp.func("COS", rad(lat_0)), expression=exp.func("COS", rad(latitude))
            ),
            expression=half_sine_sq(exp.Sub(this=longitude, expression=lon_0)),
        ),
    )
    # LEAST guards against a rounding error pushing the argument of asin a hair above 1.
    root = exp.func("SQRT", exp.func("LEAST", exp.Literal.number(1), a))
    return exp.Mul(this=number_literal(2 * EARTH_RADIUS_KM), expression=exp.func("ASIN", root))
