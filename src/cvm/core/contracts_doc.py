"""Render the data contracts as Markdown (`docs/data-contracts.md` is this output; a test keeps
the file and the code identical)."""

from __future__ import annotations

from cvm.core.contracts import CANONICAL, TableContract

INTRO = """# Data contracts

The canonical warehouse tables every cvm stage reads and writes. This file is generated from
`src/cvm/core/contracts.py` and `src/cvm/profiles/contract.py` by
`python -m cvm.core.contracts_doc > docs/data-contracts.md`; a test fails when they differ.

Conventions:

- Timestamps are UTC without a zone (`TIMESTAMP`); the customer's own zone is the `time_zone`
  column, used for quiet hours and local send times.
- Money is `DECIMAL(18,4)` in the currency of the row, never a binary float.
- Free-form attributes are JSON objects (`traits`, `properties`).
- Columns starting with `_` are lineage that cvm fills itself (source, ingestion run, load time).
- **Key** columns identify a row: re-ingesting a row with the same key updates it (customers,
  products) or is skipped as already present (transactions, events, consents).
"""


def render_contract(contract: TableContract) -> str:
    lines = [
        f"## `{contract.name}`",
        "",
        contract.description,
        "",
        f"Key: {', '.join(f'`{k}`' for k in contract.key)}",
        "",
    ]
    lines.append("| column | type | required | meaning |")
    lines.append("| --- | --- | --- | --- |")
    for col in contract.all_columns:
        extra = []
        if col.choices:
            extra.append("one of " + ", ".join(f"`{c}`" for c in col.choices))
        if col.minimum is not None or col.maximum is not None:
            extra.append(
                f"range [{col.minimum if col.minimum is not None else '-∞'}, {col.maximum if col.maximum is not None else '∞'}]"
            )
        meaning = col.description + (f" ({'; '.join(extra)})" if extra else "")
        lines.append(
            f"| `{col.name}` | `{col.sql_type}` | {'yes' if col.required else ''} | {meaning} |"
        )
    if contract.row_rules:
        lines += ["", "Rows are refused (quarantined) when:", ""]
        lines += [f"- {r.reason}: `{r.refuse_when}`" for r in contract.row_rules]
    return "\n".join(lines) + "\n"


def render_all(extra: tuple[TableContract, ...] = ()) -> str:
    parts = [INTRO]
    for contract in (*CANONICAL.values(), *extra):
        parts.append(render_contract(contract))
    return "\n".join(parts)


if __name__ == "__main__":  # pragma: no cover
    import importlib

    # Derived tables are documented too; they live outside core, so they are looked up by name.
    profiles = importlib.import_module("cvm.profiles.contract").PROFILES
    print(render_all((profiles,)), end="")
