"""Render messages and write them to the outbox, one transaction per batch, before any send.

Each message gets its idempotency key ``sha256(campaign | customer | step)[:32]`` (unique in
the outbox): a repeated launch of the same occurrence, a trigger evaluated twice for the same
event, or a crash and re-run add nothing. A template that fails for one customer (a missing
value without a default, a sandbox violation) writes that message straight to dead-letter
with the reason; the others go on.

E-mail messages get their tracking here: links routed through the signed click redirect, an
open pixel, an unsubscribe link (added as a footer when the template has none) and the
``List-Unsubscribe`` / ``List-Unsubscribe-Post`` headers for marketing mail.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from cvm.campaigns.audience import Recipient
from cvm.campaigns.campaign import Campaign
from cvm.campaigns.templates import CampaignTemplates, RenderError, message_context
from cvm.campaigns.tracking import (
    LinkSigner,
    add_open_pixel,
    ensure_unsubscribe_html,
    ensure_unsubscribe_text,
    rewrite_links,
    unsubscribe_headers,
)
from cvm.channels.registry import CONSENT_CHANNEL
from cvm.state.outbox import OutboxStore

BATCH = 5000


def idempotency_key(campaign_id: str, customer_id: str, step: str) -> str:
    return hashlib.sha256(f"{campaign_id}|{customer_id}|{step}".encode()).hexdigest()[:32]


def product_list(
    raw: object, catalogue: Mapping[str, dict[str, Any]], limit: int = 10
) -> list[dict[str, Any]]:
    """Recommended product ids (``top_products`` JSON) → product records, best first; ids the
    catalogue does not know are left out (a product we cannot name is not recommended)."""
    if raw is None:
        return []
    try:
        ids = json.loads(raw) if isinstance(raw, str) else list(raw)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return []
    out: list[dict[str, Any]] = []
    for pid in ids[:limit]:
        key = str(pid.get("product_id", pid.get("id"))) if isinstance(pid, dict) else str(pid)
        if key in catalogue:
            out.append(catalogue[key])
        elif not catalogue:  # no catalogue at all: the id is all there is to show
            out.append({"id": key, "name": key})
    return out


@dataclass
class Composer:
    """Turns recipients into outbox rows for one campaign run."""

    campaign: Campaign
    templates: CampaignTemplates
    signer: LinkSigner
    run_id: str
    catalogue: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    offers: Mapping[str, dict[str, Any]] = field(default_factory=dict)
    unsubscribe_mailto: str | None = None

    def compose(self, r: Recipient, now: dt.datetime) -> dict[str, Any]:
        c = self.campaign
        key = idempotency_key(c.id, r.customer_id, r.step)
        consent_channel = CONSENT_CHANNEL[r.channel]
        unsub = self.signer.unsubscribe_url(key, r.customer_id, consent_channel, c.purpose)
        context = message_context(
            r.profile,
            products=product_list(r.profile.get("top_products"), self.catalogue),
            offer=self.offers.get(r.offer_id or "") if r.offer_id else None,
            event=r.event,
            campaign=c,
            unsubscribe_url=unsub,
        )
        row: dict[str, Any] = {
            "idempotency_key": key, "campaign_id": c.id, "run_id": self.run_id,
            "customer_id": r.customer_id, "step": r.step, "channel": r.channel,
            "purpose": c.purpose, "address": r.address, "time_zone": r.time_zone,
            "not_before": r.not_before, "created_at": now, "attempts": 0,
            "history_pending": True, "cancel_event": None, "cancel_after": None,
            "lease_until": None, "worker": None, "sent_at": None, "provider_id": None,
        }  # fmt: skip
        meta: dict[str, Any] = {"offer_id": r.offer_id}
        try:
            rendered = self.templates.render(r.channel, r.language, context)
        except RenderError as err:
            return {**row, "language": r.language, "subject": None, "body": None, "html": None,
                    "meta": meta, "status": "dead", "last_error": str(err)}  # fmt: skip
        text, html = rendered.text, rendered.html
        if r.channel == "email":
            if html is not None:
                if c.track_clicks:
                    html = rewrite_links(html, self.signer, key)
                if c.purpose == "marketing":
                    html = ensure_unsubscribe_html(html, unsub)
                if c.track_opens:
                    html = add_open_pixel(html, self.signer.open_url(key))
            if text is not None and c.purpose == "marketing":
                text = ensure_unsubscribe_text(text, unsub)
            if c.purpose == "marketing":
                meta["headers"] = unsubscribe_headers(unsub, self.unsubscribe_mailto)
        return {**row, "language": rendered.language, "subject": rendered.subject, "body": text,
                "html": html, "meta": meta, "status": "queued", "last_error": None}  # fmt: skip


@dataclass
class EnqueueResult:
    queued: int = 0
    dead: int = 0
    existing: int = 0
    keys: dict[str, str] = field(default_factory=dict)  # customer_id → key (queued ones)

    def add(self, other: EnqueueResult) -> None:
        self.queued += other.queued
        self.dead += other.dead
        self.existing += other.existing
        self.keys.update(other.keys)


def enqueue(
    store: OutboxStore,
    composer: Composer,
    recipients: Iterable[Recipient],
    now: dt.datetime,
    *,
    cancel: tuple[str, dt.datetime] | None = None,
    in_transaction: Callable[[Any, Sequence[dict[str, Any]]], None] | None = None,
    history: Callable[[Sequence[dict[str, Any]]], None] | None = None,
    batch: int = BATCH,
    processes: int = 1,
) -> EnqueueResult:
    """Compose and insert in batches (one transaction each). ``cancel`` = (event, after)
    makes every message wait for a cancelling event; ``in_transaction`` runs inside each
    batch's transaction (trigger bookkeeping commits together with its messages).

    ``history`` writes the new queued messages to contact_history as ``scheduled`` *before*
    their transaction commits: a crash in between leaves a count that is too high (a message
    that does not exist yet is counted against caps until the re-run writes it), never too
    low, and spares the mirror a million flag updates.

    With ``processes`` > 1 the rendering runs in that many forked processes, this one
    writing; each batch is still one transaction, in order."""

    def record(fresh: list[dict[str, Any]]) -> None:
        queued = [r for r in fresh if r["status"] == "queued"]
        if history is not None and queued:
            history(queued)
            for r in queued:
                r["history_pending"] = False

    total = EnqueueResult()

    def flush(pending: list[dict[str, Any]]) -> None:
        if not pending:
            return
        with store.engine.begin() as conn:
            fresh = store.enqueue(pending, conn, record)
            if in_transaction is not None:
                in_transaction(conn, fresh)
        queued = [r for r in fresh if r["status"] == "queued"]
        total.add(
            EnqueueResult(
                queued=len(queued),
                dead=len(fresh) - len(queued),
                existing=len(pending) - len(fresh),
                keys={r["customer_id"]: r["idempotency_key"] for r in queued},
            )
        )

    items = list(recipients)
    chunks = [items[i : i + batch] for i in range(0, len(items), batch)]
    if processes > 1 and len(chunks) > 1:
        for rows in _compose_in_processes(composer, chunks, now, cancel, processes):
            flush(rows)
    else:
        for chunk in chunks:
            flush(_compose_chunk(composer, chunk, now, cancel))
    return total


def _compose_chunk(
    composer: Composer,
    chunk: Sequence[Recipient],
    now: dt.datetime,
    cancel: tuple[str, dt.datetime] | None,
) -> list[dict[str, Any]]:
    rows = []
    for r in chunk:
        row = composer.compose(r, now)
        if cancel is not None:
            row["cancel_event"] = cancel[0]
            row["cancel_after"] = r.trigger_at or cancel[1]
        rows.append(row)
    return rows


_FORKED: Composer | None = None  # the composer a forked render process inherits


def _compose_forked(
    chunk: Sequence[Recipient], now: dt.datetime, cancel: tuple[str, dt.datetime] | None
) -> list[dict[str, Any]]:
    assert _FORKED is not None
    return _compose_chunk(_FORKED, chunk, now, cancel)


def _compose_in_processes(
    composer: Composer,
    chunks: Sequence[Sequence[Recipient]],
    now: dt.datetime,
    cancel: tuple[str, dt.datetime] | None,
    processes: int,
) -> Iterator[list[dict[str, Any]]]:
    """Render chunks in forked processes (compiled templates are not picklable; a fork
    inherits them) while this process writes the previous chunks: results come in order."""
    global _FORKED
    _FORKED = composer
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(processes, mp_context=context) as pool:
        window = processes * 2
        futures = [pool.submit(_compose_forked, c, now, cancel) for c in chunks[:window]]
        for i in range(len(chunks)):
            rows = futures[i].result()
            if i + window < len(chunks):
                futures.append(pool.submit(_compose_forked, chunks[i + window], now, cancel))
            yield rows
    _FORKED = None
