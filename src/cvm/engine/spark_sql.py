"""Render canonical (DuckDB-dialect) statements as Spark SQL.

sqlglot does the dialect translation (``expression.sql(dialect="spark")``). What remains are
differences in *meaning*, mostly from Spark 4's ANSI mode, which stays on (it turns silent
wrong answers into errors). Each rule below is one such difference, with the reason. Rules are
applied to a copy of the statement; the caller's expression is never changed.
"""

from __future__ import annotations

import re

import sqlglot.expressions as exp

from cvm.engine.base import Statement, to_expression

SPARK_DIALECT = "spark"

# DuckDB types that Spark spells differently or lacks.
# Spark has no JSON column type; JSON travels as text and is read with get_json_object.
_TYPE_REWRITES: dict[object, str] = {exp.DataType.Type.JSON: "STRING"}


def _duckdb_division(node: exp.Expr) -> exp.Expr:
    """``a / b`` → ``try_divide(CAST(a AS DOUBLE), b)``.

    Two differences in meaning. (1) DuckDB's ``/`` returns DOUBLE for integers *and*
    decimals, Spark's returns DECIMAL when either side is a decimal (``date_diff(...) / 7.0``
    would come back as DECIMAL(27,6) rounded to 6 places); casting the dividend to DOUBLE gives
    DuckDB's type and value. (2) ANSI Spark raises DIVIDE_BY_ZERO where DuckDB returns ±inf;
    our statements guard their divisions (CASE WHEN n > 0 ...), but ``try_divide`` keeps an
    unguarded one from failing a whole job, yielding NULL instead of DuckDB's inf (a value cvm
    never produces on purpose).
    """
    if isinstance(node, exp.Div):
        dividend = exp.cast(node.this, exp.DataType.Type.DOUBLE)
        return exp.func("TRY_DIVIDE", dividend, node.expression)
    return node


def _day_boundaries(node: exp.Expr) -> exp.Expr:
    """``date_diff('day', a, b)`` → ``DATEDIFF(CAST(b AS DATE), CAST(a AS DATE))``.

    DuckDB's ``date_diff('day', ...)`` counts day boundaries crossed (the difference of the
    dates); Spark's three-argument ``DATEDIFF(DAY, a, b)`` (what sqlglot emits) counts whole
    24-hour periods between timestamps, one less for 23:00 → 09:00 the next day but one. The
    two-argument DATEDIFF on dates is DuckDB's meaning. Other units are not used by cvm.
    """
    if isinstance(node, exp.DateDiff) and node.text("unit").upper() in {"DAY", ""}:
        return exp.func(
            "DATEDIFF",
            exp.cast(node.this, exp.DataType.Type.DATE),
            exp.cast(node.expression, exp.DataType.Type.DATE),
        )
    return node


def _double_average(node: exp.Expr) -> exp.Expr:
    """``avg(x)`` → ``avg(CAST(x AS DOUBLE))``.

    DuckDB averages integers and decimals as DOUBLE; Spark keeps a decimal average a decimal
    (``avg(CASE ... THEN 1.0 ELSE 0.0 END)`` comes back as DECIMAL rounded to 5 places).
    """
    if isinstance(node, exp.Avg) and not isinstance(node.this, exp.Distinct):
        return exp.Avg(this=exp.cast(node.this, exp.DataType.Type.DOUBLE))
    return node


def _two_argument_if(node: exp.Expr) -> exp.Expr:
    """``IF(c, x)`` → ``IF(c, x, NULL)``: Spark's IF takes exactly three arguments.

    (The WHEN branches inside a CASE are If nodes too; they keep their shape.)
    """
    if (
        isinstance(node, exp.If)
        and node.args.get("false") is None
        and not isinstance(node.parent, exp.Case)
    ):
        return exp.If(this=node.this, true=node.args.get("true"), false=exp.null())
    return node


_QUOTED_KEY = re.compile(r'\."((?:[^"\']|"")*)"')


def _bracket_json_path(node: exp.Expr) -> exp.Expr:
    """``'$."a"."b"'`` → ``'$['a']['b']'`` in JSON extractions.

    cvm quotes every JSON key (``cvm.segments.fields.json_path``) so dots and spaces are plain
    characters. DuckDB reads that quoted form; Spark's ``get_json_object`` does not (it returns
    NULL) but reads the bracket form with the same meaning.
    """
    if isinstance(node, exp.JSONExtract | exp.JSONExtractScalar):
        path = node.expression
        if isinstance(path, exp.Literal) and path.is_string and path.this.startswith('$."'):
            keys = _QUOTED_KEY.findall(path.this[1:])
            if "$" + "".join(f'."{k}"' for k in keys) == path.this:
                bracketed = "$" + "".join(f"['{k}']" for k in keys)
                new = node.copy()
                new.set("expression", exp.Literal.string(bracketed))
                return new
    return node


def _portable_types(node: exp.Expr) -> exp.Expr:
    if isinstance(node, exp.DataType) and node.this in _TYPE_REWRITES:
        return exp.DataType.build(_TYPE_REWRITES[node.this], dialect=SPARK_DIALECT)
    return node


def _unique_cte_names(tree: exp.Expression) -> exp.Expression:
    """Give every CTE of the statement its own name (``purchases``, ``purchases__2``, ...).

    DuckDB scopes a ``WITH`` inside a subquery to that subquery, so two subqueries may each
    define a ``purchases`` CTE. Spark SQL rendering hoists nested CTEs to the top of the
    statement (sqlglot's Spark dialect), where two equal names are an error
    (DUPLICATED_CTE_NAMES). Renaming a repeated CTE and the table references in the query that
    owns it keeps the meaning. Works in place on the copy ``to_spark`` made.
    """
    seen: dict[str, int] = {}
    for with_ in list(tree.find_all(exp.With)):
        owner = with_.parent
        for cte in with_.expressions:
            name = cte.alias_or_name
            seen[name] = seen.get(name, 0) + 1
            if seen[name] == 1 or owner is None:
                continue
            new = f"{name}__{seen[name]}"
            for table in owner.find_all(exp.Table):
                if table.name == name and not table.text("db"):
                    table.set("this", exp.to_identifier(new))
            cte.set("alias", exp.TableAlias(this=exp.to_identifier(new)))
    return tree


def is_transaction_control(statement: Statement) -> bool:
    """BEGIN / COMMIT / ROLLBACK: Spark SQL has no multi-statement transactions.

    A Parquet table write is atomic per statement (a job commits its files at the end), so the
    engine runs these as no-ops; stages that bracket several writes in a transaction get
    statement-level atomicity on Spark (documented in docs/scale-out.md).
    """
    if isinstance(statement, str):
        word = statement.strip().split(None, 1)[0].upper() if statement.strip() else ""
        return word in {"BEGIN", "COMMIT", "ROLLBACK", "START"}
    return isinstance(statement, exp.Transaction | exp.Commit | exp.Rollback)


def to_spark(statement: Statement) -> exp.Expression:
    """The canonical statement with the Spark meaning rules applied (a new tree)."""
    tree = _unique_cte_names(to_expression(statement).copy()).transform(_duckdb_division)
    tree = tree.transform(_day_boundaries).transform(_portable_types)
    tree = tree.transform(_double_average).transform(_two_argument_if)
    tree = tree.transform(_bracket_json_path)
    assert isinstance(tree, exp.Expression)
    return tree


def render_spark(statement: Statement) -> str:
    """Spark SQL text for a canonical statement."""
    return to_spark(statement).sql(dialect=SPARK_DIALECT)
