"""Bind values into canonical-dialect SQL templates safely.

A template is a constant SQL string written by us (DuckDB spelling) with named placeholders
(``:name``). `bind` parses it with sqlglot and replaces each placeholder with a typed sqlglot
literal, so user values are quoted by sqlglot and never pasted into SQL text. Identifiers that
vary (table names) are passed as `exp.Table`/`exp.Identifier` values and quoted by sqlglot too.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import sqlglot
import sqlglot.expressions as exp

from cvm.engine.base import CANONICAL_DIALECT

SqlValue = str | int | float | bool | Decimal | dt.date | dt.datetime | None | exp.Expression


def literal(value: SqlValue) -> exp.Expression:
    """A sqlglot literal for one Python value."""
    match value:
        case exp.Expression():
            return value
        case None:
            return exp.Null()
        case bool():
            return exp.Boolean(this=value)
        case int() | float() | Decimal():
            return exp.Literal.number(value)
        case dt.datetime():
            return exp.cast(exp.Literal.string(value.isoformat(sep=" ")), "TIMESTAMP")
        case dt.date():
            return exp.cast(exp.Literal.string(value.isoformat()), "DATE")
        case str():
            return exp.Literal.string(value)
    raise TypeError(f"cannot bind {type(value).__name__} into SQL")


def bind(template: str, **values: SqlValue) -> exp.Expression:
    """Parse a constant template and replace ``:name`` placeholders with literals."""
    parsed = sqlglot.parse_one(template, read=CANONICAL_DIALECT)
    assert isinstance(parsed, exp.Expression)
    missing = {p.name for p in parsed.find_all(exp.Placeholder)} - set(values)
    if missing:
        raise KeyError(f"unbound placeholders: {sorted(missing)}")
    bound = exp.replace_placeholders(parsed, **{k: literal(v) for k, v in values.items()})
    assert isinstance(bound, exp.Expression)
    return bound
