"""The fields a segment can test: every column of the `customer_360` view, with its logical type.

Types come from the data contracts (customers + profiles); when an engine is at hand, columns a
later stage added to the view are read from the database and their SQL types mapped back, so
new scores are usable in rules without a code change.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot.expressions as exp

from cvm.core.contracts import CUSTOMERS, LogicalType
from cvm.engine.base import Engine
from cvm.profiles.contract import CUSTOMER_360_VIEW, PROFILE_COLUMNS

NUMERIC: frozenset[LogicalType] = frozenset({"integer", "decimal", "double"})
TEMPORAL: frozenset[LogicalType] = frozenset({"date", "timestamp"})
TRAIT_PREFIX = "traits."
# A JSON key in a property or trait path: letters, digits, spaces, `_`, `-`; no quotes.
_KEY = re.compile(r"^[^\"\\.]+$")

_DB_TYPES: tuple[tuple[str, LogicalType], ...] = (
    ("DECIMAL", "decimal"),
    ("DOUBLE", "double"),
    ("FLOAT", "double"),
    ("REAL", "double"),
    ("INT", "integer"),
    ("BOOL", "boolean"),
    ("TIMESTAMP", "timestamp"),
    ("DATE", "date"),
    ("JSON", "json"),
)


@dataclass(frozen=True)
class FieldCatalog:
    """Column name → logical type of everything a ``profile`` condition may name."""

    types: dict[str, LogicalType]

    def type_of(self, field: str) -> LogicalType | None:
        """The logical type, ``"json"`` for ``traits.KEY`` (typed by the compared value)."""
        if field.startswith(TRAIT_PREFIX) and valid_json_path(field[len(TRAIT_PREFIX) :]):
            return "json"
        return self.types.get(field)

    @property
    def names(self) -> list[str]:
        return list(self.types)


def default_catalog() -> FieldCatalog:
    """The contract's columns of `customer_360` (customers, then profile metrics and scores)."""
    types: dict[str, LogicalType] = {c.name: c.type for c in CUSTOMERS.columns}
    types.update({c.name: c.type for c in PROFILE_COLUMNS})
    return FieldCatalog(types)


def field_catalog(engine: Engine | None = None) -> FieldCatalog:
    """The contract's columns plus any extra column the view has in this warehouse."""
    catalog = default_catalog()
    if engine is None or not engine.table_exists(CUSTOMER_360_VIEW):
        return catalog
    query = (
        exp.select("column_name", "data_type")
        .from_(exp.to_table("information_schema.columns"))
        .where(exp.column("table_name").eq(exp.Literal.string(CUSTOMER_360_VIEW)))
    )
    types = dict(catalog.types)
    for name, db_type in engine.fetch_rows(query):
        if str(name) not in types:
            types[str(name)] = logical_type(str(db_type))
    return FieldCatalog(types)


def logical_type(db_type: str) -> LogicalType:
    upper = db_type.upper()
    for prefix, logical in _DB_TYPES:
        if prefix in upper:
            return logical
    return "text"


def valid_json_path(path: str) -> bool:
    """A dotted key path such as ``plan`` or ``address.city`` (no quotes or backslashes)."""
    return bool(path) and all(_KEY.match(part) for part in path.split("."))


def json_path(path: str) -> str:
    """``a.b`` → ``$."a"."b"``: every key quoted, so spaces and dashes are plain characters."""
    return "$" + "".join(f'."{part}"' for part in path.split("."))
