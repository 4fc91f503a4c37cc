"""Control groups: who is held out, with which probability, and whether the groups are balanced.

Two layers, both drawn with the documented hash of `cvm.core.hashing` (identical in Python,
DuckDB and Spark, on every run):

- the **global control group**: ``bucket(salt_g, customer) < share_g``. Marketing never contacts
  these customers. The salt changes on the configured schedule (`GlobalControl.effective_salt`),
  which redraws the group.
- the **offer control group**: among the customers an offer is decided for,
  ``bucket("offer:<id>:<salt>", customer) < share_o`` are held out. They are decided exactly as
  treated customers (same eligibility, same arbitration) and then withheld, so the held-out
  customers are a random sample of the customers the policy chose.

Every decision logs the probability of the arm it drew (its propensity): ``g`` for a global
control, ``(1 − g)·s`` for an offer control and ``(1 − g)·(1 − s)`` for a treated customer, so
results can be evaluated off-policy later by inverse propensity weighting (Horvitz & Thompson
1952; Li et al. 2011, "Unbiased offline evaluation of contextual-bandit-based news article
recommendation algorithms", WSDM, eq. 1).

Balance on pre-period features is checked with the standardised mean difference
``SMD = (m_t − m_c) / sqrt((s_t² + s_c²) / 2)`` (Austin 2009, Statistics in Medicine 28,
eq. 1); ``|SMD| > 0.1`` is flagged (Austin 2009, sec. 2 and Normand et al. 2001).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
import pandas as pd
import sqlglot.expressions as exp

from cvm.core.hashing import bucket_sql, stable_bucket, stable_buckets
from cvm.decide.config import GlobalControl

BALANCE_FEATURES: tuple[str, ...] = (
    "clv",
    "revenue",
    "orders",
    "days_since_last_purchase",
    "avg_order_value",
    "p_alive",
)


def offer_salt(offer_id: str, salt: str = "") -> str:
    """The salt of an offer's control group; change ``salt`` on the offer to redraw it."""
    return f"offer:{offer_id}:{salt}"


def in_global_control(customer_id: str, control: GlobalControl, on: dt.date) -> bool:
    return (
        control.share > 0 and stable_bucket(control.effective_salt(on), customer_id) < control.share
    )


def global_control_mask(
    customer_ids: Sequence[str], control: GlobalControl, on: dt.date
) -> npt.NDArray[np.bool_]:
    if control.share <= 0:
        return np.zeros(len(customer_ids), dtype=bool)
    return stable_buckets(control.effective_salt(on), list(customer_ids)) < control.share


def global_control_sql(
    customer_id: exp.Expression, control: GlobalControl, on: dt.date, dialect: str
) -> exp.Expression:
    """The same membership as a SQL boolean (for queries over the whole base)."""
    if control.share <= 0:
        return exp.false()
    bucket = bucket_sql(control.effective_salt(on), customer_id, dialect)
    return exp.paren(bucket) < exp.Literal.number(control.share)


def offer_control_mask(
    customer_ids: Sequence[str],
    offer_ids: Sequence[str],
    shares: dict[str, float],
    salts: dict[str, str],
) -> npt.NDArray[np.bool_]:
    """Whether each chosen (customer, offer) falls in that offer's control group."""
    out = np.zeros(len(customer_ids), dtype=bool)
    for i, (cid, oid) in enumerate(zip(customer_ids, offer_ids, strict=True)):
        share = shares.get(oid, 0.0)
        if share > 0:
            out[i] = stable_bucket(offer_salt(oid, salts.get(oid, "")), cid) < share
    return out


def offer_control_sql(
    customer_id: exp.Expression,
    offer_id: exp.Expression,
    shares: dict[str, float],
    salts: dict[str, str],
    dialect: str,
) -> exp.Expression:
    """`offer_control_mask` as a SQL boolean over (customer_id, offer_id) columns: the same
    hash, computed by the engine (a million SHA-256 digests in parallel, not one by one)."""
    whens = [
        exp.If(
            this=offer_id.eq(exp.Literal.string(oid)),
            true=exp.paren(bucket_sql(offer_salt(oid, salts.get(oid, "")), customer_id, dialect))
            < exp.Literal.number(share),
        )
        for oid, share in sorted(shares.items())
        if share > 0
    ]
    if not whens:
        return exp.false()
    return exp.Coalesce(this=exp.Case(ifs=whens), expressions=[exp.false()])


def assignment_probability(
    global_share: float,
    offer_share: npt.NDArray[np.float64],
    is_global: npt.NDArray[np.bool_],
    is_control: npt.NDArray[np.bool_],
) -> npt.NDArray[np.float64]:
    """Propensity of the drawn arm (see the module docstring)."""
    treated = (1.0 - global_share) * (1.0 - offer_share)
    held = (1.0 - global_share) * offer_share
    return np.where(is_global, global_share, np.where(is_control, held, treated))


def standardized_mean_difference(treated: npt.ArrayLike, control: npt.ArrayLike) -> float:
    """Austin (2009) eq. 1; NaNs are ignored; 0 when both groups are constant."""
    t = np.asarray(treated, dtype=float)
    c = np.asarray(control, dtype=float)
    t, c = t[~np.isnan(t)], c[~np.isnan(c)]
    if len(t) < 2 or len(c) < 2:
        return float("nan")
    pooled = np.sqrt((t.var(ddof=1) + c.var(ddof=1)) / 2.0)
    diff = t.mean() - c.mean()
    if pooled == 0:
        return 0.0 if diff == 0 else float(np.sign(diff) * np.inf)
    return float(diff / pooled)


def _mean(values: npt.NDArray[np.float64]) -> float | None:
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if len(finite) else None


def balance_table(
    frame: pd.DataFrame,
    control_column: str,
    features: Sequence[str] = BALANCE_FEATURES,
    threshold: float = 0.1,
    by: str | None = None,
) -> pd.DataFrame:
    """SMD of each feature between control (``control_column`` true) and treatment.

    One row per (group of ``by``, feature): sizes, means, SMD and ``flag`` (|SMD| > threshold).
    """
    rows: list[dict[str, object]] = []
    groups = frame.groupby(by, sort=True) if by else [("all", frame)]
    for key, part in groups:
        is_control = part[control_column].astype(bool).to_numpy()
        for feature in features:
            if feature not in part.columns:
                continue
            values = pd.to_numeric(part[feature], errors="coerce").to_numpy(dtype=float)
            smd = standardized_mean_difference(values[~is_control], values[is_control])
            rows.append(
                {
                    "group": key if not isinstance(key, tuple) else key[0],
                    "feature": feature,
                    "treated": int((~is_control).sum()),
                    "control": int(is_control.sum()),
                    "mean_treated": _mean(values[~is_control]),
                    "mean_control": _mean(values[is_control]),
                    "smd": smd,
                    "flag": bool(np.isfinite(smd) and abs(smd) > threshold) or bool(np.isinf(smd)),
                }
            )
    return pd.DataFrame(rows)
