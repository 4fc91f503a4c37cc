"""What realised campaign results say about each offer's uplift, per segment: the posterior
that the next decision run starts from.

Decisioning scores an offer by its *uplift* (treated minus control response), not by its
response rate, so the evidence of a campaign is the pair (treated responders s_t of n_t,
control responders s_c of n_c). Each rate gets a Jeffreys Beta(½ + s, ½ + n − s) posterior
(Gelman et al. 2013, BDA3 sec. 2.4 and 2.8); their difference has mean
``m = E[p_t] − E[p_c]`` and variance ``Var[p_t] + Var[p_c]``, which for campaign sizes is
close to normal. The offer's declared prior uplift ``u0`` with strength ``k`` (the
`cvm.decide.offers.UpliftSource` convention: worth ``k`` customers) is the normal prior
N(u0, u0(1 − u0)/(k + 1)); the posterior is the precision-weighted combination

    mean = (u0/σ0² + m/σd²) / (1/σ0² + 1/σd²),    var = 1 / (1/σ0² + 1/σd²)

(the normal–normal conjugate update, BDA3 eq. 2.12). Thompson (1933) sampling draws an uplift
from N(mean, var) per offer and decision run, as Gaussian Thompson sampling does (Agrawal &
Goyal 2013, "Further optimal regret bounds for Thompson sampling", AISTATS, Algorithm 2).

Evidence is recomputed from every measured campaign each time (not accumulated update by
update), so re-measuring a campaign never counts it twice.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from cvm.core.errors import UserInputError
from cvm.measure.feedback import BetaPrior, OfferStats, update_priors

ALL = "*"
JEFFREYS = BetaPrior(0.5, 0.5)


@dataclass(frozen=True)
class UpliftEvidence:
    """Responders of one offer (in one segment) in the treated group and in its control."""

    offer: str
    segment: str
    treated_successes: int
    treated_trials: int
    control_successes: int
    control_trials: int

    def __post_init__(self) -> None:
        for s, n in (
            (self.treated_successes, self.treated_trials),
            (self.control_successes, self.control_trials),
        ):
            if n < 0 or not 0 <= s <= n:
                raise UserInputError(
                    f"offer '{self.offer}' ({self.segment}): need 0 <= successes <= trials, "
                    f"got {s} of {n}"
                )


@dataclass(frozen=True)
class UpliftPosterior:
    """Posterior belief about one offer's uplift in one segment (see the module docstring)."""

    offer: str
    segment: str
    prior_mean: float
    prior_sd: float
    treated: BetaPrior
    control: BetaPrior
    mean: float
    sd: float
    n_treated: int
    n_control: int

    @property
    def realised(self) -> float:
        """Uplift of the evidence alone (difference of the Jeffreys posterior means)."""
        return self.treated.mean - self.control.mean

    def strength(self) -> float:
        """Pseudo-customers k with u(1 − u)/(k + 1) = sd²: the decide prior convention."""
        u = min(max(abs(self.mean), 1e-6), 1 - 1e-6)
        return max(1.0, u * (1.0 - u) / max(self.sd**2, 1e-12) - 1.0)


def _beta_var(b: BetaPrior) -> float:
    s = b.alpha + b.beta
    return b.alpha * b.beta / (s * s * (s + 1.0))


def prior_sd(prior_uplift: float, strength: float) -> float:
    """sd of the declared prior: u0(1 − u0)/(k + 1), with |u0| floored at 1%."""
    u = min(max(abs(prior_uplift), 0.01), 0.99)
    return math.sqrt(u * (1.0 - u) / (strength + 1.0))


def uplift_posterior(
    evidence: UpliftEvidence, prior_uplift: float = 0.0, prior_strength: float = 20.0
) -> UpliftPosterior:
    """Posterior of one offer's uplift given its evidence and declared prior."""
    stats = [
        OfferStats("treated", evidence.treated_successes, evidence.treated_trials),
        OfferStats("control", evidence.control_successes, evidence.control_trials),
    ]
    post = update_priors({}, stats, default_prior=JEFFREYS)
    treated, control = post["treated"], post["control"]
    s0 = prior_sd(prior_uplift, prior_strength)
    m = treated.mean - control.mean
    var_d = _beta_var(treated) + _beta_var(control)
    precision = 1.0 / s0**2 + 1.0 / var_d
    mean = (prior_uplift / s0**2 + m / var_d) / precision
    return UpliftPosterior(
        offer=evidence.offer,
        segment=evidence.segment,
        prior_mean=prior_uplift,
        prior_sd=s0,
        treated=treated,
        control=control,
        mean=float(mean),
        sd=float(math.sqrt(1.0 / precision)),
        n_treated=evidence.treated_trials,
        n_control=evidence.control_trials,
    )


def evidence_from_frame(
    frame: pd.DataFrame,
    *,
    offer: str = "offer_id",
    segment: str | None = "segment",
    converted: str = "converted",
) -> list[UpliftEvidence]:
    """Evidence per offer (segment ``*``) and per offer × segment from per-customer results.

    Treated customers carry their offer. Control customers count for an offer when they carry
    it (an offer holdout); a control without an offer (one shared campaign control) counts for
    every offer of that campaign. ``campaign_id`` separates campaigns when present.
    """
    for col in (offer, converted, "is_control"):
        if col not in frame.columns:
            raise UserInputError(f"column '{col}' is not in the results")
    df = frame.assign(_campaign=frame["campaign_id"] if "campaign_id" in frame else "")
    df = df.assign(_segment=df[segment].fillna("<NA>").astype(str) if segment else ALL)
    ctl = df["is_control"].astype(bool)
    treated = df[~ctl & df[offer].notna()]
    control = df[ctl]
    levels: Sequence[tuple[str, bool]] = [(ALL, False), *([("seg", True)] if segment else [])]
    out: dict[tuple[str, str], list[int]] = {}
    for (camp, off), t in treated.groupby(["_campaign", offer], sort=True):
        c_all = control[control["_campaign"] == camp]
        c_own = c_all[c_all[offer] == off]
        pool = c_own if len(c_own) else c_all[c_all[offer].isna()]
        for _, by_segment in levels:
            t_groups = t.groupby("_segment") if by_segment else [(ALL, t)]
            for seg, t_part in t_groups:
                c_part = pool[pool["_segment"] == seg] if by_segment else pool
                acc = out.setdefault((str(off), str(seg)), [0, 0, 0, 0])
                acc[0] += int(t_part[converted].sum())
                acc[1] += len(t_part)
                acc[2] += int(c_part[converted].sum())
                acc[3] += len(c_part)
    return [UpliftEvidence(o, s, *v) for (o, s), v in sorted(out.items())]


def uplift_posteriors(
    evidence: Iterable[UpliftEvidence], priors: Mapping[str, tuple[float, float]]
) -> list[UpliftPosterior]:
    """Posterior per evidence row; ``priors`` maps offer → (prior uplift, strength)."""
    return [uplift_posterior(e, *priors.get(e.offer, (0.0, 20.0))) for e in evidence]


def thompson_uplifts(
    posteriors: Sequence[UpliftPosterior], *, seed: int
) -> dict[tuple[str, str], float]:
    """One draw per (offer, segment) from its posterior: a batch Thompson-sampling step."""
    rng = np.random.default_rng(seed)
    draws = rng.normal(size=len(posteriors))
    return {
        (p.offer, p.segment): float(np.clip(p.mean + p.sd * z, -1.0, 1.0))
        for p, z in zip(posteriors, draws, strict=True)
    }
