"""sBG against Fader & Hardie (2007) "How to project customer retention"."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cvm.value.clv import ShiftedBetaGeoModel

PUBLISHED = {"regular": (0.704, 1.182), "highend": (0.668, 3.806)}  # FH 2007, section 4
# Survivors per 1,000 in years 0-7 (FH 2007, table 1).
SURVIVORS = {
    "regular": [1000, 631, 468, 382, 326, 289, 262, 241],
    "highend": [1000, 869, 743, 653, 593, 551, 517, 491],
}


@pytest.mark.parametrize("cohort", ["regular", "highend"])
def test_reproduces_published_estimates(retention: pd.DataFrame, cohort: str) -> None:
    rows = retention[retention["cohort"] == cohort]
    assert len(rows) == 1000 and set(rows["T"]) == {8}
    model = ShiftedBetaGeoModel().fit(rows)
    alpha, beta = PUBLISHED[cohort]
    assert model.params_["alpha"] == pytest.approx(alpha, abs=6e-4)
    assert model.params_["beta"] == pytest.approx(beta, abs=6e-4)
    assert model.convergence_.success
    # The data re-expresses the published survivor counts exactly.
    counts = [int((rows["recency"] > t).sum()) for t in range(8)]
    assert counts == SURVIVORS[cohort]
    # The fitted survival curve follows the observed one within a couple of points.
    np.testing.assert_allclose(model.survival(np.arange(8)), np.array(counts) / 1000, atol=0.02)


@pytest.fixture(scope="module")
def regular(retention: pd.DataFrame) -> ShiftedBetaGeoModel:
    return ShiftedBetaGeoModel().fit(retention[retention["cohort"] == "regular"])


def test_retention_rate_rises_and_matches_survival(regular: ShiftedBetaGeoModel) -> None:
    t = np.arange(1, 13)
    rates = regular.retention_rate(t)
    assert np.all(np.diff(rates) > 0)
    np.testing.assert_allclose(rates, regular.survival(t) / regular.survival(t - 1), rtol=1e-12)
    np.testing.assert_allclose(
        regular.probability_of_churn(t), regular.survival(t - 1) - regular.survival(t), rtol=1e-10
    )


def test_customer_level_predictions(regular: ShiftedBetaGeoModel) -> None:
    customers = pd.DataFrame({"recency": [8, 3], "T": [8, 8]})
    alive = regular.probability_alive(customers).to_numpy()
    assert alive[0] == pytest.approx(regular.retention_rate(8)) and alive[1] == 0
    renewals = regular.expected_purchases(customers, 5).to_numpy()
    expected = sum(regular.survival(7 + k) / regular.survival(7) for k in range(1, 6))
    assert renewals[0] == pytest.approx(expected) and renewals[1] == 0
    # DERL (FH 2010): closed form equals the discounted sum of survival ratios.
    derl = regular.discounted_expected_residual_lifetime(customers, 0.1).to_numpy()
    k = np.arange(1, 3000)
    direct = np.sum(regular.survival(7 + k) / regular.survival(7) / 1.1 ** (k - 1))
    assert derl[0] == pytest.approx(direct, rel=1e-9) and derl[1] == 0
    assert regular.expected_purchases_new_customer(3) == pytest.approx(
        regular.survival(np.arange(1, 4)).sum()
    )


def test_rejects_impossible_rows() -> None:
    from cvm.core.errors import UserInputError

    with pytest.raises(UserInputError, match="'recency'"):
        ShiftedBetaGeoModel().fit(pd.DataFrame({"recency": [0, 2], "T": [3, 3]}))
    with pytest.raises(UserInputError, match="'recency'"):
        ShiftedBetaGeoModel().fit(pd.DataFrame({"recency": [4, 2], "T": [3, 3]}))
    with pytest.raises(UserInputError, match="'T'"):
        ShiftedBetaGeoModel().fit(pd.DataFrame({"recency": [1, 2], "T": [3.5, 3]}))
