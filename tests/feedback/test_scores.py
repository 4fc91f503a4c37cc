"""NPS and CSAT maths: hand-computed values, range checks, and interval coverage by simulation
from known shares."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cvm.feedback.scores import (
    csat_of_scores,
    estimate_csat,
    estimate_nps,
    nps_of_scores,
    nps_variance,
    score_problem,
)


def test_nps_by_hand() -> None:
    # 5 promoters, 3 passives, 2 detractors: NPS = 100 * (0.5 - 0.2) = 30.
    est = nps_of_scores([10, 9, 9, 10, 9, 8, 7, 7, 3, 6])
    assert (est.n, est.promoters, est.passives, est.detractors) == (10, 5, 3, 2)
    assert est.nps == pytest.approx(30.0)
    assert est.mean_score == pytest.approx(7.8)
    assert est.low < 30.0 < est.high


def test_variance_matches_the_multinomial_formula() -> None:
    # Var(p_P - p_D) = [p_P + p_D - (p_P - p_D)^2] / n, the same as equation (1).
    p, d, n = 0.45, 0.2, 400
    assert nps_variance(p, d, n) == pytest.approx((p + d - (p - d) ** 2) / n)
    # Check against the empirical variance of simulated multinomial samples.
    rng = np.random.default_rng(1)
    draws = rng.multinomial(n, [p, 1 - p - d, d], size=200_000)
    diffs = (draws[:, 0] - draws[:, 2]) / n
    assert diffs.var() == pytest.approx(nps_variance(p, d, n), rel=0.02)


def test_all_promoters_still_gives_an_interval() -> None:
    est = estimate_nps(12, 0, 0)
    assert est.nps == 100.0 and est.high == 100.0 and est.low < 90.0


def test_csat_by_hand_and_wilson() -> None:
    est = csat_of_scores([5, 4, 4, 3, 1])
    assert (est.n, est.satisfied) == (5, 3)
    assert est.csat == pytest.approx(60.0)
    # Wilson 95% interval for 3/5: (0.2307, 0.8824) (Newcombe 1998, Table I method 3 style).
    assert est.low == pytest.approx(23.07, abs=0.05)
    assert est.high == pytest.approx(88.24, abs=0.05)
    with pytest.raises(ValueError, match="between 0 and n"):
        estimate_csat(6, 5)


def test_empty_is_nan_not_an_error() -> None:
    assert math.isnan(nps_of_scores([]).nps)
    assert math.isnan(csat_of_scores([]).csat)


@pytest.mark.parametrize(
    ("survey", "score", "problem"),
    [
        ("nps", 11, "outside 0-10 for nps"),
        ("csat", 0, "outside 1-5 for csat"),
        ("csat", 6, "outside 1-5 for csat"),
        ("nps", 7.5, "whole number"),
        ("nps", True, "whole number"),
        ("ces", 3, "survey must be one of"),
        ("nps", 0, None),
        ("csat", 5, None),
    ],
)
def test_score_problem(survey: str, score: object, problem: str | None) -> None:
    found = score_problem(survey, score)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


@pytest.mark.parametrize(
    ("shares", "n"),
    [((0.5, 0.3, 0.2), 200), ((0.3, 0.4, 0.3), 50), ((0.8, 0.15, 0.05), 30)],
)
def test_nps_interval_covers_the_true_value(shares: tuple[float, float, float], n: int) -> None:
    """95% intervals from 4,000 simulated surveys cover the true NPS 93.5-97% of the time."""
    rng = np.random.default_rng(7)
    truth = 100.0 * (shares[0] - shares[2])
    counts = rng.multinomial(n, shares, size=4_000)
    covered = 0
    for p, m, d in counts:
        est = estimate_nps(int(p), int(m), int(d))
        covered += est.low <= truth <= est.high
    assert 0.935 <= covered / len(counts) <= 0.97


def test_csat_interval_covers_the_true_value() -> None:
    rng = np.random.default_rng(3)
    n, share = 40, 0.85
    satisfied = rng.binomial(n, share, size=4_000)
    covered = sum(
        estimate_csat(int(s), n).low <= 100 * share <= estimate_csat(int(s), n).high
        for s in satisfied
    )
    assert 0.93 <= covered / 4_000 <= 0.975
