"""Beta-Bernoulli Thompson sampling: conjugate updates, seeded draws, learning in a loop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cvm.core.errors import UserInputError
from cvm.measure.feedback import (
    BetaPrior,
    OfferStats,
    offer_stats_from_results,
    probability_best,
    sample_response_rates,
    update_priors,
)


def test_prior_from_expected_response() -> None:
    prior = BetaPrior.from_expected(0.04, strength=50)
    assert prior.mean == pytest.approx(0.04)
    assert prior.alpha + prior.beta == pytest.approx(50)
    with pytest.raises(UserInputError):
        BetaPrior.from_expected(0.0)


def test_update_is_conjugate_and_matches_scipy_posterior() -> None:
    priors = {"A": BetaPrior.from_expected(0.05, 20), "B": BetaPrior(1.0, 1.0)}
    post = update_priors(priors, [OfferStats("A", 30, 400), OfferStats("B", 2, 10)])
    assert post["A"] == BetaPrior(1.0 + 30, 19.0 + 370)
    assert post["B"] == BetaPrior(3.0, 9.0)
    # draws follow the posterior Beta (Kolmogorov-Smirnov against scipy's cdf)
    draws = sample_response_rates(post, 20_000, seed=1)["A"].to_numpy()
    assert stats.kstest(draws, stats.beta(31.0, 389.0).cdf).pvalue > 0.01
    assert draws.mean() == pytest.approx(stats.beta(31.0, 389.0).mean(), rel=0.01)


def test_updates_accumulate_and_unknown_offers_need_a_prior() -> None:
    priors = {"A": BetaPrior(2.0, 38.0)}
    once = update_priors(update_priors(priors, [OfferStats("A", 5, 50)]), [OfferStats("A", 3, 40)])
    both = update_priors(priors, [OfferStats("A", 8, 90)])
    assert once == both
    with pytest.raises(UserInputError, match="offer 'C' has results but no prior"):
        update_priors(priors, [OfferStats("C", 1, 10)])
    post = update_priors(priors, [OfferStats("C", 1, 10)], default_prior=BetaPrior(1.0, 1.0))
    assert post["C"] == BetaPrior(2.0, 10.0)
    with pytest.raises(UserInputError):
        OfferStats("A", 11, 10)


def test_sampling_is_deterministic_with_a_seed() -> None:
    post = {"A": BetaPrior(3.0, 97.0), "B": BetaPrior(5.0, 95.0)}
    a = sample_response_rates(post, 1000, seed=42, exploration_share=0.3)
    b = sample_response_rates(post, 1000, seed=42, exploration_share=0.3)
    c = sample_response_rates(post, 1000, seed=43, exploration_share=0.3)
    pd.testing.assert_frame_equal(a, b)
    assert not a.equals(c)


def test_exploration_share_bounds_the_randomised_customers() -> None:
    post = {"A": BetaPrior(3.0, 97.0), "B": BetaPrior(5.0, 95.0)}
    scores = sample_response_rates(post, 10_000, seed=0, exploration_share=0.2)
    at_mean = np.isclose(scores["A"], 0.03) & np.isclose(scores["B"], 0.05)
    assert (~at_mean).mean() == pytest.approx(0.2, abs=0.015)
    greedy = sample_response_rates(post, 100, seed=0, exploration_share=0.0)
    assert (greedy["B"] == 0.05).all() and (greedy["A"] == 0.03).all()


def test_offer_stats_from_results() -> None:
    df = pd.DataFrame({"offer": ["x", "x", "y", "y", "y"], "converted": [1, 0, 0, 0, 1]})
    assert offer_stats_from_results(df) == [OfferStats("x", 1, 2), OfferStats("y", 1, 3)]
    with pytest.raises(UserInputError, match="'converted' must be 0/1"):
        offer_stats_from_results(df.assign(converted=[1, 2, 0, 0, 1]))


def test_thompson_loop_learns_the_best_offer() -> None:
    """Ten campaigns of 2,000 customers: Thompson sampling shifts traffic to the best offer."""
    truth = {"A": 0.02, "B": 0.03, "C": 0.05}
    post = {o: BetaPrior.from_expected(0.03, strength=10) for o in truth}
    rng = np.random.default_rng(0)
    shares = []
    for campaign in range(10):
        scores = sample_response_rates(post, 2000, seed=campaign, exploration_share=1.0)
        chosen = scores.idxmax(axis=1)
        shares.append(float((chosen == "C").mean()))
        results = []
        for offer, p in truth.items():
            n = int((chosen == offer).sum())
            results.append(OfferStats(offer, int(rng.binomial(n, p)), n))
        post = update_priors(post, results)
    assert shares[-1] > 0.8 > shares[0]
    assert probability_best(post, seed=1)["C"] > 0.95
