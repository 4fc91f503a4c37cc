"""The planted ground truth: the simulated data agree with the models they were drawn from.

Tolerances are four standard errors computed from the data themselves, so a failure means a
real disagreement rather than sampling noise (false alarm rate about 6e-5 per check).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from cvm.demo import Company
from cvm.demo.config import BGNBDParams, GammaGammaParams
from cvm.demo.truth import bgnbd_expected_repeat

Z = 4.0


@pytest.fixture(scope="module")
def truth(large_company: Company) -> pd.DataFrame:
    return large_company.truth["customers"].to_pandas()


@pytest.fixture(scope="module")
def orders(large_company: Company) -> pd.DataFrame:
    tx = large_company.transactions.to_pandas()
    sales = tx[~tx.is_return].assign(amount=lambda d: d.amount.astype(float))
    return sales.groupby(["customer_id", "transaction_id"], as_index=False).agg(
        amount=("amount", "sum"), occurred_at=("occurred_at", "min")
    )


def test_latent_parameters_follow_their_priors(truth: pd.DataFrame) -> None:
    bg, gg = BGNBDParams(), GammaGammaParams()
    lam, p, nu = truth.lambda_weekly, truth.dropout_p, truth.spend_nu
    n = len(truth)
    # Gamma(r, alpha): mean r/alpha, variance r/alpha^2; Beta(a, b): mean a/(a+b).
    assert abs(lam.mean() - bg.r / bg.alpha) < Z * np.sqrt(bg.r) / bg.alpha / np.sqrt(n)
    beta_var = bg.a * bg.b / ((bg.a + bg.b) ** 2 * (bg.a + bg.b + 1))
    assert abs(p.mean() - bg.a / (bg.a + bg.b)) < Z * np.sqrt(beta_var / n)
    assert abs(nu.mean() - gg.q / gg.gamma) < Z * np.sqrt(gg.q) / gg.gamma / np.sqrt(n)


def test_repeat_purchases_match_bgnbd_expectation(truth: pd.DataFrame) -> None:
    """Mean X(T) matches FHL (2005) eq. 9 at each customer's own T, and the individual mean."""
    bg = BGNBDParams()
    x = truth.repeat_purchases.to_numpy()
    weeks = truth.observed_weeks.to_numpy()
    se = x.std() / np.sqrt(len(x))
    population = bgnbd_expected_repeat(weeks, bg.r, bg.alpha, bg.a, bg.b).mean()
    assert abs(x.mean() - population) < Z * se
    lam, p = truth.lambda_weekly.to_numpy(), truth.dropout_p.to_numpy()
    individual = (-np.expm1(-lam * p * weeks) / p).mean()
    assert abs(x.mean() - individual) < Z * se
    # Alive at the end exactly when fewer repeat purchases than the dropout point were made.
    assert (truth.alive_at_end == (truth.repeat_purchases < truth.dropout_after)).all()


def test_observed_repeat_orders_match_the_truth(truth: pd.DataFrame, orders: pd.DataFrame) -> None:
    counted = orders.groupby("customer_id").size() - 1
    planted = truth.set_index("customer_id").repeat_purchases
    extra = (counted.reindex(planted.index) - planted).to_numpy()
    # Only the campaign's incremental orders come on top of the BG/NBD process.
    assert extra.min() == 0 and extra.max() <= 1


def test_mean_order_value_matches_gamma_gamma(truth: pd.DataFrame, orders: pd.DataFrame) -> None:
    """E[mean order value] = p * gamma / (q - 1) (Fader, Hardie & Lee 2005b)."""
    gg = GammaGammaParams()
    per_customer = orders.groupby("customer_id").amount.mean()
    se = per_customer.std() / np.sqrt(len(per_customer))
    assert abs(per_customer.mean() - gg.p * gg.gamma / (gg.q - 1)) < Z * se
    # And each customer's own average tracks their latent mean p / nu.
    latent = truth.set_index("customer_id").mean_order_value.reindex(per_customer.index)
    assert spearmanr(per_customer, latent).statistic > 0.6


def test_future_value_truth_is_consistent(truth: pd.DataFrame) -> None:
    expected = truth.expected_purchases_future
    assert (expected[~truth.alive_at_end] == 0).all()
    np.testing.assert_allclose(truth.expected_spend_future, expected * truth.mean_order_value)
    sim = truth.simulated_purchases_future
    assert abs(sim.mean() - expected.mean()) < Z * sim.std() / np.sqrt(len(sim))
    assert spearmanr(truth.expected_spend_future, truth.simulated_spend_future).statistic > 0.5


def test_campaign_lift_matches_the_planted_uplift(large_company: Company) -> None:
    camp = large_company.truth["campaign"].to_pandas()
    arm = camp.groupby("arm")
    n_t, n_c = arm.size()["treatment"], arm.size()["control"]
    assert 0.45 < n_t / (n_t + n_c) < 0.55
    rate = arm.purchased_in_window.mean()
    measured = rate["treatment"] - rate["control"]
    planted = camp.true_uplift.mean()
    se = np.sqrt(
        rate["treatment"] * (1 - rate["treatment"]) / n_t
        + rate["control"] * (1 - rate["control"]) / n_c
    )
    assert planted > 3 * se  # the planted effect is detectable at this size
    assert abs(measured - planted) < Z * se
    # Per arm, the purchase rate equals the mean of the true potential-outcome probabilities.
    t, c = camp[camp.arm == "treatment"], camp[camp.arm == "control"]
    p1 = t.baseline_probability + t.true_uplift
    assert abs(t.purchased_in_window.mean() - p1.mean()) < Z * np.sqrt((p1 * (1 - p1)).sum()) / len(
        t
    )
    p0 = c.baseline_probability
    assert abs(c.purchased_in_window.mean() - p0.mean()) < Z * np.sqrt((p0 * (1 - p0)).sum()) / len(
        c
    )
    assert not c.incremental.any() and t.incremental.any()


def test_uplift_is_heterogeneous_and_recoverable(large_company: Company) -> None:
    camp = large_company.truth["campaign"].to_pandas()
    high = camp.true_uplift >= camp.true_uplift.median()
    lifts = []
    for part in (camp[high], camp[~high]):
        rate = part.groupby("arm").purchased_in_window.mean()
        lifts.append(rate["treatment"] - rate["control"])
    assert lifts[0] > lifts[1]
    # Largest for lapsing customers: uplift peaks at a recency of months, not days.
    by_recency = camp.groupby(pd.cut(camp.recency_days, [0, 14, 60, 240, 2000])).true_uplift.mean()
    assert by_recency.iloc[2] > by_recency.iloc[0]


def test_campaign_respects_consent_and_sends_only_to_treatment(large_company: Company) -> None:
    camp = large_company.truth["campaign"].to_pandas()
    consents = large_company.consents.to_pandas()
    email = consents[consents.channel == "email"].merge(
        camp[["customer_id", "assigned_at"]], on="customer_id"
    )
    before = email[email.occurred_at <= email.assigned_at].sort_values("occurred_at")
    status_at_send = before.groupby("customer_id").status.last()
    assert (status_at_send.reindex(camp.customer_id) == "granted").all()
    events = large_company.events.to_pandas()
    delivered = set(events[events.name == "email_delivered"].customer_id)
    assert delivered == set(camp[camp.arm == "treatment"].customer_id)


def test_baskets_carry_complements_and_repeat_favourites(large_company: Company) -> None:
    tx = large_company.transactions.to_pandas()
    sales = tx[~tx.is_return]
    # One row per basket, one boolean column per category it contains.
    basket = sales.transaction_id.astype("category").cat.codes.to_numpy()
    category = sales.category.astype("category")
    matrix = np.zeros((basket.max() + 1, len(category.cat.categories)), dtype=bool)
    matrix[basket, category.cat.codes.to_numpy()] = True
    has = pd.DataFrame(matrix, columns=category.cat.categories)
    assert has.sports[has.shoes].mean() > 1.5 * has.sports.mean()
    assert has.toys[has.kids_clothing].mean() > 1.5 * has.toys.mean()
    products = large_company.products.to_pandas().set_index("product_id")
    sales = sales.assign(repeatable=products.repeatable.reindex(sales.product_id).to_numpy())
    pairs = sales.groupby(["repeatable", "customer_id", "product_id"]).size()
    rebought = (pairs > 1).groupby(level="repeatable").mean()
    assert rebought[True] > 2 * rebought[False]
