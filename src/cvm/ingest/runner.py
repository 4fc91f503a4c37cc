"""One ingestion run, start to finish: `ingest(workspace, table, source, mapping=...)`.

1. Resolve the sources and open each (header or sample read only), and resolve the mapping
   against each one's columns: a missing file, an unsupported encoding or a mapping naming an
   absent column fails here with one sentence, before anything is written.
2. Stage: one streamed scan per source into a temporary table (progress reported).
3. Refuse later duplicates of a key and, per policy, rows of unknown customers; locate the line
   of every refused row.
4. In one transaction: customer stubs, the merge, the quarantine rows and the `ingest_runs`
   row. An error rolls all of it back.

The result always reconciles: read = accepted + quarantined.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlglot.expressions as exp

from cvm.core.contracts import TableContract, contract
from cvm.engine.base import Engine, count_rows
from cvm.engine.sources import OpenedSource, Source, source_reader
from cvm.engine.sql import SqlValue, literal
from cvm.engine.warehouse import INGEST_RUNS, ensure_warehouse
from cvm.ingest import load, quarantine
from cvm.ingest.mapping import Mapping, load_mapping
from cvm.ingest.plan import IngestPlan, build_plan
from cvm.ingest.sources import resolve_sources
from cvm.ingest.staging import stage_sources, union_plan
from cvm.workspace import Workspace

# (description, completed, total): completed and total in megabytes of input read.
ProgressCallback = Callable[[str, float, float], None]


@dataclass
class IngestResult:
    run_id: str
    table: str
    source: str
    read: int
    accepted: int
    quarantined: int
    inserted: int
    updated: int
    unchanged: int
    customers_created: int
    reasons: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def __post_init__(self) -> None:
        if self.read != self.accepted + self.quarantined:  # pragma: no cover - a bug, never data
            raise AssertionError(f"counts do not reconcile: {self}")

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(3)


def ingest(
    ws: Workspace,
    table: str,
    source: Path | None = None,
    *,
    mapping: Mapping | Path | None = None,
    query: str | None = None,
    url: str | None = None,
    progress: ProgressCallback | None = None,
) -> IngestResult:
    """Ingest a file, a folder or a database query into a canonical table of the workspace."""
    target = contract(table)
    if isinstance(mapping, Path):
        mapping_obj, origin = load_mapping(mapping), str(mapping)
    else:
        mapping_obj, origin = mapping or Mapping(), "mapping"
    mapping_obj.check_table(target.name, origin)
    sources = resolve_sources(source, mapping_obj.source, query=query, url=url)
    settings = ws.settings
    return ingest_sources(
        ws.engine,
        target,
        sources,
        mapping_obj,
        origin=origin,
        unknown_customer=settings.ingest.unknown_customer,
        negative_quantity=settings.ingest.negative_quantity,
        timezone=settings.workspace.timezone,
        currency=settings.workspace.currency,
        progress=progress,
    )


def _label(sources: list[Source]) -> str:
    if len(sources) == 1:
        return sources[0].label
    return f"{len(sources)} files from {Path(sources[0].label).parent}"


def ingest_sources(
    engine: Engine,
    target: TableContract,
    sources: list[Source],
    mapping: Mapping,
    *,
    origin: str = "mapping",
    unknown_customer: Any = "create",
    negative_quantity: Any = "return",
    timezone: str = "UTC",
    currency: str = "USD",
    progress: ProgressCallback | None = None,
) -> IngestResult:
    """The run itself, on an engine (the workspace-free core of `ingest`)."""
    clock = time.perf_counter()
    ensure_warehouse(engine)
    run_id = new_run_id()
    token = run_id.rsplit("-", 1)[1]
    started = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    tables = load.RunTables(
        stage=f"__cvm_stage_{token}",
        late=f"__cvm_late_{token}",
        labels=[s.label for s in sources],
    )
    failures, located, rejects = (f"__cvm_{k}_{token}" for k in ("failures", "lines", "rejects"))
    reader = source_reader(engine)
    opened: list[OpenedSource] = []
    registered: list[str] = []
    try:
        plans: list[IngestPlan] = []
        for index, src in enumerate(sources):
            opened.append(reader.open(src, f"__cvm_src_{token}_{index}"))
            plans.append(
                build_plan(
                    target,
                    mapping,
                    opened[-1].columns,
                    origin=origin,
                    label=src.label,
                    unknown_customer=unknown_customer,
                    negative_quantity=negative_quantity,
                    timezone=timezone,
                    currency=currency,
                )
            )
        tables.starts = stage_sources(engine, reader, opened, plans, tables.stage, progress)
        # Nothing after staging depends on row order, so writes may run in parallel.
        with reader.unordered():
            merged = union_plan(plans)
            if progress:
                progress("checking keys and customers", 0, 1)
            load.create_late(engine, tables)
            load.find_duplicates(engine, merged, tables)
            load.quarantine_unknown_customers(engine, merged, tables)
            quarantine.collect_failures(engine, plans, tables, failures)
            lines, found = quarantine.locate_failures(engine, reader, opened, tables, failures)
            engine.register_arrow(located, lines)
            engine.register_arrow(rejects, quarantine.rejects_table(found))
            registered += [located, rejects]
            counts = _counts(engine, tables)
            read = counts["parsed"] + len(found)
            refused = counts["bad"] + counts["late"] + len(found)
            reasons = quarantine.failure_reasons(engine, failures, found)
            loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
            if progress:
                progress("writing", 0, 1)
            engine.execute(exp.Transaction())
            try:
                any_late = counts["late"] > 0
                created = load.create_customer_stubs(
                    engine, merged, tables, run_id, loaded_at, any_late
                )
                inserted, updated = load.merge(engine, merged, tables, run_id, loaded_at, any_late)
                quarantine.write_quarantine(
                    engine,
                    run_id=run_id,
                    table=target.name,
                    tables=tables,
                    failures=failures,
                    located=located,
                    rejects=rejects,
                    at=loaded_at,
                )
                accepted = read - refused
                result = IngestResult(
                    run_id=run_id,
                    table=target.name,
                    source=_label(sources),
                    read=read,
                    accepted=accepted,
                    quarantined=refused,
                    inserted=inserted,
                    updated=updated,
                    unchanged=accepted - inserted - updated,
                    customers_created=created,
                    reasons=reasons,
                )
                _record_run(engine, result, started)
                engine.execute(exp.Commit())
            except BaseException:
                engine.execute(exp.Rollback())
                raise
        if progress:
            progress("done", 1, 1)
        result.seconds = round(time.perf_counter() - clock, 3)
        return result
    finally:
        for name in registered:
            engine.unregister(name)
        for name in (tables.stage, tables.late, failures, f"{failures}_bad"):
            engine.execute(
                exp.Drop(tables=[exp.to_table(name, quoted=True)], kind="TABLE", exists=True)
            )
        for source in opened:
            reader.close(source)


def _counts(engine: Engine, tables: load.RunTables) -> dict[str, int]:
    stage = exp.to_table(tables.stage, quoted=True)
    bad = exp.select(exp.Count(this=exp.Star())).from_(stage).where(exp.column("_bad", quoted=True))
    late = exp.select(exp.Count(this=exp.Star())).from_(
        exp.select("_row").from_(exp.to_table(tables.late, quoted=True)).distinct().subquery("d")
    )
    return {
        "parsed": int(str(engine.fetch_scalar(count_rows(tables.stage)))),
        "bad": int(str(engine.fetch_scalar(bad))),
        "late": int(str(engine.fetch_scalar(late))),
    }


def _record_run(engine: Engine, result: IngestResult, started: dt.datetime) -> None:
    finished = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    values: dict[str, SqlValue] = {
        "ingest_run": result.run_id,
        "table_name": result.table,
        "source": result.source,
        "started_at": started,
        "finished_at": finished,
        "rows_read": result.read,
        "rows_accepted": result.accepted,
        "rows_quarantined": result.quarantined,
        "rows_inserted": result.inserted,
        "rows_updated": result.updated,
        "rows_unchanged": result.unchanged,
        "customers_created": result.customers_created,
    }
    assert list(values) == [c.name for c in INGEST_RUNS.columns]
    target = exp.Schema(
        this=exp.to_table(INGEST_RUNS.name, quoted=True),
        expressions=[exp.to_identifier(c, quoted=True) for c in values],
    )
    row = exp.Tuple(expressions=[literal(v) for v in values.values()])
    engine.execute(exp.Insert(this=target, expression=exp.Values(expressions=[row])))
