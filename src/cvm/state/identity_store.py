"""Storage of the identity graph: identities, profiles (identity_customers), links, merges,
sightings. Rows go in and out as plain dicts; the rules live in `cvm.identity.graph`."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, update

from cvm.state.tables import (
    identities,
    identity_customers,
    identity_links,
    identity_merges,
    identity_sightings,
)
from cvm.state.upsert import bulk_insert, chunks, upsert


class IdentityStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- reading --------------------------------------------------------------------------
    def next_ids(self, conn: Connection) -> tuple[int, int, int]:
        """Next free ids for identities, links and merges (one identity writer at a time)."""
        values = [
            conn.execute(select(func.coalesce(func.max(col), 0))).scalar_one()
            for col in (identities.c.id, identity_links.c.id, identity_merges.c.id)
        ]
        return int(values[0]) + 1, int(values[1]) + 1, int(values[2]) + 1

    def nodes_for(self, conn: Connection, keys: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
        # `kind = ? AND value IN (...)` walks the (kind, value) unique index; a row-value
        # `(kind, value) IN (...)` makes SQLite scan the table.
        by_kind: dict[str, list[str]] = {}
        for kind, value in keys:
            by_kind.setdefault(kind, []).append(value)
        rows: list[dict[str, Any]] = []
        for kind, values in by_kind.items():
            for chunk in chunks(sorted(set(values))):
                query = select(identities).where(
                    identities.c.kind == kind, identities.c.value.in_(list(chunk))
                )
                rows.extend(dict(r._mapping) for r in conn.execute(query))
        return rows

    def nodes_of_customers(
        self, conn: Connection, customer_ids: Sequence[str]
    ) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for chunk in chunks(list(customer_ids)):
            query = select(identities).where(identities.c.customer_id.in_(list(chunk)))
            rows.extend(dict(r._mapping) for r in conn.execute(query))
        return rows

    def customers(self, conn: Connection, customer_ids: Iterable[str]) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        for chunk in chunks(sorted(set(customer_ids))):
            query = select(identity_customers).where(
                identity_customers.c.customer_id.in_(list(chunk))
            )
            rows.extend(dict(r._mapping) for r in conn.execute(query))
        return rows

    def sightings(self, conn: Connection, node_ids: Sequence[int]) -> list[tuple[int, int]]:
        pairs: list[tuple[int, int]] = []
        for chunk in chunks(list(node_ids)):
            query = select(
                identity_sightings.c.identity_id, identity_sightings.c.user_identity_id
            ).where(identity_sightings.c.identity_id.in_(list(chunk)))
            pairs.extend((int(a), int(b)) for a, b in conn.execute(query))
        return pairs

    def all_nodes(self, conn: Connection) -> Iterator[dict[str, Any]]:
        for row in conn.execute(select(identities)):
            yield dict(row._mapping)

    def all_customers(self, conn: Connection) -> Iterator[dict[str, Any]]:
        for row in conn.execute(select(identity_customers)):
            yield dict(row._mapping)

    def all_sightings(self, conn: Connection) -> Iterator[tuple[int, int]]:
        query = select(identity_sightings.c.identity_id, identity_sightings.c.user_identity_id)
        for a, b in conn.execute(query):
            yield int(a), int(b)

    def links_among(self, conn: Connection, node_ids: Sequence[int]) -> list[dict[str, Any]]:
        wanted = set(node_ids)
        rows: list[dict[str, Any]] = []
        for chunk in chunks(list(node_ids)):
            query = select(identity_links).where(
                or_(identity_links.c.from_id.in_(list(chunk)), identity_links.c.to_id.in_(chunk))
            )
            rows.extend(dict(r._mapping) for r in conn.execute(query))
        unique = {r["id"]: r for r in rows if r["from_id"] in wanted and r["to_id"] in wanted}
        return sorted(unique.values(), key=lambda r: r["id"])

    def merge(self, conn: Connection, merge_id: int) -> dict[str, Any] | None:
        row = conn.execute(select(identity_merges).where(identity_merges.c.id == merge_id)).first()
        return dict(row._mapping) if row else None

    def merges_for(self, conn: Connection, customer_ids: Sequence[str]) -> list[dict[str, Any]]:
        query = (
            select(identity_merges)
            .where(
                or_(
                    identity_merges.c.kept_customer_id.in_(list(customer_ids)),
                    identity_merges.c.merged_customer_id.in_(list(customer_ids)),
                )
            )
            .order_by(identity_merges.c.id)
        )
        return [dict(r._mapping) for r in conn.execute(query)]

    def resolve_customer(self, conn: Connection, customer_id: str) -> str | None:
        """Follow `merged_into` to the live profile; None when the id was never a profile."""
        seen: set[str] = set()
        current = customer_id
        while current not in seen:
            seen.add(current)
            row = conn.execute(
                select(identity_customers.c.merged_into).where(
                    identity_customers.c.customer_id == current
                )
            ).first()
            if row is None:
                return None
            if row[0] is None:
                return current
            current = str(row[0])
        return current

    def aliases_of(self, conn: Connection, customer_id: str) -> list[str]:
        """Every profile id merged (directly or through others) into `customer_id`."""
        found: list[str] = []
        frontier = [customer_id]
        while frontier:
            rows = conn.execute(
                select(identity_customers.c.customer_id).where(
                    identity_customers.c.merged_into.in_(frontier)
                )
            ).all()
            frontier = [str(r[0]) for r in rows if str(r[0]) not in found]
            found.extend(frontier)
        return found

    # -- writing --------------------------------------------------------------------------
    def reassign(self, conn: Connection, moves: Sequence[tuple[str, str]]) -> None:
        for old, new in moves:
            conn.execute(
                update(identities)
                .where(identities.c.customer_id == old)
                .values(customer_id=new, mirror_pending=True)
            )

    def write_nodes(
        self,
        conn: Connection,
        new: Sequence[dict[str, Any]],
        changed: Sequence[dict[str, Any]],
        mirror_pending: bool = True,
    ) -> None:
        flag = {"mirror_pending": mirror_pending}
        if new:
            bulk_insert(conn, identities, [{**r, **flag} for r in new])
        if changed:
            upsert(
                conn,
                identities,
                [{**r, **flag} for r in changed],
                ["id"],
                ["customer_id", "blocked", "last_seen", "first_user_id", "mirror_pending"],
            )

    def write_customers(
        self,
        conn: Connection,
        rows: Sequence[dict[str, Any]],
        new: Sequence[dict[str, Any]] = (),
    ) -> None:
        """`new`: profiles known not to exist yet (plain insert); `rows`: insert or update."""
        bulk_insert(conn, identity_customers, new)
        upsert(
            conn,
            identity_customers,
            rows,
            ["customer_id"],
            ["anchor_id", "has_user", "merged_into"],
        )

    def write_links(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        bulk_insert(conn, identity_links, rows)

    def write_merges(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        bulk_insert(conn, identity_merges, rows)

    def write_sightings(self, conn: Connection, pairs: Sequence[tuple[int, int]]) -> None:
        bulk_insert(
            conn,
            identity_sightings,
            [{"identity_id": a, "user_identity_id": b} for a, b in pairs],
            ignore_conflicts_on=["identity_id", "user_identity_id"],
        )

    def set_link_status(self, conn: Connection, link_id: int, status: str) -> None:
        conn.execute(
            update(identity_links).where(identity_links.c.id == link_id).values(status=status)
        )

    def mark_merge_undone(self, conn: Connection, merge_id: int, at: datetime) -> None:
        conn.execute(
            update(identity_merges).where(identity_merges.c.id == merge_id).values(undone_at=at)
        )

    # -- warehouse mirror -----------------------------------------------------------------
    def pending_mirror(self, conn: Connection, limit: int) -> list[dict[str, Any]]:
        query = (
            select(
                identities.c.id,
                identities.c.kind,
                identities.c.value,
                identities.c.customer_id,
                identities.c.blocked,
                identities.c.last_seen,
            )
            .where(identities.c.mirror_pending.is_(True))
            .limit(limit)
        )
        return [dict(r._mapping) for r in conn.execute(query)]

    def clear_all_mirror_flags(self, conn: Connection) -> None:
        conn.execute(
            update(identities)
            .where(identities.c.mirror_pending.is_(True))
            .values(mirror_pending=False)
        )

    def clear_mirror_flags(self, conn: Connection, ids: Sequence[int]) -> None:
        for chunk in chunks(list(ids)):
            conn.execute(
                update(identities)
                .where(identities.c.id.in_(list(chunk)))
                .values(mirror_pending=False)
            )

    # -- privacy --------------------------------------------------------------------------
    def delete_customer(self, conn: Connection, customer_ids: Sequence[str]) -> dict[str, int]:
        """Remove every identity, link, merge and sighting of these profiles."""
        node_ids = [
            int(r[0])
            for r in conn.execute(
                select(identities.c.id).where(identities.c.customer_id.in_(list(customer_ids)))
            )
        ]
        counts = {"identities": len(node_ids), "links": 0, "merges": 0}
        for chunk in chunks(node_ids):
            ids = list(chunk)
            counts["links"] += int(
                conn.execute(
                    delete(identity_links).where(
                        or_(identity_links.c.from_id.in_(ids), identity_links.c.to_id.in_(ids))
                    )
                ).rowcount
                or 0
            )
            conn.execute(
                delete(identity_sightings).where(
                    or_(
                        identity_sightings.c.identity_id.in_(ids),
                        identity_sightings.c.user_identity_id.in_(ids),
                    )
                )
            )
            conn.execute(delete(identities).where(identities.c.id.in_(ids)))
        counts["merges"] = int(
            conn.execute(
                delete(identity_merges).where(
                    or_(
                        identity_merges.c.kept_customer_id.in_(list(customer_ids)),
                        identity_merges.c.merged_customer_id.in_(list(customer_ids)),
                    )
                )
            ).rowcount
            or 0
        )
        conn.execute(
            delete(identity_customers).where(
                or_(
                    identity_customers.c.customer_id.in_(list(customer_ids)),
                    and_(identity_customers.c.merged_into.in_(list(customer_ids))),
                )
            )
        )
        return counts
