"""The mapping file: how a source's columns become a canonical table's columns.

A mapping is YAML, validated by pydantic; a mistake is reported as one sentence naming the
key (`mapping.yaml: mapping key 'columns.amount.multiply': Input should be a valid number`),
with a did-you-mean for misspelt keys. Every key is documented, with examples, in
`docs/ingestion.md`. A minimal example (the CDNOW file, `examples/cdnow/mapping.yaml`)::

    table: transactions
    source: {format: whitespace}
    columns:
      transaction_id: {derive: row_hash}   # CDNOW has no order id
      line_id: {constant: "1"}
      customer_id: customer_id
      occurred_at: {from: date, format: "%Y%m%d"}
      quantity: number_of_cds
      amount: dollar_value
      currency: {constant: USD}
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cvm.core.contracts import CANONICAL
from cvm.core.errors import UserInputError
from cvm.core.yaml_files import read_yaml

TableName = Literal[
    "customers", "transactions", "products", "events", "consents", "campaign_assignments"
]
Scalar = str | int | float | bool


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SourceOptions(_Strict):
    """How to read the source (files only; ignored for --query)."""

    format: Literal["csv", "tsv", "whitespace", "parquet", "jsonl"] | None = None
    delimiter: str | None = None
    header: bool = True
    columns: list[str] | None = None
    encoding: str = "utf-8"
    skip_rows: int = Field(0, ge=0)
    quote: str | None = '"'
    escape: str | None = None
    null_values: list[str] = Field(default_factory=list)
    decimal_separator: Literal[".", ","] = "."
    thousands_separator: str | None = None
    timezone: str | None = None
    pattern: str | None = None

    @field_validator("delimiter")
    @classmethod
    def _one_character(cls, value: str | None) -> str | None:
        if value is None:
            return None
        aliases = {"tab": "\t", "\\t": "\t", "space": " ", "comma": ",", "semicolon": ";"}
        value = aliases.get(value.lower(), value)
        if len(value) != 1:
            raise ValueError("must be one character (or tab, comma, semicolon)")
        return value

    @field_validator("quote", "escape")
    @classmethod
    def _quote_character(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 1:
            raise ValueError("must be one character, or empty for none")
        return value or None


class ColumnSpec(_Strict):
    """Where one canonical column comes from and how its text is turned into a value.

    A plain string in YAML (`customer_id: cust_no`) is shorthand for `{from: cust_no}`.
    """

    from_: str | None = Field(None, alias="from")
    constant: Scalar | None = None
    default: Scalar | None = None
    derive: Literal["row_hash"] | None = None
    format: str | list[str] | None = None
    timezone: str | None = None
    multiply: float | None = None
    decimal_separator: Literal[".", ","] | None = None
    thousands_separator: str | None = None
    zero_pad: int | None = Field(None, ge=1, le=64)
    strip_leading_zeros: bool = False
    lowercase: bool = False
    uppercase: bool = False
    true_values: list[str] | None = None
    false_values: list[str] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        return {"from": value} if isinstance(value, str) else value

    @model_validator(mode="after")
    def _one_origin(self) -> ColumnSpec:
        origins = [k for k in ("from", "constant", "derive") if self._origin(k) is not None]
        if len(origins) > 1:
            raise ValueError(f"give only one of from, constant, derive (got {', '.join(origins)})")
        if self.zero_pad and self.strip_leading_zeros:
            raise ValueError("zero_pad and strip_leading_zeros contradict each other")
        return self

    def _origin(self, key: str) -> object:
        return {"from": self.from_, "constant": self.constant, "derive": self.derive}[key]


class Mapping(_Strict):
    table: TableName | None = None
    source: SourceOptions = Field(default_factory=SourceOptions)
    columns: dict[str, ColumnSpec] = Field(default_factory=dict)
    unknown_customer: Literal["create", "quarantine"] | None = None
    negative_quantity: Literal["return", "error"] | None = None

    def check_table(self, table: str, origin: str) -> None:
        """Refuse a mapping written for another table, or naming columns the table lacks."""
        if self.table is not None and self.table != table:
            raise UserInputError(
                f"{origin} is a mapping for {self.table}, not {table}; "
                f"run `cvm ingest {self.table}` or fix its `table:` key"
            )
        known = CANONICAL[table].column_names
        for name in self.columns:
            if name not in known:
                hint = _did_you_mean(name, known)
                raise UserInputError(
                    f"{origin}: mapping key 'columns.{name}': {table} has no column {name!r}{hint}"
                )


def _did_you_mean(word: str, options: list[str] | tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _allowed_keys(model: type[BaseModel]) -> list[str]:
    return [f.alias or name for name, f in model.model_fields.items()]


def _explain(err: ValidationError, origin: str) -> UserInputError:
    first = err.errors()[0]
    loc = [str(p) for p in first["loc"]]
    where = ".".join(loc) or "(top level)"
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        parent: type[BaseModel] = Mapping
        if loc[:1] == ["source"]:
            parent = SourceOptions
        elif loc[:1] == ["columns"] and len(loc) >= 3:
            parent = ColumnSpec
        message = "unknown key" + _did_you_mean(loc[-1], _allowed_keys(parent))
    return UserInputError(f"{origin}: mapping key '{where}': {message}")


def parse_mapping(data: object, origin: str = "mapping") -> Mapping:
    """Validate an already-parsed mapping (a dict), with errors naming the key."""
    if data is None:
        return Mapping()
    if not isinstance(data, dict):
        raise UserInputError(f"{origin}: a mapping must be a YAML dictionary of keys")
    try:
        return Mapping.model_validate(data)
    except ValidationError as err:
        raise _explain(err, origin) from None


def load_mapping(path: Path) -> Mapping:
    """Read and validate a mapping file."""
    if not path.is_file():
        raise UserInputError(f"mapping file {path} does not exist")
    return parse_mapping(read_yaml(path), str(path))
