"""Storage of referrals: who referred whom with which code, the fraud guard's verdict, rewards.

The rules (fraud guards, qualification, the monthly cap) live in `cvm.loyalty.referrals`; this
module reads and writes rows, and gathers each customer's identifiers from the identity graph
for the shared-identifier guard.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select, update

from cvm.state.loyalty_tables import loyalty_accounts, loyalty_referrals
from cvm.state.tables import identities, identity_customers, identity_sightings

Identifier = tuple[str, str]  # (kind, normalised value), as in `cvm.identity.identifiers`


class ReferralStore:
    """Repository over `loyalty_referrals` (and read-only over the identity graph)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def code_owner(self, conn: Connection, code: str) -> str | None:
        """The member whose referral code is `code` (codes are stored upper-case)."""
        query = select(loyalty_accounts.c.customer_id).where(
            loyalty_accounts.c.referral_code == code.strip().upper()
        )
        return conn.execute(query).scalar()

    def code_of(self, customer_id: str) -> str | None:
        query = select(loyalty_accounts.c.referral_code).where(
            loyalty_accounts.c.customer_id == customer_id
        )
        with self.engine.connect() as conn:
            return conn.execute(query).scalar()

    def get(self, conn: Connection, referee_id: str) -> dict[str, Any] | None:
        row = conn.execute(
            select(loyalty_referrals).where(loyalty_referrals.c.referee_id == referee_id)
        ).first()
        return dict(row._mapping) if row else None

    def add(self, conn: Connection, row: dict[str, Any]) -> None:
        conn.execute(loyalty_referrals.insert().values(**row))

    def set_status(
        self,
        conn: Connection,
        referee_id: str,
        status: str,
        reason: str | None,
        at: datetime | None = None,
        order_reference: str | None = None,
    ) -> None:
        conn.execute(
            update(loyalty_referrals)
            .where(loyalty_referrals.c.referee_id == referee_id)
            .values(status=status, reason=reason, qualified_at=at, order_reference=order_reference)
        )

    def rewarded_count(
        self, conn: Connection, referrer_id: str, start: datetime, end: datetime
    ) -> int:
        """Referrals of `referrer_id` rewarded in [start, end)."""
        r = loyalty_referrals
        query = select(func.count()).where(
            r.c.referrer_id == referrer_id,
            r.c.status == "qualified",
            r.c.qualified_at >= start,
            r.c.qualified_at < end,
        )
        return int(conn.execute(query).scalar_one())

    def list(
        self, referrer_id: str | None = None, status: str | None = None
    ) -> list[dict[str, Any]]:
        query = select(loyalty_referrals).order_by(loyalty_referrals.c.enrolled_at)
        if referrer_id is not None:
            query = query.where(loyalty_referrals.c.referrer_id == referrer_id)
        if status is not None:
            query = query.where(loyalty_referrals.c.status == status)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def survivor(self, conn: Connection, customer_id: str) -> str:
        """The profile `customer_id` lives on after identity merges (itself if never merged)."""
        seen = {customer_id}
        while True:
            query = select(identity_customers.c.merged_into).where(
                identity_customers.c.customer_id == customer_id
            )
            merged_into = conn.execute(query).scalar()
            if merged_into is None or merged_into in seen:
                return customer_id
            seen.add(merged_into)
            customer_id = merged_into

    def identifiers(
        self, conn: Connection, customer_ids: Sequence[str]
    ) -> dict[str, set[Identifier]]:
        """Each customer's identifiers: those the graph assigns to them, plus identifiers
        (a device, a shared e-mail) that were seen together with one of their user ids even
        though the graph gave them to someone else."""
        wanted = list(dict.fromkeys(customer_ids))
        found: dict[str, set[Identifier]] = {cid: set() for cid in wanted}
        i = identities
        own = conn.execute(
            select(i.c.id, i.c.kind, i.c.value, i.c.customer_id).where(i.c.customer_id.in_(wanted))
        ).all()
        user_nodes: dict[int, str] = {}
        for node_id, kind, value, cid in own:
            found[cid].add((kind, value))
            if kind == "user_id":
                user_nodes[node_id] = cid
        if not user_nodes:
            return found
        ids = list(user_nodes)
        s = identity_sightings
        seen_with = conn.execute(
            select(i.c.kind, i.c.value, i.c.first_user_id, s.c.user_identity_id)
            .select_from(i.outerjoin(s, s.c.identity_id == i.c.id))
            .where(or_(i.c.first_user_id.in_(ids), s.c.user_identity_id.in_(ids)))
        ).all()
        for kind, value, first_user, other_user in seen_with:
            for user in (first_user, other_user):
                if user in user_nodes:
                    found[user_nodes[user]].add((kind, value))
        return found
