"""Resolve a mapping against a contract and a source's actual columns, before reading a row.

Every canonical column gets a `ColumnPlan`: the source column it is read from (mapped
explicitly, or found by name: `Customer ID` matches `customer_id`), a constant, or a derived
key. A mapping that names a column the source lacks, a transform that does not fit the
column's type, or a required column nobody provides is refused here, with one sentence, so a
bad run fails before anything is written.

Conventions (documented in docs/ingestion.md): `line_id` defaults to "1" (one line per order)
and `currency` to the workspace currency when the source has neither; `is_return` is computed
from the sign of `quantity` (or of `amount` when there is no quantity) unless mapped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cvm.core.contracts import Column, TableContract
from cvm.core.errors import UserInputError
from cvm.ingest.mapping import ColumnSpec, Mapping, _did_you_mean

NUMERIC = ("integer", "decimal", "double")


@dataclass(frozen=True)
class ColumnPlan:
    column: Column
    source: str | None = None
    constant: str | None = None
    default: str | None = None
    derive: str | None = None
    spec: ColumnSpec = field(default_factory=ColumnSpec)
    formats: tuple[str, ...] = ()
    timezone: str = "UTC"
    decimal_separator: str = "."
    thousands_separator: str | None = None

    @property
    def name(self) -> str:
        return self.column.name


@dataclass(frozen=True)
class IngestPlan:
    contract: TableContract
    columns: tuple[ColumnPlan, ...]
    null_values: tuple[str, ...]
    unknown_customer: Literal["create", "quarantine"]
    negative_quantity: Literal["return", "error"]
    compute_is_return: bool

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]

    def get(self, name: str) -> ColumnPlan | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def derived(self) -> ColumnPlan | None:
        return next((c for c in self.columns if c.derive), None)


def normalize_name(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", name.strip().lower()).strip("_")


def _text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _check_zone(zone: str, where: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise UserInputError(f"{where}.timezone': unknown time zone {zone!r}") from None


def _check_transforms(spec: ColumnSpec, column: Column, where: str) -> None:
    kind = column.type
    rules = [
        ("format", spec.format is not None, kind in ("date", "timestamp"), "date and timestamp"),
        ("timezone", spec.timezone is not None, kind == "timestamp", "timestamp"),
        ("multiply", spec.multiply is not None, kind in NUMERIC, "number"),
        ("decimal_separator", spec.decimal_separator is not None, kind in NUMERIC, "number"),
        ("thousands_separator", spec.thousands_separator is not None, kind in NUMERIC, "number"),
        ("zero_pad", spec.zero_pad is not None, kind == "text", "text"),
        ("strip_leading_zeros", spec.strip_leading_zeros, kind == "text", "text"),
        ("lowercase", spec.lowercase, kind == "text", "text"),
        ("uppercase", spec.uppercase, kind == "text", "text"),
        ("true_values", spec.true_values is not None, kind == "boolean", "boolean"),
        ("false_values", spec.false_values is not None, kind == "boolean", "boolean"),
    ]
    for key, given, fits, kinds in rules:
        if given and not fits:
            raise UserInputError(
                f"{where}.{key}': only {kinds} columns take {key} ({column.name} is {kind})"
            )


def build_plan(
    contract: TableContract,
    mapping: Mapping,
    source_columns: list[str],
    *,
    origin: str,
    label: str,
    unknown_customer: Literal["create", "quarantine"],
    negative_quantity: Literal["return", "error"],
    timezone: str,
    currency: str,
) -> IngestPlan:
    """The plan for one source, or a one-sentence `UserInputError`."""
    mapping.check_table(contract.name, origin)
    by_normal = {normalize_name(c): c for c in reversed(source_columns)}
    options = mapping.source
    plans: list[ColumnPlan] = []
    for column in contract.columns:
        spec = mapping.columns.get(column.name)
        where = f"{origin}: mapping key 'columns.{column.name}"
        source = by_normal.get(normalize_name(column.name))
        constant: str | None = None
        if spec is None:
            spec = ColumnSpec()
        else:
            _check_transforms(spec, column, where)
            if spec.derive and (column.name not in contract.key or column.type != "text"):
                raise UserInputError(
                    f"{where}.derive': only a text key column of {contract.name} can be derived"
                )
            if spec.from_ is not None:
                source = (
                    spec.from_
                    if spec.from_ in source_columns
                    else by_normal.get(normalize_name(spec.from_))
                )
                if source is None:
                    hint = _did_you_mean(spec.from_, source_columns)
                    raise UserInputError(
                        f"{where}': column {spec.from_!r} is not in {label}{hint} "
                        f"(its columns: {', '.join(source_columns)})"
                    )
            elif spec.constant is not None or spec.derive:
                source = None
                constant = _text(spec.constant)
            elif source is None and spec.default is None:
                raise UserInputError(
                    f"{where}': {label} has no column {column.name!r}; say where it comes from "
                    f"with `from:` (its columns: {', '.join(source_columns)})"
                )
        default = _text(spec.default)
        if source is None and constant is None and not spec.derive:
            if default is not None:
                constant, default = default, None  # a default with nothing to default: constant
            elif column.name == "line_id" and contract.name == "transactions":
                constant = "1"
            elif column.name == "currency" and contract.name == "transactions":
                constant = currency
            else:
                continue
        formats = (spec.format,) if isinstance(spec.format, str) else tuple(spec.format or ())
        zone = spec.timezone or options.timezone or timezone
        if column.type == "timestamp":
            _check_zone(zone, where)
        plans.append(
            ColumnPlan(
                column=column,
                source=source,
                constant=constant,
                default=default,
                derive=spec.derive,
                spec=spec,
                formats=formats,
                timezone=zone,
                decimal_separator=spec.decimal_separator or options.decimal_separator,
                thousands_separator=spec.thousands_separator or options.thousands_separator,
            )
        )
    planned = {p.name for p in plans}
    for column in contract.columns:
        if column.required and column.name not in planned:
            raise UserInputError(
                f"{label} has no column for the required field {column.name!r} of "
                f"{contract.name}; map one in the mapping (columns: {{{column.name}: SOURCE_COLUMN}})"
            )
    compute_is_return = contract.name == "transactions" and "is_return" not in planned
    return IngestPlan(
        contract=contract,
        columns=tuple(plans),
        null_values=tuple(options.null_values),
        unknown_customer=mapping.unknown_customer or unknown_customer,
        negative_quantity=mapping.negative_quantity or negative_quantity,
        compute_is_return=compute_is_return,
    )
