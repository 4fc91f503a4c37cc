"""Warehouse bootstrap: the canonical tables plus cvm's own bookkeeping tables."""

from __future__ import annotations

from cvm.core.contracts import CANONICAL, Column, TableContract
from cvm.engine.base import Engine, count_rows

QUARANTINE = TableContract(
    name="quarantine",
    description="Rows that failed validation, with the reason. Nothing is silently dropped.",
    key=("ingest_run", "row_number", "column_name"),
    columns=(
        Column("ingest_run", "text", "Ingestion run id.", required=True),
        Column("table_name", "text", "Target canonical table.", required=True),
        Column("source", "text", "File, or query source, the row came from.", required=True),
        Column(
            "row_number",
            "integer",
            "1-based line number in the file (header is line 1 when present).",
            required=True,
        ),
        Column("column_name", "text", "Column that failed, or empty for whole-row problems."),
        Column("reason", "text", "Why the row was refused.", required=True),
        Column("raw", "text", "The raw row as read, for correction and re-submission."),
        Column("quarantined_at", "timestamp", "When."),
    ),
)

INGEST_RUNS = TableContract(
    name="ingest_runs",
    description="One row per ingestion run with its reconciliation: read = accepted + quarantined.",
    key=("ingest_run",),
    columns=(
        Column("ingest_run", "text", "Run id.", required=True),
        Column("table_name", "text", "Target table.", required=True),
        Column("source", "text", "Source path or description."),
        Column("started_at", "timestamp", "Start (UTC)."),
        Column("finished_at", "timestamp", "End (UTC)."),
        Column("rows_read", "integer", "Rows read from the source."),
        Column("rows_accepted", "integer", "Rows that passed validation."),
        Column("rows_quarantined", "integer", "Rows sent to quarantine."),
        Column("rows_inserted", "integer", "Accepted rows that were new."),
        Column("rows_updated", "integer", "Accepted rows that changed an existing row."),
        Column(
            "rows_unchanged", "integer", "Accepted rows already present as they are (re-ingestion)."
        ),
        Column("customers_created", "integer", "Customer stubs created for unknown customers."),
    ),
)

BOOKKEEPING = (QUARANTINE, INGEST_RUNS)


def ensure_warehouse(engine: Engine) -> None:
    """Create every canonical and bookkeeping table that is missing (idempotent)."""
    for contract in (*CANONICAL.values(), *BOOKKEEPING):
        engine.ensure_table(contract)


def warehouse_table_counts(engine: Engine) -> dict[str, int]:
    """Row counts of the canonical tables (for `cvm info` and data health)."""
    counts: dict[str, int] = {}
    for name in CANONICAL:
        if engine.table_exists(name):
            counts[name] = int(engine.fetch_scalar(count_rows(name)) or 0)  # type: ignore[call-overload]
    return counts
