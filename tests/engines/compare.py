"""Compare two results row by row, sorted by key, numbers to rounding."""

from __future__ import annotations

import datetime as dt
import math
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa

REL = 1e-9
ABS = 1e-9


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if isinstance(a, int | float | Decimal) and isinstance(b, int | float | Decimal):
        if isinstance(a, bool) or isinstance(b, bool):
            return a == b
        return math.isclose(float(a), float(b), rel_tol=REL, abs_tol=ABS)
    if isinstance(a, dt.datetime) and isinstance(b, dt.datetime):
        return a.replace(tzinfo=None) == b.replace(tzinfo=None)
    return bool(a == b)


def rows_of(data: pa.Table | pd.DataFrame, key: list[str]) -> list[dict[str, Any]]:
    if isinstance(data, pd.DataFrame):
        frame = data.reset_index() if data.index.name in key else data
        table = pa.Table.from_pandas(frame, preserve_index=False)
    else:
        table = data
    return table.sort_by([(k, "ascending") for k in key]).to_pylist()


def assert_same_table(
    got: pa.Table | pd.DataFrame, want: pa.Table | pd.DataFrame, key: list[str]
) -> None:
    """Same columns, same rows (sorted by ``key``), values equal to rounding."""
    got_rows, want_rows = rows_of(got, key), rows_of(want, key)
    assert len(got_rows) == len(want_rows), f"{len(got_rows)} rows, baseline {len(want_rows)}"
    assert len(want_rows) > 0, "an empty result proves nothing"
    assert list(got_rows[0]) == list(want_rows[0]), "columns differ"
    for g, w in zip(got_rows, want_rows, strict=True):
        diff = {c: (g[c], w[c]) for c in w if not _same(g[c], w[c])}
        assert not diff, f"row {[w[k] for k in key]} differs (engine, baseline): {diff}"
