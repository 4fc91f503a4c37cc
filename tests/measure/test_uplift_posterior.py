"""Uplift posteriors per offer and segment: conjugate maths, evidence from per-customer
results (own holdouts and a shared control), and Thompson draws that follow the posterior."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cvm.measure.uplift_posterior import (
    ALL,
    UpliftEvidence,
    evidence_from_frame,
    prior_sd,
    thompson_uplifts,
    uplift_posterior,
)


def test_posterior_is_the_precision_weighted_normal_update() -> None:
    ev = UpliftEvidence("A", ALL, 120, 1000, 80, 1000)
    post = uplift_posterior(ev, prior_uplift=0.01, prior_strength=50)
    t, c = stats.beta(0.5 + 120, 0.5 + 880), stats.beta(0.5 + 80, 0.5 + 920)
    m, v = t.mean() - c.mean(), t.var() + c.var()
    s0 = prior_sd(0.01, 50)
    assert s0 == pytest.approx(math.sqrt(0.01 * 0.99 / 51))
    w = (1 / s0**2) / (1 / s0**2 + 1 / v)
    assert post.mean == pytest.approx(w * 0.01 + (1 - w) * m)
    assert post.sd == pytest.approx(math.sqrt(1 / (1 / s0**2 + 1 / v)))
    assert post.realised == pytest.approx(m)
    # no evidence leaves (almost) the prior; much evidence overrides it
    none = uplift_posterior(UpliftEvidence("A", ALL, 0, 0, 0, 0), 0.03, 20)
    assert none.mean == pytest.approx(0.03, abs=0.005)
    big = uplift_posterior(UpliftEvidence("A", ALL, 6000, 50_000, 4000, 50_000), 0.0, 20)
    assert big.mean == pytest.approx(0.04, abs=0.003)
    # strength maps the posterior back to decide's convention u(1-u)/(k+1) = sd^2
    k = big.strength()
    assert big.mean * (1 - big.mean) / (k + 1) == pytest.approx(big.sd**2, rel=1e-6)


def test_evidence_with_own_holdouts_and_a_shared_control() -> None:
    own = pd.DataFrame(
        {
            "campaign_id": "d1",
            "offer_id": ["A", "A", "A", "B", "B"],
            "is_control": [False, False, True, False, True],
            "segment": ["x", "y", "x", "x", "x"],
            "converted": [1, 0, 0, 1, 1],
        }
    )
    shared = pd.DataFrame(
        {
            "campaign_id": "c2",
            "offer_id": ["A", "B", None, None],
            "is_control": [False, False, True, True],
            "segment": ["x", "x", "x", "y"],
            "converted": [1, 0, 1, 0],
        }
    )
    ev = {(e.offer, e.segment): e for e in evidence_from_frame(pd.concat([own, shared]))}
    a = ev[("A", ALL)]
    # d1: treated 2 (1 success), own control 1 (0); c2: treated 1 (1), shared control 2 (1)
    assert (a.treated_successes, a.treated_trials) == (2, 3)
    assert (a.control_successes, a.control_trials) == (1, 3)
    b = ev[("B", ALL)]
    assert (b.treated_successes, b.treated_trials, b.control_successes, b.control_trials) == (
        1, 2, 2, 3,
    )  # fmt: skip
    ax = ev[("A", "x")]
    assert (ax.treated_trials, ax.control_trials) == (2, 2)  # d1 x: 1 vs 1; c2 x: 1 vs 1


def test_thompson_draws_follow_the_posterior_and_are_seeded() -> None:
    post = uplift_posterior(UpliftEvidence("A", ALL, 100, 1000, 50, 1000), 0.0, 20)
    draws = [thompson_uplifts([post], seed=s)[("A", ALL)] for s in range(2000)]
    assert np.mean(draws) == pytest.approx(post.mean, abs=4 * post.sd / math.sqrt(2000))
    assert np.std(draws) == pytest.approx(post.sd, rel=0.1)
    assert thompson_uplifts([post], seed=5) == thompson_uplifts([post], seed=5)
