"""The rewards catalogue and redemptions: stock, validity, tier requirement, one transaction.

A redemption is, in ONE transaction: lock the member's account, check the reward (exists,
active, valid at that moment, tier), post the ``redeem`` entry through the ledger (balance
check under the account lock), decrement the stock with a guarded ``UPDATE … SET stock =
stock - 1 WHERE stock > 0`` (PostgreSQL re-checks the condition after waiting on a concurrent
redemption's row lock, so the last unit is sold once), and record the redemption under its
idempotency key. Any refusal raises `RedemptionRefused` and rolls everything back.

A catalogue file states each reward's *total* stock; loading it sets the remaining stock to
that total minus the redemptions already made, so reloading the same file never restocks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update

from cvm.core.errors import ConflictError, NotFoundError
from cvm.core.timewindows import utc_now as _now
from cvm.state.loyalty_ledger import LoyaltyLedger, Posting
from cvm.state.loyalty_tables import loyalty_redemptions, loyalty_rewards
from cvm.state.upsert import upsert

# (customer_id, required tier) -> does the member's current tier meet it?
TierCheck = Callable[[str, str], bool]


@dataclass(frozen=True)
class Reward:
    id: str
    name: str
    points_cost: int
    stock: int | None = None  # total units; None = unlimited
    valid_from: datetime | None = None
    valid_to: datetime | None = None  # inclusive
    tier: str | None = None
    active: bool = True


@dataclass(frozen=True)
class Redemption:
    key: str
    reward_id: str
    customer_id: str
    points: int
    at: datetime
    duplicate: bool = False  # True when the key had already redeemed (a retry)


class RedemptionRefused(ConflictError):
    """A redemption that cannot happen; `code` says why, for the API and the CLI."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        # Picked up by the API's error handler as the body's `errors`.
        self.details = [{"field": "reward_id", "reason": code}]


class RewardsCatalogue:
    """Repository over `loyalty_rewards` and `loyalty_redemptions`."""

    def __init__(self, ledger: LoyaltyLedger) -> None:
        self.ledger = ledger
        self.engine: Engine = ledger.engine

    def load(self, rewards: Sequence[Reward]) -> dict[str, int]:
        """Insert or update rewards (by id); remaining stock = total - redeemed so far."""
        with self.engine.begin() as conn:
            known = {r[0] for r in conn.execute(select(loyalty_rewards.c.id))}
            used = self._redeemed_counts(conn)
            now = _now()
            rows = [
                {
                    **asdict(r),
                    "stock": None if r.stock is None else max(r.stock - used.get(r.id, 0), 0),
                    "updated_at": now,
                }
                for r in rewards
            ]
            columns = [c for c in rows[0] if c != "id"] if rows else []
            upsert(conn, loyalty_rewards, rows, ["id"], columns)
        new = sum(1 for r in rewards if r.id not in known)
        return {"added": new, "updated": len(rewards) - new}

    @staticmethod
    def _redeemed_counts(conn: Connection) -> dict[str, int]:
        r = loyalty_redemptions
        query = select(r.c.reward_id, func.count()).group_by(r.c.reward_id)
        return {k: int(n) for k, n in conn.execute(query)}

    def rewards(self, at: datetime | None = None) -> list[dict[str, Any]]:
        """Every reward with its remaining stock, redemptions and whether it is open at `at`."""
        at = at or _now()
        with self.engine.connect() as conn:
            used = self._redeemed_counts(conn)
            rows = [
                dict(r._mapping)
                for r in conn.execute(select(loyalty_rewards).order_by(loyalty_rewards.c.id))
            ]
        for row in rows:
            row["redeemed"] = used.get(row["id"], 0)
            row["available"] = _refusal(row, at) is None
        return rows

    def reward(self, reward_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(loyalty_rewards).where(loyalty_rewards.c.id == reward_id)
            ).first()
        return dict(row._mapping) if row else None

    def redeem(
        self,
        customer_id: str,
        reward_id: str,
        key: str,
        at: datetime | None = None,
        tier_check: TierCheck | None = None,
    ) -> Redemption:
        """Redeem one unit of `reward_id` for `customer_id`; a retry with `key` redeems once.

        Raises `NotFoundError` for an unknown reward and `RedemptionRefused` for a member who
        may not have it now (not a member, inactive, not valid at `at`, tier too low, out of
        stock, not enough points); nothing is posted then.
        """
        at = at or _now()
        with self.ledger.transaction() as conn:
            self.ledger.lock_accounts(conn, [customer_id])
            done = self._redemption(conn, key)
            if done is not None:
                return _same_request(done, customer_id, reward_id)
            row = conn.execute(
                select(loyalty_rewards).where(loyalty_rewards.c.id == reward_id)
            ).first()
            if row is None:
                raise NotFoundError(f"no reward with id {reward_id!r}")
            reward = dict(row._mapping)
            refusal = _refusal(reward, at)
            if refusal is not None:
                raise RedemptionRefused(*refusal)
            if reward["tier"]:
                if tier_check is None or not tier_check(customer_id, reward["tier"]):
                    raise RedemptionRefused(
                        "tier", f"reward {reward_id!r} needs tier {reward['tier']!r} or above"
                    )
            cost = int(reward["points_cost"])
            posting = Posting(
                key, customer_id, "redeem", -cost, at, f"reward:{reward_id}", reward_id
            )
            report = self.ledger.post_in(conn, [posting])
            if report.duplicates:
                raise ConflictError(f"key {key!r} was already used by another ledger posting")
            if report.rejected:
                reason = report.rejected[0][1]
                code = "not_member" if reason == "not a member" else "insufficient_points"
                raise RedemptionRefused(code, f"cannot redeem {reward_id!r}: {reason}")
            if reward["stock"] is not None:
                taken = conn.execute(
                    update(loyalty_rewards)
                    .where(loyalty_rewards.c.id == reward_id, loyalty_rewards.c.stock > 0)
                    .values(stock=loyalty_rewards.c.stock - 1)
                )
                if taken.rowcount != 1:
                    # Raising rolls back the posting made above in this transaction.
                    raise RedemptionRefused("out_of_stock", f"reward {reward_id!r} is out of stock")
            done = Redemption(key, reward_id, customer_id, cost, at)
            values = asdict(done)
            del values["duplicate"]
            conn.execute(loyalty_redemptions.insert().values(**values))
        return done

    @staticmethod
    def _redemption(conn: Connection, key: str) -> Redemption | None:
        row = conn.execute(
            select(loyalty_redemptions).where(loyalty_redemptions.c.key == key)
        ).first()
        return Redemption(**dict(row._mapping), duplicate=True) if row else None

    def redemptions(self, customer_id: str | None = None) -> list[dict[str, Any]]:
        query = select(loyalty_redemptions).order_by(loyalty_redemptions.c.at)
        if customer_id is not None:
            query = query.where(loyalty_redemptions.c.customer_id == customer_id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]


def _same_request(done: Redemption, customer_id: str, reward_id: str) -> Redemption:
    if (done.customer_id, done.reward_id) != (customer_id, reward_id):
        raise ConflictError(
            f"key {done.key!r} was already used to redeem another reward or for another customer"
        )
    return done


def _refusal(reward: dict[str, Any], at: datetime) -> tuple[str, str] | None:
    """(code, message) when `reward` cannot be redeemed at `at` regardless of the member."""
    name = reward["id"]
    if not reward["active"]:
        return "inactive", f"reward {name!r} is withdrawn"
    if reward["valid_from"] is not None and at < reward["valid_from"]:
        return "not_valid", f"reward {name!r} is valid from {reward['valid_from']:%Y-%m-%d %H:%M}"
    if reward["valid_to"] is not None and at > reward["valid_to"]:
        return "not_valid", f"reward {name!r} expired on {reward['valid_to']:%Y-%m-%d %H:%M}"
    if reward["stock"] is not None and reward["stock"] <= 0:
        return "out_of_stock", f"reward {name!r} is out of stock"
    return None
