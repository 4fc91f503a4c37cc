"""Stable hashing for deterministic assignment (control groups, experiment arms, random buckets).

The bucket of a customer is defined as::

    bucket(salt, customer_id) = int(sha256_hex(salt + ":" + customer_id)[:15], 16) / 16**15

a number in [0, 1). Fifteen hex digits (60 bits) fit in a signed 64-bit integer, so every SQL
engine can compute the same value (DuckDB: ``sha256``; Spark: ``sha2(x, 256)``), and so does
Python. A customer is in a group of share ``s`` when ``bucket < s``. Changing the salt redraws
every assignment; the same salt gives the same assignment on every engine and every run.
"""

from __future__ import annotations

import hashlib

import numpy as np
import numpy.typing as npt
import sqlglot.expressions as exp

HEX_DIGITS = 15
_SCALE = float(16**HEX_DIGITS)


def stable_bucket(salt: str, customer_id: str) -> float:
    """Return the documented bucket in [0, 1) for one customer."""
    digest = hashlib.sha256(f"{salt}:{customer_id}".encode()).hexdigest()
    return int(digest[:HEX_DIGITS], 16) / _SCALE


def stable_buckets(
    salt: str, customer_ids: list[str] | npt.NDArray[np.object_]
) -> npt.NDArray[np.float64]:
    """Vectorised `stable_bucket` for a batch of ids."""
    return np.fromiter(
        (stable_bucket(salt, str(c)) for c in customer_ids),
        dtype=np.float64,
        count=len(customer_ids),
    )


def bucket_sql(salt: str, customer_id: exp.Expression, dialect: str) -> exp.Expression:
    """The same bucket as a sqlglot expression for ``dialect`` ("duckdb" or "spark").

    Both read the first 15 hex digits of ``sha256(salt || ':' || id)`` as an integer; only the
    spelling of "hex text to integer" differs between engines, so it is chosen here.
    """
    text = exp.DPipe(
        this=exp.Literal.string(f"{salt}:"), expression=exp.cast(customer_id, "VARCHAR")
    )
    digest = exp.SHA2(this=text, length=exp.Literal.number(256))
    prefix = exp.Substring(
        this=digest, start=exp.Literal.number(1), length=exp.Literal.number(HEX_DIGITS)
    )
    match dialect:
        case "duckdb":
            as_int: exp.Expression = exp.cast(
                exp.DPipe(this=exp.Literal.string("0x"), expression=prefix), "BIGINT"
            )
        case "spark":
            as_int = exp.cast(
                exp.func("CONV", prefix, exp.Literal.number(16), exp.Literal.number(10)), "BIGINT"
            )
        case _:
            raise ValueError(f"no bucket spelling for dialect {dialect!r}")
    return exp.Div(this=exp.cast(as_int, "DOUBLE"), expression=exp.Literal.number(_SCALE))
