"""The offer catalogue in the warehouse table `offers`: save (upsert or replace), list, get.

Saving checks each eligibility rule against this warehouse (fields that exist in
``customer_360``, referenced segments that exist) with the segments' own checker, so an offer
that could not run is refused before a decision run meets it.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence

import pyarrow as pa
import sqlglot.expressions as exp

from cvm.core.errors import NotFoundError, UserInputError
from cvm.decide.offers import Offer, offers_from_json
from cvm.decide.tables import OFFERS
from cvm.engine.base import Engine
from cvm.segments.checks import did_you_mean
from cvm.segments.context import utc_naive
from cvm.segments.definition import SegmentDefinition
from cvm.segments.fields import field_catalog
from cvm.segments.validate import check_definition

_VIEW = "__cvm_offers_load"


def check_offer_rules(engine: Engine, offers: Sequence[Offer]) -> None:
    """Meaning checks of every eligibility rule; all problems reported at once."""
    from cvm.segments.store import SegmentStore

    catalog = field_catalog(engine)
    store: SegmentStore | None = None
    problems: list[str] = []
    for offer in offers:
        if offer.eligibility is None:
            continue
        if store is None:
            store = SegmentStore(engine)
        definition = SegmentDefinition(name="eligibility", rule=offer.eligibility)
        issues = check_definition(
            definition,
            catalog,
            segment_exists=store.exists,
            segment_names=store.names(),
            resolve=store.resolve,
        )
        problems += [
            f"offer {offer.id!r}: eligibility{i.path.removeprefix('rule')}: {i.message}"
            for i in issues
        ]
    if problems:
        raise UserInputError("\n".join(problems))


def save_offers(
    engine: Engine, offers: Sequence[Offer], source: str, *, replace: bool = False
) -> dict[str, int]:
    """Upsert offers by id (``replace``: the catalogue becomes exactly these offers)."""
    engine.ensure_table(OFFERS)
    check_offer_rules(engine, offers)
    existing = set(offer_ids(engine))
    now = utc_naive(None)
    table = pa.table(
        {
            "offer_id": pa.array([o.id for o in offers], pa.string()),
            "name": pa.array([o.name for o in offers], pa.string()),
            "outcome": pa.array([o.outcome for o in offers], pa.string()),
            "definition": pa.array(
                [json.dumps(o.to_json_dict(), sort_keys=True) for o in offers], pa.string()
            ),
            "valid_from": pa.array([o.valid_from for o in offers], pa.date32()),
            "valid_to": pa.array([o.valid_to for o in offers], pa.date32()),
            "source": pa.array([source] * len(offers), pa.string()),
            "loaded_at": pa.array([now] * len(offers), pa.timestamp("us")),
        }
    )
    target = exp.to_table(OFFERS.name)
    if replace:
        engine.execute(exp.delete(target))
    elif offers:
        ids = [exp.Literal.string(o.id) for o in offers]
        engine.execute(exp.delete(target).where(exp.column("offer_id").isin(*ids)))
    engine.write_arrow(OFFERS.name, table)
    new = {o.id for o in offers}
    return {
        "loaded": len(offers),
        "created": len(new - existing),
        "updated": len(new & existing),
        "removed": len(existing - new) if replace else 0,
    }


def offer_ids(engine: Engine) -> list[str]:
    if not engine.table_exists(OFFERS.name):
        return []
    query = exp.select("offer_id").from_(OFFERS.name).order_by("offer_id")
    return [str(r[0]) for r in engine.fetch_rows(query)]


def load_offers(engine: Engine) -> list[Offer]:
    """Every stored offer, sorted by id."""
    if not engine.table_exists(OFFERS.name):
        return []
    query = exp.select("definition").from_(OFFERS.name).order_by("offer_id")
    return offers_from_json(engine.fetch_rows(query))


def get_offer(engine: Engine, offer_id: str) -> Offer:
    for offer in load_offers(engine):
        if offer.id == offer_id:
            return offer
    raise NotFoundError(f"no offer {offer_id!r}" + did_you_mean(offer_id, offer_ids(engine)))


def delete_offer(engine: Engine, offer_id: str) -> None:
    get_offer(engine, offer_id)
    engine.execute(
        exp.delete(exp.to_table(OFFERS.name)).where(
            exp.column("offer_id").eq(exp.Literal.string(offer_id))
        )
    )


def offer_rows(offers: Sequence[Offer], day: dt.date | None = None) -> list[dict[str, object]]:
    """A listing row per offer (for the CLI and the API)."""
    return [
        {
            "id": o.id,
            "name": o.name,
            "outcome": o.outcome,
            "channels": ", ".join(f"{c} ({v:g})" for c, v in o.channels.items()),
            "value": o.value.kind,
            "uplift": f"profiles.uplift[{o.uplift_key}] else {o.uplift.prior:g}",
            "priority": o.priority,
            "valid": f"{o.valid_from or '…'} → {o.valid_to or '…'}",
            "active": o.is_valid_on(day) if day else None,
        }
        for o in offers
    ]
