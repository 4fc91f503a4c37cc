"""Ingestion: files, folders and database queries into the canonical warehouse tables,
validated against the data contracts, with every refused row quarantined and every run
reconciled (read = accepted + quarantined). See docs/ingestion.md."""

from cvm.ingest.mapping import ColumnSpec, Mapping, SourceOptions, load_mapping, parse_mapping
from cvm.ingest.quarantine import list_quarantine, show_quarantine
from cvm.ingest.runner import IngestResult, ProgressCallback, ingest, ingest_sources

__all__ = [
    "ColumnSpec",
    "IngestResult",
    "Mapping",
    "ProgressCallback",
    "SourceOptions",
    "ingest",
    "ingest_sources",
    "list_quarantine",
    "load_mapping",
    "parse_mapping",
    "show_quarantine",
]
