"""Settings of the synthetic demo company: every number the generator draws from lives here.

The defaults describe a mid-sized multi-channel retailer. All rates are per **week** where the
model is a purchase model (BG/NBD, Fader, Hardie & Lee 2005) so the planted parameters read
exactly like the estimates a CLV model reports; everything else is per day or per year as named.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any

from cvm.core.errors import UserInputError

MAX_CUSTOMERS = 10_000_000


@dataclass(frozen=True)
class BGNBDParams:
    """Population parameters of the BG/NBD purchase process (Fader, Hardie & Lee 2005, sec. 3).

    Per customer: transaction rate ``lambda ~ Gamma(shape=r, rate=alpha)`` (per week) and dropout
    probability ``p ~ Beta(a, b)``; after every repeat purchase the customer becomes inactive
    with probability ``p``. The defaults sit near the CDNOW estimates (r=0.243, alpha=4.414,
    a=0.793, b=2.426) with a somewhat busier shopper (mean rate r/alpha = 0.067 a week).
    """

    r: float = 0.40
    alpha: float = 6.0
    a: float = 0.80
    b: float = 2.50


@dataclass(frozen=True)
class GammaGammaParams:
    """Spend model (Fader, Hardie & Lee 2005b, "RFM and CLV", sec. 4; Colombo & Jiang 1999).

    Per customer ``nu ~ Gamma(shape=q, rate=gamma)``; each order value ``z ~ Gamma(shape=p,
    rate=nu)``, so the customer's mean order value is ``p / nu`` and the population mean is
    ``p * gamma / (q - 1)`` (needs q > 1): 6 * 30 / 3 = 60 with the defaults.
    """

    p: float = 6.0
    q: float = 4.0
    gamma: float = 30.0

    @property
    def population_mean_spend(self) -> float:
        return self.p * self.gamma / (self.q - 1.0)


@dataclass(frozen=True)
class CampaignParams:
    """One past randomised win-back e-mail campaign with a planted, heterogeneous uplift.

    Audience: customers acquired at least ``min_tenure_days`` before the send who held an
    e-mail marketing consent at the send, drawn with probability ``audience_share``; each is
    in the treatment arm with probability ``treatment_share`` (a seeded uniform draw, see
    `cvm.demo.campaign`). The true uplift on P(any purchase in the ``window_days`` after the
    send) is ``floor + peak * lapsing(recency) * mid_value(past spend)``.
    """

    campaign_id: str = "CMP-WINBACK-01"
    days_before_end: int = 90
    window_days: int = 30
    min_tenure_days: int = 60
    audience_share: float = 0.5
    treatment_share: float = 0.5
    uplift_floor: float = 0.01
    uplift_peak: float = 0.14
    # Lapsing: a log-normal bump in days since the last order, peaking at `lapse_peak_days`.
    lapse_peak_days: float = 120.0
    lapse_log_sd: float = 0.6
    # Mid value: a log-normal bump in spend before the send, peaking at `value_peak`.
    value_peak: float = 250.0
    value_log_sd: float = 0.8
    open_rate: float = 0.35
    click_rate: float = 0.25
    unsubscribe_rate: float = 0.01


@dataclass(frozen=True)
class DemoConfig:
    """Everything `generate_company` needs besides size, seed and dates."""

    bgnbd: BGNBDParams = field(default_factory=BGNBDParams)
    spend: GammaGammaParams = field(default_factory=GammaGammaParams)
    campaign: CampaignParams = field(default_factory=CampaignParams)
    currency: str = "USD"
    # Acquisition grows over the period: the last day acquires `acquisition_growth` times as
    # many customers as the first (a young, growing business), plus a Nov/Dec peak.
    acquisition_growth: float = 2.0
    holiday_boost: float = 0.6
    # Catalogue size: max(min_products, n_customers / customers_per_product), capped.
    min_products: int = 200
    customers_per_product: int = 200
    max_products: int = 5000
    # Basket: extra lines ~ Poisson(max(z - line_base, 0) / line_value), capped.
    line_base: float = 25.0
    line_value: float = 35.0
    max_lines: int = 8
    complement_share: float = 0.35
    favourite_share: float = 0.25
    return_rate_apparel: float = 0.06
    return_rate_other: float = 0.015
    # Engagement: browsing sessions per expected purchase and newsletter opens per month.
    browse_sessions_per_order: float = 0.4
    newsletter_opens_per_month: float = 0.12
    chunk_size: int = 50_000
    future_weeks: float = 52.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def validate_request(n_customers: int, start: date, end: date, config: DemoConfig) -> None:
    """Refuse requests the generator cannot honour, naming the offending argument."""
    if n_customers < 1:
        raise UserInputError(f"customers must be at least 1, got {n_customers}")
    # Ids, e-mails and phone numbers are unique by construction up to this size.
    if n_customers > MAX_CUSTOMERS:
        raise UserInputError(f"customers must be at most {MAX_CUSTOMERS:,}, got {n_customers:,}")
    span = (end - start).days
    camp = config.campaign
    if span < camp.days_before_end + camp.min_tenure_days + 30:
        raise UserInputError(
            f"the period {start} .. {end} is too short: it needs at least "
            f"{camp.days_before_end + camp.min_tenure_days + 30} days for the campaign"
        )
    if camp.window_days > camp.days_before_end:
        raise UserInputError("campaign window must end before the observation end")
    if config.spend.q <= 1:
        raise UserInputError("Gamma-Gamma q must exceed 1 for a finite mean spend")
    for name in ("audience_share", "treatment_share"):
        value = getattr(camp, name)
        if not 0 < value < 1:
            raise UserInputError(f"campaign {name} must be in (0, 1), got {value}")
    if config.chunk_size < 1:
        raise UserInputError(f"chunk_size must be positive, got {config.chunk_size}")
