"""The loyalty stage: earn → ledger, expire, tiers, then mirror it all into the warehouse.

`run_loyalty_stage(ws, as_of)` is what `cvm loyalty run` and the loop call:

1. read the members from the ledger; new members (not in the warehouse mirror yet) earn from
   their enrolment, known ones from the first day of the month of the last run's end (the
   monthly cap needs the month's earlier orders; the ledger drops the repeated keys);
2. tiers first when they qualify on spend (so the tier multiplier of the order day applies),
   earn postings and campaign grants (`cvm.loyalty.earn`) posted in batches, lots expired;
3. mirror the journal lines (append after the last mirrored id), the accounts (replaced), the
   tier timeline (recomputed from enrolment: deterministic, so a rerun gives the same spans)
   and the profile fields (`loyalty_profile`, joined into `customer_360`).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

import pyarrow as pa

from cvm.core.errors import UserInputError
from cvm.core.timewindows import end_of_day
from cvm.engine.base import Engine
from cvm.loyalty.earn import POSTING_COLUMNS, earn_postings, grant_postings
from cvm.loyalty.features import write_tier_levels
from cvm.loyalty.profile_fields import write_profile_fields
from cvm.loyalty.programme import Programme, load_programme
from cvm.loyalty.tables import (
    LOYALTY_ACCOUNTS,
    LOYALTY_ENTRIES,
    LOYALTY_RUNS,
    LOYALTY_TIERS,
    arrow_schema,
    ensure_loyalty_tables,
)
from cvm.loyalty.tiers import qualifying_amounts, timelines_table
from cvm.state.loyalty_ledger import LoyaltyLedger, Posting, PostReport
from cvm.value.summaries import last_transaction_date
from cvm.workspace import Workspace

Progress = Callable[[str], None]
POST_BATCH = 5_000
MIRROR_BATCH = 50_000


@dataclass
class LoyaltyRun:
    run_id: str
    since: dt.datetime | None
    until: dt.datetime
    members: int
    new_members: int
    posted: int
    duplicates: int
    rejected: int
    expired: int
    mirrored_lines: int
    tiers: dict[str, int] = field(default_factory=dict)
    rejections: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["since"] = self.since.isoformat() if self.since else None
        out["until"] = self.until.isoformat()
        out["rejections"] = [list(r) for r in self.rejections[:20]]
        return out


def _members(ledger: LoyaltyLedger) -> list[tuple[str, dt.datetime, dict[str, Any]]]:
    return [(a["customer_id"], a["enrolled_at"], a) for a in ledger.accounts()]


def _previous(engine: Engine) -> tuple[dt.datetime | None, set[str]]:
    """The last run's exclusive end and the members it had mirrored."""
    until = engine.fetch_scalar('SELECT MAX("until") FROM loyalty_runs')
    known = {str(r[0]) for r in engine.fetch_rows("SELECT customer_id FROM loyalty_accounts")}
    return (until if isinstance(until, dt.datetime) else None), known


def _month_start(moment: dt.datetime) -> dt.datetime:
    return dt.datetime(moment.year, moment.month, 1)


def to_postings(batch: pa.RecordBatch, programme: Programme) -> list[Posting]:
    """Arrow rows of `POSTING_COLUMNS` → ledger postings, with each earn lot's expiry date."""
    cols = {name: batch.column(name).to_pylist() for name in POSTING_COLUMNS}
    out: list[Posting] = []
    for i in range(batch.num_rows):
        at = cols["at"][i]
        kind = cols["kind"][i]
        out.append(
            Posting(
                key=cols["key"][i],
                customer_id=cols["customer_id"][i],
                kind=kind,
                points=int(cols["points"][i]),
                at=at,
                reason=cols["reason"][i] or "",
                reference=cols["reference"][i],
                expires_at=programme.expiry.expires_at(at) if kind == "earn" else None,
            )
        )
    return out


def _post_all(
    ledger: LoyaltyLedger, batches: Iterable[pa.RecordBatch], programme: Programme
) -> PostReport:
    report = PostReport()
    pending: list[Posting] = []
    for batch in batches:
        pending.extend(to_postings(batch, programme))
        while len(pending) >= POST_BATCH:
            report.merge(ledger.post(pending[:POST_BATCH]))
            pending = pending[POST_BATCH:]
    if pending:
        report.merge(ledger.post(pending))
    return report


def _tiers(
    engine: Engine,
    programme: Programme,
    members: list[tuple[str, dt.datetime, dict[str, Any]]],
    until: dt.datetime,
) -> pa.Table | None:
    rules = programme.tiers
    if rules is None:
        return None
    member_table = pa.table(
        {
            "customer_id": pa.array([m[0] for m in members], pa.string()),
            "enrolled_at": pa.array([m[1] for m in members], pa.timestamp("us")),
        }
    )
    amounts = qualifying_amounts(engine, member_table, until, rules.basis)
    last_day = (until - dt.timedelta(microseconds=1)).date()
    return timelines_table(((m[0], m[1].date()) for m in members), amounts, last_day, rules)


def _mirror_entries(engine: Engine, ledger: LoyaltyLedger) -> int:
    after = int(engine.fetch_scalar("SELECT COALESCE(MAX(id), 0) FROM loyalty_entries") or 0)  # type: ignore[call-overload]
    schema = arrow_schema(LOYALTY_ENTRIES)
    copied = 0
    while rows := ledger.entries(after_id=after, limit=MIRROR_BATCH):
        table = pa.table({n: [r.get(n) for r in rows] for n in schema.names}, schema=schema)
        engine.write_arrow(LOYALTY_ENTRIES.name, table)
        after = int(rows[-1]["id"])
        copied += len(rows)
    return copied


def _mirror_accounts(
    engine: Engine, members: list[tuple[str, dt.datetime, dict[str, Any]]], now: dt.datetime
) -> None:
    schema = arrow_schema(LOYALTY_ACCOUNTS)
    accounts = [m[2] for m in members]
    data = {n: [a.get(n) for a in accounts] for n in schema.names if n != "mirrored_at"}
    data["mirrored_at"] = [now] * len(accounts)
    engine.write_arrow(LOYALTY_ACCOUNTS.name, pa.table(data, schema=schema), mode="replace")


def run_loyalty_stage(
    ws: Workspace, as_of: dt.datetime | None = None, *, progress: Progress | None = None
) -> LoyaltyRun | None:
    """Run the loyalty stage up to ``as_of`` (exclusive; default: the end of the last day with
    transactions). None when the workspace has no `loyalty.yaml`."""
    step = progress or (lambda _msg: None)
    started = time.perf_counter()
    programme = load_programme(ws.root)
    if programme is None:
        return None
    engine = ws.engine
    if as_of is None:
        last = last_transaction_date(engine)
        if last is None:
            raise UserInputError("no transactions in the warehouse: ingest some first")
        as_of = end_of_day(last)
    ensure_loyalty_tables(engine)
    ledger = LoyaltyLedger(ws.state, allow_negative=programme.allow_negative)
    members = _members(ledger)
    previous_until, known = _previous(engine)
    since = _month_start(previous_until) if previous_until else None
    first = min((m[1] for m in members), default=as_of)
    member_since = [
        m[1] if (since is None or m[0] not in known) else max(m[1], since) for m in members
    ]
    member_table = pa.table(
        {
            "customer_id": pa.array([m[0] for m in members], pa.string()),
            "enrolled_at": pa.array([m[1] for m in members], pa.timestamp("us")),
            "since": pa.array(member_since, pa.timestamp("us")),
        }
    )

    spans: pa.Table | None = None
    if programme.tiers is not None and programme.tiers.basis == "spend":
        step("tiers (spend)")
        spans = _tiers(engine, programme, members, as_of)
    elif programme.tiers is not None:
        spans = engine.fetch_arrow("SELECT * FROM loyalty_tiers")  # last run's, for multipliers
    step("earning points")
    lower = min(member_since, default=first)
    report = _post_all(
        ledger,
        earn_postings(engine, programme, member_table, lower, as_of, tier_spans=spans),
        programme,
    )
    grants = grant_postings(engine, programme, member_table, as_of)
    if grants.num_rows:
        report.merge(_post_all(ledger, grants.to_batches(), programme))
    step("expiring lots")
    expired = ledger.expire(as_of)
    step("mirroring the ledger")
    mirrored = _mirror_entries(engine, ledger)
    # Balances after this run, for the members it earned for: one enrolled meanwhile stays
    # out of the mirror, so the next run still sees it as new and earns from its enrolment.
    earned_for = {m[0] for m in members}
    members = [m for m in _members(ledger) if m[0] in earned_for]
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    _mirror_accounts(engine, members, now)
    if programme.tiers is not None and programme.tiers.basis == "points":
        step("tiers (points)")
        spans = _tiers(engine, programme, members, as_of)
    if spans is not None:
        engine.write_arrow(LOYALTY_TIERS.name, spans, mode="replace")
    step("profile fields")
    write_profile_fields(engine, programme, as_of)
    write_tier_levels(engine, programme)

    tiers: dict[str, int] = {}
    if spans is not None:
        for tier, valid_to in zip(
            spans.column("tier").to_pylist(), spans.column("valid_to").to_pylist(), strict=True
        ):
            if valid_to is None:
                tiers[tier] = tiers.get(tier, 0) + 1
    run = LoyaltyRun(
        run_id=f"loyalty-{as_of.date().isoformat()}-{uuid.uuid4().hex[:8]}",
        since=lower if members else None,
        until=as_of,
        members=len(members),
        new_members=sum(1 for m in members if m[0] not in known),
        posted=report.posted,
        duplicates=report.duplicates,
        rejected=len(report.rejected),
        expired=expired.posted,
        mirrored_lines=mirrored,
        tiers=tiers,
        rejections=report.rejected,
        seconds=round(time.perf_counter() - started, 3),
    )
    log = {
        "run_id": [run.run_id],
        "since": [run.since],
        "until": [run.until],
        "posted": [run.posted],
        "duplicates": [run.duplicates],
        "rejected": [run.rejected],
        "expired": [run.expired],
        "finished_at": [now],
    }
    engine.write_arrow(LOYALTY_RUNS.name, pa.table(log, schema=arrow_schema(LOYALTY_RUNS)))
    return run


def loyalty_pipeline_stage(ws: Workspace, as_of: dt.date | None, step: Progress) -> dict[str, Any]:
    """The loop's stage (`cvm.pipeline.StageFn`): up to the end of ``as_of`` (inclusive)."""
    run = run_loyalty_stage(ws, end_of_day(as_of) if as_of else None, progress=step)
    if run is None:
        return {"skipped": "no loyalty programme (loyalty.yaml) in the workspace"}
    keep = ("members", "new_members", "posted", "duplicates", "rejected", "expired", "tiers")
    return {k: v for k, v in run.to_dict().items() if k in keep}
