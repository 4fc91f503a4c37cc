"""The numbers a report shows, taken from its section model, and compared to rounding.

A report section (`cvm.report.model.Section`) holds formatted text: metrics such as
``'13,444.68 USD'`` or ``'6.0%'``, table cells, summary sentences. Two reports are the same to
rounding when every text agrees once its numbers are taken out, and every number agrees within
one unit of the last digit shown (two engines summing the same floats in another order may
land on either side of a rounding boundary, never further). Identifiers that are random or
time-stamped by design (run ids, model versions) are masked first; nothing else is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from cvm.report.model import Section, TableBlock

# Ids minted per run: model versions (churn-20261125T114958-7b1b7c), value runs
# (value-2024-12-31-4d3c2a7e), decision runs (2024-12-31-b7e9c345).
_IDS = re.compile(
    r"\b[a-z_]+-\d{8}T\d{6}-[0-9a-f]{6}\b|\bvalue-\d{4}-\d{2}-\d{2}-[0-9a-f]{8}\b"
    r"|\b\d{4}-\d{2}-\d{2}-[0-9a-f]{8}\b"
)
_NUMBER = re.compile(r"\d[\d,]*(?:\.\d+)?")


@dataclass
class Shown:
    """One text of the report with its numbers taken out."""

    where: str
    text: str
    numbers: list[Decimal] = field(default_factory=list)
    units: list[Decimal] = field(default_factory=list)  # one unit of the last digit shown


def shown(where: str, text: str | None) -> Shown:
    masked = _IDS.sub("<id>", text or "")
    numbers: list[Decimal] = []
    units: list[Decimal] = []
    for token in _NUMBER.findall(masked):
        plain = token.replace(",", "")
        numbers.append(Decimal(plain))
        digits = len(plain.split(".")[1]) if "." in plain else 0
        units.append(Decimal(1).scaleb(-digits))
    return Shown(where, _NUMBER.sub("#", masked), numbers, units)


def section_texts(section: Section) -> list[Shown]:
    """Every number-bearing text of a section, labelled with where it sits."""
    out = [shown(f"{section.id}: title", section.title)]
    for m in section.metrics:
        out.append(shown(f"{section.id}: metric {m.label!r}", m.value))
        out.append(shown(f"{section.id}: metric {m.label!r} change", m.change))
    for block in section.blocks:
        if not isinstance(block, TableBlock):
            continue  # charts draw the same numbers the tables and metrics show
        name = f"{section.id}: table {_IDS.sub('<id>', block.title)!r}"
        out.append(shown(f"{name} title", block.title))
        out.append(shown(f"{name} columns", " | ".join(block.columns)))
        for i, row in enumerate(block.rows):
            for column, cell in zip(block.columns, row, strict=True):
                out.append(shown(f"{name} row {i} [{column}]", cell))
        out.append(shown(f"{name} note", block.note))
    for i, line in enumerate(section.summary):
        out.append(shown(f"{section.id}: summary {i}", line))
    return out


def differences(got: list[Shown], want: list[Shown]) -> list[str]:
    """Where ``got`` (Spark) and ``want`` (DuckDB) differ beyond rounding, in words."""
    if [g.where for g in got] != [w.where for w in want]:
        missing = sorted({w.where for w in want} ^ {g.where for g in got})
        return [f"different layout: {missing[:10]}"]
    problems = []
    for g, w in zip(got, want, strict=True):
        if g.text != w.text or len(g.numbers) != len(w.numbers):
            problems.append(f"{w.where}: {g.text!r} {g.numbers} vs {w.text!r} {w.numbers}")
            continue
        for a, b, unit in zip(g.numbers, w.numbers, w.units, strict=True):
            if abs(a - b) > unit:
                problems.append(f"{w.where}: {a} vs {b} (shown to {unit})")
    return problems


def compare_summaries(got: dict[str, Any], want: dict[str, Any], rel: float = 1e-6) -> list[str]:
    """A stage summary (counts and sums from `run_loop`), ids masked, floats to ``rel``."""
    problems = []
    for key in sorted(set(got) | set(want)):
        a, b = got.get(key), want.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            problems += [f"{key}.{p}" for p in compare_summaries(a, b, rel)]
            continue
        if isinstance(a, str) and isinstance(b, str):
            a, b = _IDS.sub("<id>", a), _IDS.sub("<id>", b)
        if isinstance(a, float) or isinstance(b, float):
            assert isinstance(a, int | float) and isinstance(b, int | float), (key, a, b)
            if abs(a - b) > rel * max(1.0, abs(b)):
                problems.append(f"{key}: {a} vs {b}")
        elif a != b:
            problems.append(f"{key}: {a!r} vs {b!r}")
    return problems
