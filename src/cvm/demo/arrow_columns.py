"""Build Arrow columns from numpy arrays without a Python loop per row.

Strings (ids, e-mails, JSON text) are assembled with Arrow compute kernels; money becomes
DECIMAL(18,4) straight from integer units of 1/10,000; timestamps are UTC without a zone, as
`cvm.core.contracts` prescribes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from cvm.core.contracts import LogicalType, TableContract

MONEY_TYPE = pa.decimal128(18, 4)
TIMESTAMP_TYPE = pa.timestamp("us")

ARROW_TYPES: dict[LogicalType, pa.DataType] = {
    "text": pa.string(),
    "integer": pa.int64(),
    "decimal": MONEY_TYPE,
    "double": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": TIMESTAMP_TYPE,
    # JSON columns travel as JSON text; the warehouse parses them on insert.
    "json": pa.string(),
}


def contract_schema(contract: TableContract, *, lineage: bool = False) -> pa.Schema:
    """The Arrow schema of a canonical table (optionally with the lineage columns)."""
    cols = contract.all_columns if lineage else contract.columns
    return pa.schema([pa.field(c.name, ARROW_TYPES[c.type]) for c in cols])


def assemble(contract: TableContract, columns: Mapping[str, pa.Array]) -> pa.Table:
    """A table with exactly the contract's columns, in its order; absent columns are null."""
    schema = contract_schema(contract)
    lengths = {len(a) for a in columns.values()}
    if len(lengths) != 1:
        raise ValueError(f"{contract.name}: columns of different lengths {sorted(lengths)}")
    n = lengths.pop()
    arrays = []
    for fld in schema:
        arr = columns.get(fld.name)
        if arr is None:
            arrays.append(pa.nulls(n, fld.type))
        elif arr.type != fld.type:
            raise TypeError(f"{contract.name}.{fld.name}: {arr.type}, expected {fld.type}")
        else:
            arrays.append(arr)
    extra = set(columns) - set(schema.names)
    if extra:
        raise ValueError(f"{contract.name}: columns outside the contract {sorted(extra)}")
    return pa.Table.from_arrays(arrays, schema=schema)


def padded_ids(prefix: str, numbers: npt.NDArray[np.int64], width: int) -> pa.Array:
    """``prefix`` + zero-padded number, e.g. ``C00000042``."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers, pa.int64()), pa.string()), width, "0")
    return pc.binary_join_element_wise(prefix, digits, "")


def concat_text(*parts: pa.Array | str) -> pa.Array:
    """Element-wise concatenation of string arrays and constant strings."""
    return pc.binary_join_element_wise(*parts, "")


def numbers_as_text(values: npt.NDArray[np.generic]) -> pa.Array:
    return pc.cast(pa.array(values), pa.string())


def pick(dictionary: Sequence[str], codes: npt.NDArray[np.int64]) -> pa.Array:
    """``dictionary[codes]`` as a plain string array (codes < 0 become null)."""
    valid = codes >= 0
    taken = pc.take(pa.array(list(dictionary), pa.string()), pa.array(np.where(valid, codes, 0)))
    if valid.all():
        return taken
    return with_nulls(taken, ~valid)


def with_nulls(values: pa.Array, null_mask: npt.NDArray[np.bool_]) -> pa.Array:
    """The same values with nulls where ``null_mask`` is true."""
    return pc.if_else(pa.array(null_mask), pa.nulls(len(values), values.type), values)


def money(amounts: npt.NDArray[np.float64]) -> pa.Array:
    """DECIMAL(18,4) from amounts in currency units, rounded to whole cents first.

    Built from the 128-bit two's-complement buffer directly: exact and without per-row work.
    """
    units = np.round(amounts * 100.0).astype(np.int64) * 100  # cents -> 1/10,000
    limbs = np.empty((units.shape[0], 2), dtype=np.int64)
    limbs[:, 0] = units
    limbs[:, 1] = units >> 63  # sign extension into the high 64 bits
    return pa.Array.from_buffers(MONEY_TYPE, units.shape[0], [None, pa.py_buffer(limbs)])


def timestamps(start: date, days: npt.NDArray[np.float64]) -> pa.Array:
    """UTC-naive timestamps (to the second) from fractional days since ``start`` midnight."""
    base = np.datetime64(start, "s")
    seconds = np.round(days * 86400.0).astype(np.int64)
    return pa.array((base + seconds.astype("timedelta64[s]")).astype("datetime64[us]"))


def dates(values: npt.NDArray[np.datetime64]) -> pa.Array:
    return pa.array(values.astype("datetime64[D]"), pa.date32())


def json_objects(fields: Sequence[tuple[str, pa.Array | str, bool]]) -> pa.Array:
    """JSON object text from columns: ``(key, values, quoted)`` per field.

    Values must be JSON-safe already (ids, category names, numbers): nothing here escapes
    quotes, which is why callers only pass text the generator itself produced.
    """
    parts: list[pa.Array | str] = ["{"]
    for i, (key, values, quoted) in enumerate(fields):
        sep = "," if i else ""
        parts.append(f'{sep}"{key}":' + ('"' if quoted else ""))
        parts.append(values)
        if quoted:
            parts.append('"')
    parts.append("}")
    return concat_text(*parts)
