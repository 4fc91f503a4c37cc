"""Draw customers from the CLV models with known parameters (ground truth for tests and demos).

Each `simulate_*` function follows its model's story literally, one customer at a time but
vectorised across customers, and returns the model's input columns plus the latent truth
(rates, probabilities, whether the customer is still alive) so a caller can check recovery.
All randomness comes from `seed` (an int or a `numpy.random.Generator`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from cvm.core.errors import UserInputError

FloatArray = np.ndarray
Seed = int | np.random.Generator


def _params(params: Mapping[str, float], names: tuple[str, ...], model: str) -> list[float]:
    missing = [n for n in names if n not in params]
    if missing:
        raise UserInputError(
            f"{model} simulation needs parameters {list(names)}; missing {missing}."
        )
    values = [float(params[n]) for n in names]
    if not all(np.isfinite(v) and v > 0 for v in values):
        raise UserInputError(f"{model} parameters must be positive and finite, got {dict(params)}.")
    return values


def _ages(T: float | FloatArray, n: int) -> FloatArray:
    ages = np.broadcast_to(np.asarray(T, dtype=np.float64), (n,)).copy()
    if np.any(ages < 0):
        raise UserInputError("simulation: T must be >= 0.")
    return ages


def _observe(
    rng: np.random.Generator, purchases: FloatArray, death_after: FloatArray, window: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Frequency, recency and alive flag of Poisson purchasers observed over `window`.

    `purchases` is the Poisson count over the window had the customer stayed; the customer
    dies right after repeat purchase number `death_after`. Given the count, purchase times are
    uniform order statistics on (0, window], so the k-th purchase is at window * Beta(k, N-k+1).
    """
    dies = purchases >= death_after
    x = np.where(dies, death_after, purchases)
    k = np.maximum(x, 1)
    tail = np.maximum(purchases - k + 1, 1)
    recency = np.where(x > 0, window * rng.beta(k, tail), 0.0)
    return x.astype(np.float64), recency, ~dies


def simulate_bg_nbd(
    params: Mapping[str, float], n: int, T: float | FloatArray, seed: Seed
) -> pd.DataFrame:
    """BG/NBD customers (Fader, Hardie & Lee 2005, section 3): lambda ~ Gamma(r, alpha),
    p ~ Beta(a, b); Poisson(lambda) purchases; after each repeat purchase, gone with prob. p."""
    r, alpha, a, b = _params(params, ("r", "alpha", "a", "b"), "BG/NBD")
    rng, ages = np.random.default_rng(seed), _ages(T, n)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = np.clip(rng.beta(a, b, n), 1e-12, 1.0)
    death_after = rng.geometric(p).astype(np.float64)  # dies after repeat purchase J >= 1
    x, recency, alive = _observe(rng, rng.poisson(lam * ages), death_after, ages)
    return pd.DataFrame(
        {
            "frequency": x,
            "recency": recency,
            "T": ages,
            "alive": alive,
            "purchase_rate": lam,
            "dropout_probability": p,
        }
    )


def simulate_mbg_nbd(
    params: Mapping[str, float], n: int, T: float | FloatArray, seed: Seed
) -> pd.DataFrame:
    """MBG/NBD customers (Batislam, Denizel & Filiztekin 2007): as BG/NBD, but a customer can
    also be gone right after the first purchase (J = 0)."""
    r, alpha, a, b = _params(params, ("r", "alpha", "a", "b"), "MBG/NBD")
    rng, ages = np.random.default_rng(seed), _ages(T, n)
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = np.clip(rng.beta(a, b, n), 1e-12, 1.0)
    death_after = rng.geometric(p).astype(np.float64) - 1.0
    x, recency, alive = _observe(rng, rng.poisson(lam * ages), death_after, ages)
    return pd.DataFrame(
        {
            "frequency": x,
            "recency": recency,
            "T": ages,
            "alive": alive,
            "purchase_rate": lam,
            "dropout_probability": p,
        }
    )


def simulate_pareto_nbd(
    params: Mapping[str, float], n: int, T: float | FloatArray, seed: Seed
) -> pd.DataFrame:
    """Pareto/NBD customers (Schmittlein, Morrison & Colombo 1987, section 2): lambda ~
    Gamma(r, alpha), mu ~ Gamma(s, beta), lifetime ~ Exponential(mu), Poisson(lambda) purchases
    while alive."""
    r, alpha, s, beta = _params(params, ("r", "alpha", "s", "beta"), "Pareto/NBD")
    rng, ages = np.random.default_rng(seed), _ages(T, n)
    lam = rng.gamma(r, 1.0 / alpha, n)
    mu = rng.gamma(s, 1.0 / beta, n)
    lifetime = rng.exponential(1.0 / np.maximum(mu, 1e-300))
    window = np.minimum(lifetime, ages)
    purchases = rng.poisson(lam * window)
    x, recency, _ = _observe(rng, purchases, np.full(n, np.inf), window)
    return pd.DataFrame(
        {
            "frequency": x, "recency": recency, "T": ages, "alive": lifetime > ages,
            "purchase_rate": lam, "dropout_rate": mu, "lifetime": lifetime,
        }
    )  # fmt: skip


def simulate_bg_bb(
    params: Mapping[str, float], n: int, T: int | FloatArray, seed: Seed
) -> pd.DataFrame:
    """BG/BB customers (Fader, Hardie & Shang 2010, section 2): p ~ Beta(alpha, beta),
    theta ~ Beta(gamma, delta); before each of T opportunities an active customer leaves for
    good with prob. theta, else transacts with prob. p. `T` is the number of opportunities."""
    alpha, beta, gamma, delta = _params(params, ("alpha", "beta", "gamma", "delta"), "BG/BB")
    rng, ages = np.random.default_rng(seed), _ages(T, n)
    if np.any(ages != np.round(ages)):
        raise UserInputError("BG/BB simulation: T must be a whole number of opportunities.")
    p = rng.beta(alpha, beta, n)
    theta = np.clip(rng.beta(gamma, delta, n), 1e-12, 1.0)
    alive_for = rng.geometric(theta) - 1.0  # opportunities survived before leaving
    x, recency = np.zeros(n), np.zeros(n)
    for t in range(1, int(ages.max(initial=0)) + 1):
        buys = (t <= alive_for) & (t <= ages) & (rng.random(n) < p)
        x += buys
        recency = np.where(buys, float(t), recency)
    return pd.DataFrame(
        {
            "frequency": x, "recency": recency, "T": ages, "alive": alive_for >= ages,
            "transaction_probability": p, "dropout_probability": theta,
        }
    )  # fmt: skip


def simulate_shifted_beta_geo(
    params: Mapping[str, float], n: int, T: int | FloatArray, seed: Seed
) -> pd.DataFrame:
    """sBG customers (Fader & Hardie 2007, section 2): theta ~ Beta(alpha, beta); at the end of
    each period an active customer cancels with prob. theta. `recency` is the last period as a
    customer, or `T` if still active when observation ends in period `T`."""
    alpha, beta = _params(params, ("alpha", "beta"), "sBG")
    rng, ages = np.random.default_rng(seed), _ages(T, n)
    if np.any(ages != np.round(ages)) or np.any(ages < 1):
        raise UserInputError("sBG simulation: T must be a whole number of periods >= 1.")
    theta = np.clip(rng.beta(alpha, beta, n), 1e-12, 1.0)
    last_period = rng.geometric(theta).astype(np.float64)
    return pd.DataFrame(
        {
            "recency": np.minimum(last_period, ages),
            "T": ages,
            "alive": last_period >= ages,
            "churn_probability": theta,
        }
    )


def simulate_gamma_gamma(
    params: Mapping[str, float], frequency: FloatArray, seed: Seed
) -> pd.DataFrame:
    """Mean spend of `frequency` transactions per customer (Fader, Hardie & Lee 2005, "RFM and
    CLV", section 4): nu ~ Gamma(q, rate gamma), each transaction ~ Gamma(p, rate nu), so the sum
    of x transactions is Gamma(p x, rate nu). `mean_spend` = p/nu is the true mean per customer;
    `monetary_value` is 0 for customers with no transactions."""
    p, q, gamma = _params(params, ("p", "q", "gamma"), "Gamma-Gamma")
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, dtype=np.float64)
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise UserInputError("Gamma-Gamma simulation: frequency must be whole numbers >= 0.")
    nu = rng.gamma(q, 1.0 / gamma, len(x))
    total = rng.gamma(np.maximum(p * x, 1e-300), 1.0 / nu)
    monetary = np.where(x > 0, total / np.maximum(x, 1.0), 0.0)
    return pd.DataFrame({"frequency": x, "monetary_value": monetary, "mean_spend": p / nu})
