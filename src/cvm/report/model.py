"""The report's building blocks: sections made of figures, tables and key numbers. Each stage
contributes a section builder; the template renders any section the same way."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cvm.engine.base import Engine
from cvm.workspace.settings import Settings


@dataclass
class Metric:
    label: str
    value: str
    change: str | None = None
    good: bool | None = None  # colours the change: True green, False red, None neutral
    help: str | None = None


@dataclass
class TableBlock:
    title: str
    columns: list[str]
    rows: list[list[str]]
    note: str | None = None


@dataclass
class ChartBlock:
    html: str
    caption: str | None = None


@dataclass
class Section:
    id: str
    title: str
    intro: str = ""
    metrics: list[Metric] = field(default_factory=list)
    blocks: list[TableBlock | ChartBlock] = field(default_factory=list)
    summary: list[str] = field(default_factory=list)  # sentences for the executive summary


@dataclass
class ReportContext:
    engine: Engine
    settings: Settings
    workspace_root: Path
    as_of: dt.date
    runs_dir: Path
    cache: dict[str, Any] = field(default_factory=dict)

    @property
    def currency(self) -> str:
        return self.settings.workspace.currency


def money(value: float | None, currency: str = "") -> str:
    if value is None:
        return "–"
    return f"{value:,.2f} {currency}".strip()


def number(value: float | int | None, digits: int = 0) -> str:
    if value is None:
        return "–"
    return f"{value:,.{digits}f}"


def percent(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "–"
    return f"{100 * value:.{digits}f}%"


def change(value: float | None) -> str | None:
    if value is None:
        return None
    return f"{'+' if value >= 0 else ''}{100 * value:.1f}% vs previous month"


def table_from_records(
    title: str, records: list[dict[str, Any]], formats: dict[str, Any], note: str | None = None
) -> TableBlock:
    """A table block with each column formatted by its formatter (default: str)."""
    columns = list(formats)
    rows = [
        [str(formats[c](r.get(c))) if formats[c] else str(r.get(c, "")) for c in columns]
        for r in records
    ]
    return TableBlock(title=title, columns=columns, rows=rows, note=note)
