"""Feeding realised campaign results back into offer response priors (Thompson sampling).

Each offer's response rate gets a Beta(a, b) belief. Realised results (s responders out of
n treated customers) update it by conjugacy to Beta(a + s, b + n - s) (Gelman et al. 2013,
Bayesian Data Analysis, sec. 2.4). Thompson (1933) sampling then scores each decision with a
*draw* from that belief rather than its mean: an offer with little evidence sometimes draws
high and gets shown, so the loop keeps learning, while a well-measured offer is scored near
its true rate (Chapelle & Li 2011; Russo et al. 2018, "A Tutorial on Thompson Sampling",
Algorithm 2).

A new offer starts from the expected response the marketer states, worth ``strength``
pseudo-customers: ``a = rate * strength, b = (1 - rate) * strength``.

``exploration_share`` bounds the cost of learning: only that share of customers is scored
with draws; the others get the posterior mean (pure exploitation). 1.0 is plain Thompson
sampling. All randomness comes from an explicit seed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvm.core.errors import UserInputError


@dataclass(frozen=True)
class BetaPrior:
    """Beta(alpha, beta) belief about one offer's response rate."""

    alpha: float
    beta: float

    def __post_init__(self) -> None:
        if not (self.alpha > 0 and self.beta > 0):
            raise UserInputError(
                f"Beta parameters must be positive, got ({self.alpha}, {self.beta})"
            )

    @classmethod
    def from_expected(cls, rate: float, strength: float = 20.0) -> BetaPrior:
        """Prior centred on ``rate`` worth ``strength`` observed customers."""
        if not 0 < rate < 1:
            raise UserInputError(f"expected response rate must be in (0, 1), got {rate}")
        if strength <= 0:
            raise UserInputError(f"prior strength must be positive, got {strength}")
        return cls(alpha=rate * strength, beta=(1.0 - rate) * strength)

    @property
    def mean(self) -> float:
        return self.alpha / (self.alpha + self.beta)


@dataclass(frozen=True)
class OfferStats:
    """Realised result of one offer: responders (successes) out of treated customers."""

    offer: str
    successes: int
    trials: int

    def __post_init__(self) -> None:
        if self.trials < 0 or not 0 <= self.successes <= self.trials:
            raise UserInputError(
                f"offer '{self.offer}': need 0 <= successes <= trials, "
                f"got {self.successes} of {self.trials}"
            )


def offer_stats_from_results(
    df: pd.DataFrame, *, offer: str = "offer", converted: str = "converted"
) -> list[OfferStats]:
    """Successes and trials per offer from per-customer results of the treated groups."""
    for col in (offer, converted):
        if col not in df.columns:
            raise UserInputError(f"column '{col}' is not in the results")
    values = df[converted]
    if values.isna().any() or not values.isin([0, 1, True, False]).all():
        raise UserInputError(f"column '{converted}' must be 0/1 with no missing values")
    grouped = df.groupby(offer, sort=True)[converted].agg(["sum", "size"])
    return [
        OfferStats(offer=str(name), successes=int(row["sum"]), trials=int(row["size"]))
        for name, row in grouped.iterrows()
    ]


def update_priors(
    priors: Mapping[str, BetaPrior],
    results: Iterable[OfferStats],
    *,
    default_prior: BetaPrior | None = None,
) -> dict[str, BetaPrior]:
    """Posterior Beta(a + s, b + n - s) for every offer; offers without results keep their prior.

    Results for an offer with no prior use ``default_prior`` (or raise, naming the offer),
    because a silent flat prior would overstate what a small first campaign showed.
    """
    posteriors = dict(priors)
    for res in results:
        prior = posteriors.get(res.offer, default_prior)
        if prior is None:
            raise UserInputError(
                f"offer '{res.offer}' has results but no prior; pass one or a default_prior"
            )
        posteriors[res.offer] = BetaPrior(
            alpha=prior.alpha + res.successes, beta=prior.beta + res.trials - res.successes
        )
    return posteriors


def sample_response_rates(
    posteriors: Mapping[str, BetaPrior],
    n_customers: int,
    *,
    seed: int,
    exploration_share: float = 1.0,
) -> pd.DataFrame:
    """Response-rate scores, one row per customer and one column per offer.

    A random ``exploration_share`` of the customers (chosen with ``seed``) get independent
    Beta draws; the rest get the posterior means. The same seed gives the same frame.
    """
    if not 0.0 <= exploration_share <= 1.0:
        raise UserInputError(f"exploration share must be in [0, 1], got {exploration_share}")
    if n_customers < 0:
        raise UserInputError(f"number of customers must be non-negative, got {n_customers}")
    offers = sorted(posteriors)
    rng = np.random.default_rng(seed)
    a = np.array([posteriors[o].alpha for o in offers], dtype=np.float64)
    b = np.array([posteriors[o].beta for o in offers], dtype=np.float64)
    scores = np.broadcast_to(a / (a + b), (n_customers, len(offers))).copy()
    explore = rng.random(n_customers) < exploration_share
    scores[explore] = rng.beta(a, b, size=(int(explore.sum()), len(offers)))
    return pd.DataFrame(scores, columns=offers)


def probability_best(
    posteriors: Mapping[str, BetaPrior], *, seed: int, n_draws: int = 10_000
) -> dict[str, float]:
    """Monte Carlo probability that each offer has the highest response rate.

    Under Thompson sampling this is the share of decisions each offer would win, so it is
    the expected traffic split of the next campaign.
    """
    offers = sorted(posteriors)
    if not offers:
        return {}
    rng = np.random.default_rng(seed)
    a = np.array([posteriors[o].alpha for o in offers], dtype=np.float64)
    b = np.array([posteriors[o].beta for o in offers], dtype=np.float64)
    wins = np.bincount(
        rng.beta(a, b, size=(n_draws, len(offers))).argmax(axis=1), minlength=len(offers)
    )
    return {o: float(w) / n_draws for o, w in zip(offers, wins, strict=True)}
