"""NPS and CSAT from counts, with confidence intervals (pure maths: numpy and scipy only).

**Net Promoter Score** (Reichheld 2003, "The One Number You Need to Grow", HBR 81(12)): on the
0-10 "how likely are you to recommend us" question, promoters answer 9-10, passives 7-8 and
detractors 0-6, and ::

    NPS = 100 * (p_P - p_D),    p_P = promoters / n,  p_D = detractors / n

The three groups are one multinomial sample, so the two shares are negatively correlated,
Cov(p̂_P, p̂_D) = -p_P p_D / n (Agresti, *Categorical Data Analysis*, 3rd ed., 2013, sec. 1.2.2
and 16.1.4), and the variance of the difference is ::

    Var(p̂_P - p̂_D) = [p_P (1 - p_P) + p_D (1 - p_D) + 2 p_P p_D] / n          (1)
                    = [p_P + p_D - (p_P - p_D)^2] / n

The interval is Rocks' adjusted Wald interval (Rocks 2016, "Interval estimation for the 'net
promoter score'", *The American Statistician* 70(4), 365-372, sec. 3): add 3/4 of a promoter
and 3/4 of a detractor to the counts and 3 to n (p̃_P = (P + 3/4)/(n + 3), likewise p̃_D),
then take (p̃_P - p̃_D) ± z sqrt(Var) with Var from (1) at p̃ and n + 3, clipped to [-1, 1].
Unlike the plain Wald interval it does not collapse to a point when every answer falls in
one group, and its coverage stays near nominal for small n (`tests/feedback/test_scores.py`
checks the coverage by simulation from known shares). The point estimate stays the raw NPS.

**CSAT** on the 1-5 satisfaction question is the share of 4-5 answers, with the Wilson (1927)
score interval (Newcombe 1998, method 3; `cvm.measure.significance.wilson_interval`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from scipy import stats

from cvm.measure.significance import wilson_interval

Survey = Literal["nps", "csat"]
SURVEYS: tuple[Survey, ...] = ("nps", "csat")
# The valid score range of each question (the contract's single 0-10 range cannot say this).
SCORE_RANGES: dict[str, tuple[int, int]] = {"nps": (0, 10), "csat": (1, 5)}
PROMOTER_MIN = 9
DETRACTOR_MAX = 6
SATISFIED_MIN = 4


def score_problem(survey: str, score: object) -> str | None:
    """Why a (survey, score) pair is invalid, or None when it is valid."""
    if survey not in SCORE_RANGES:
        return f"survey must be one of {', '.join(SURVEYS)}, got {survey!r}"
    if isinstance(score, bool) or not isinstance(score, int | float):
        return "score must be a whole number"
    if isinstance(score, float) and not score.is_integer():
        return "score must be a whole number"
    low, high = SCORE_RANGES[survey]
    if not low <= score <= high:
        return f"score {score:g} is outside {low}-{high} for {survey}"
    return None


def _z(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    return float(stats.norm.isf(alpha / 2.0))


@dataclass(frozen=True)
class NpsEstimate:
    """NPS on the -100..100 scale with its interval; shares are fractions of `n`."""

    n: int
    promoters: int
    passives: int
    detractors: int
    nps: float
    low: float
    high: float
    mean_score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CsatEstimate:
    """CSAT as the percentage of satisfied (4-5) answers, with its Wilson interval."""

    n: int
    satisfied: int
    csat: float
    low: float
    high: float
    mean_score: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def nps_variance(p_promoters: float, p_detractors: float, n: int) -> float:
    """Equation (1): variance of p̂_P - p̂_D for a multinomial sample of size n."""
    if n <= 0:
        return math.nan
    p, d = p_promoters, p_detractors
    return (p * (1.0 - p) + d * (1.0 - d) + 2.0 * p * d) / n


def estimate_nps(
    promoters: int,
    passives: int,
    detractors: int,
    alpha: float = 0.05,
    mean_score: float | None = None,
) -> NpsEstimate:
    """NPS and its adjusted Wald interval (Rocks 2016) from the three counts, equation (1)."""
    n = promoters + passives + detractors
    if min(promoters, passives, detractors) < 0:
        raise ValueError("counts cannot be negative")
    if n == 0:
        return NpsEstimate(0, 0, 0, 0, math.nan, math.nan, math.nan, mean_score)
    nps = 100.0 * (promoters - detractors) / n
    p, d = (promoters + 0.75) / (n + 3), (detractors + 0.75) / (n + 3)
    half = _z(alpha) * math.sqrt(nps_variance(p, d, n + 3))
    low = max(-100.0, 100.0 * (p - d - half))
    high = min(100.0, 100.0 * (p - d + half))
    return NpsEstimate(n, promoters, passives, detractors, nps, low, high, mean_score)


def estimate_csat(
    satisfied: int, n: int, alpha: float = 0.05, mean_score: float | None = None
) -> CsatEstimate:
    """CSAT (percent satisfied) and its Wilson interval."""
    if not 0 <= satisfied <= n:
        raise ValueError(f"satisfied ({satisfied}) must be between 0 and n ({n})")
    if n == 0:
        return CsatEstimate(0, 0, math.nan, math.nan, math.nan, mean_score)
    low, high = wilson_interval(satisfied, n, alpha)
    return CsatEstimate(
        n, satisfied, 100.0 * satisfied / n, 100.0 * float(low), 100.0 * float(high), mean_score
    )


def nps_of_scores(scores: Iterable[int], alpha: float = 0.05) -> NpsEstimate:
    """NPS of raw 0-10 answers."""
    values = np.asarray(list(scores), dtype=np.int64)
    promoters = int((values >= PROMOTER_MIN).sum())
    detractors = int((values <= DETRACTOR_MAX).sum())
    mean = float(values.mean()) if values.size else None
    return estimate_nps(promoters, values.size - promoters - detractors, detractors, alpha, mean)


def csat_of_scores(scores: Iterable[int], alpha: float = 0.05) -> CsatEstimate:
    """CSAT of raw 1-5 answers."""
    values = np.asarray(list(scores), dtype=np.int64)
    mean = float(values.mean()) if values.size else None
    return estimate_csat(int((values >= SATISFIED_MIN).sum()), int(values.size), alpha, mean)
