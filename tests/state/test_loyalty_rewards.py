"""The rewards catalogue: validity window, withdrawn rewards, reloads, key reuse, non-members;
every refusal leaves points, stock and the journal untouched."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from cvm.core.errors import ConflictError, NotFoundError
from cvm.state.loyalty_ledger import LoyaltyLedger, Posting
from cvm.state.loyalty_rewards import RedemptionRefused, Reward, RewardsCatalogue
from cvm.state.loyalty_tables import loyalty_entries
from cvm.state.store import connect_state, upgrade_state

T0 = datetime(2024, 6, 1)


@pytest.fixture
def catalogue(tmp_path: Path) -> RewardsCatalogue:
    engine = connect_state(f"sqlite:///{tmp_path / 'state.sqlite'}")
    upgrade_state(engine)
    ledger = LoyaltyLedger(engine)
    ledger.enroll("c1", T0)
    ledger.post([Posting("seed", "c1", "earn", 1000, T0)])
    catalogue = RewardsCatalogue(ledger)
    catalogue.load(
        [
            Reward("summer", "Summer gift", 100, valid_from=datetime(2024, 7, 1),
                   valid_to=datetime(2024, 8, 31, 23, 59, 59)),
            Reward("gone", "Withdrawn", 100, active=False),
            Reward("cap", "Cap", 200, stock=10),
        ]
    )  # fmt: skip
    return catalogue


def entries(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(loyalty_entries)).scalar_one())


def refusal(catalogue: RewardsCatalogue, *args: object) -> RedemptionRefused:
    before = entries(catalogue.engine), catalogue.ledger.balance("c1")
    with pytest.raises(RedemptionRefused) as caught:
        catalogue.redeem(*args)  # type: ignore[arg-type]
    assert (entries(catalogue.engine), catalogue.ledger.balance("c1")) == before
    return caught.value


def test_validity_window_is_checked_at_the_redemption_time(catalogue: RewardsCatalogue) -> None:
    early = refusal(catalogue, "c1", "summer", "k1", datetime(2024, 6, 30, 23, 59))
    assert (early.code, early.message) == (
        "not_valid",
        "reward 'summer' is valid from 2024-07-01 00:00",
    )
    late = refusal(catalogue, "c1", "summer", "k1", datetime(2024, 9, 1))
    assert late.code == "not_valid" and "expired on 2024-08-31 23:59" in late.message
    assert catalogue.redeem("c1", "summer", "k1", datetime(2024, 8, 31, 23, 59, 59)).points == 100


def test_withdrawn_rewards_non_members_and_unknown_rewards(catalogue: RewardsCatalogue) -> None:
    assert refusal(catalogue, "c1", "gone", "k1", T0).code == "inactive"
    stranger = refusal(catalogue, "nobody", "cap", "k2", T0)
    assert (stranger.code, stranger.message) == ("not_member", "cannot redeem 'cap': not a member")
    with pytest.raises(NotFoundError, match="no reward with id 'car'"):
        catalogue.redeem("c1", "car", "k3", T0)
    reward = catalogue.reward("cap")
    assert reward is not None and reward["stock"] == 10


def test_a_key_belongs_to_one_redemption(catalogue: RewardsCatalogue) -> None:
    catalogue.redeem("c1", "cap", "k1", T0)
    with pytest.raises(ConflictError, match="already used to redeem another reward"):
        catalogue.redeem("c1", "summer", "k1", datetime(2024, 7, 2))
    with pytest.raises(ConflictError, match="already used by another ledger posting"):
        catalogue.redeem("c1", "cap", "seed", T0)
    assert catalogue.ledger.balance("c1") == 800
    reward = catalogue.reward("cap")
    assert reward is not None and reward["stock"] == 9


def test_reloading_updates_rewards_and_keeps_the_stock_redeemed(
    catalogue: RewardsCatalogue,
) -> None:
    for i in range(3):
        catalogue.redeem("c1", "cap", f"k{i}", T0)
    counts = catalogue.load(
        [Reward("cap", "Cap (new colour)", 150, stock=12), Reward("pin", "Pin", 5)]
    )
    assert counts == {"added": 1, "updated": 1}
    rows = {r["id"]: r for r in catalogue.rewards(T0)}
    assert (rows["cap"]["name"], rows["cap"]["points_cost"]) == ("Cap (new colour)", 150)
    assert (rows["cap"]["stock"], rows["cap"]["redeemed"]) == (9, 3)
    assert rows["pin"]["stock"] is None and rows["pin"]["available"] is True
    assert catalogue.redeem("c1", "cap", "k9", T0).points == 150
