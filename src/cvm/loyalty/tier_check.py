"""The tier requirement of a reward, checked against the member's current tier.

Tiers are computed by the loyalty stage (`cvm.loyalty.tiers`) into the warehouse table
`loyalty_tiers` (the open span, ``valid_to IS NULL``, is the current tier) and surface as the
profile field `loyalty_tier`. A tier at or above the required one (in the order of
``tiers.levels`` in `loyalty.yaml`) qualifies; no tier information qualifies nobody.
"""

from __future__ import annotations

from cvm.engine.base import Engine
from cvm.engine.sql import bind
from cvm.loyalty.programme import Programme
from cvm.state.loyalty_rewards import TierCheck

_CURRENT_TIER = """
SELECT tier FROM loyalty_tiers WHERE customer_id = :customer_id AND valid_to IS NULL
ORDER BY valid_from DESC LIMIT 1
"""


def tier_ranks(programme: Programme | None) -> dict[str, int]:
    """Tier name → rank (0 = entry tier); empty when the programme has no tiers."""
    if programme is None or programme.tiers is None:
        return {}
    return {level.name: rank for rank, level in enumerate(programme.tiers.levels)}


def meets_tier(current: str | None, required: str, ranks: dict[str, int]) -> bool:
    if current is None or current not in ranks or required not in ranks:
        return False
    return ranks[current] >= ranks[required]


def warehouse_tier_check(engine: Engine, programme: Programme | None) -> TierCheck:
    """A `TierCheck` reading each member's current tier from the warehouse."""
    ranks = tier_ranks(programme)

    def check(customer_id: str, required: str) -> bool:
        if not ranks or not engine.table_exists("loyalty_tiers"):
            return False
        current = engine.fetch_scalar(bind(_CURRENT_TIER, customer_id=customer_id))
        return meets_tier(None if current is None else str(current), required, ranks)

    return check
