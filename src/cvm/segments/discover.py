"""Discovery: cluster customers on value and behaviour, and word each cluster as a rule.

Method. Numeric value and behaviour columns of ``customer_360`` (orders, revenue, recency,
CLV, churn propensity, RFM scores, ...) for customers with at least half of them known; heavy-
tailed money and count columns take ``log1p``; missing values take the column median; every
column is standardised (z-scores). k-means (Lloyd's algorithm with k-means++ seeding —
Arthur & Vassilvitskii 2007 — as implemented by scikit-learn, fixed ``seed``) then groups them.

Number of clusters. With ``k="auto"``, k = 2..8 are each fitted on a seeded sample of
``sample_size`` customers and the k with the highest mean silhouette coefficient
(Rousseeuw 1987, *J. Comput. Appl. Math.* 20:53-65: ``s(i) = (b(i) - a(i)) / max(a(i), b(i))``,
``a`` the mean distance to the own cluster, ``b`` to the nearest other) is kept.

Description. For each cluster and feature, ``z = (cluster mean - population mean) /
population standard deviation`` on the clustering scale (after ``log1p`` where applied), so a
few extreme customers do not dominate; the three largest ``|z|`` describe the cluster (with the
plain means for reading). A suggested rule bounds each of them at the cluster's 5th / 95th
percentile on the sides where other clusters lie (a cluster above all others on CLV gets
``clv ≥ …``, a middle one ``between``). Its precision and recall against the cluster are
reported, so a marketer sees how faithful the plain rule is before saving it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import sqlglot.expressions as exp
from sklearn.cluster import KMeans
from sklearn.metrics import silhouette_score

from cvm.core.errors import UserInputError
from cvm.engine.base import Engine
from cvm.profiles.contract import CUSTOMER_360_VIEW
from cvm.segments.definition import ProfileCondition, SegmentDefinition, leaves

FEATURES: tuple[str, ...] = (
    "orders",
    "revenue",
    "days_since_last_purchase",
    "avg_order_value",
    "frequency",
    "recency",
    "tenure",
    "monetary_value",
    "p_alive",
    "expected_purchases",
    "clv",
    "churn_propensity",
    "rfm_recency",
    "rfm_frequency",
    "rfm_monetary",
)
HEAVY_TAILED = {"orders", "revenue", "avg_order_value", "monetary_value", "clv", "frequency"}
K_RANGE = range(2, 9)


@dataclass(frozen=True)
class FeatureContrast:
    feature: str
    cluster_mean: float
    population_mean: float
    z: float

    def words(self) -> str:
        size = "much " if abs(self.z) >= 1 else ""
        way = "higher" if self.z > 0 else "lower"
        return (
            f"{size}{way} {self.feature} (mean {self.cluster_mean:,.2f} vs "
            f"{self.population_mean:,.2f}, z = {self.z:+.2f})"
        )


@dataclass
class Cluster:
    label: int
    size: int
    share: float
    contrasts: list[FeatureContrast]
    rule: SegmentDefinition
    rule_precision: float
    rule_recall: float

    @property
    def description(self) -> str:
        traits = "; ".join(c.words() for c in self.contrasts)
        return f"{self.size:,} customers ({self.share:.1%}): {traits}"


@dataclass
class Discovery:
    k: int
    criterion: str
    silhouette: dict[int, float]
    features: list[str]
    customers: int
    clusters: list[Cluster] = field(default_factory=list)


def load_features(engine: Engine, features: tuple[str, ...] = FEATURES) -> pd.DataFrame:
    """Numeric features per customer (index ``customer_id``), columns that have any value."""
    present = [f for f in features if f in engine.table_columns(CUSTOMER_360_VIEW)]
    columns = [exp.cast(exp.column(f, quoted=True), "DOUBLE").as_(f) for f in present]
    query = exp.select(exp.column("customer_id"), *columns).from_(CUSTOMER_360_VIEW)
    frame = engine.fetch_arrow(query).to_pandas().set_index("customer_id")
    frame = frame.loc[:, frame.notna().any()]
    return frame[frame.notna().sum(axis=1) >= max(1, frame.shape[1] / 2)]


def standardise(frame: pd.DataFrame) -> np.ndarray:
    values = frame.copy()
    for col in values.columns:
        if col in HEAVY_TAILED:
            values[col] = np.log1p(values[col].clip(lower=0))
    values = values.fillna(values.median())
    std = values.std(ddof=0).replace(0, 1)
    return ((values - values.mean()) / std).to_numpy(dtype=float)


def choose_k(x: np.ndarray, seed: int, sample_size: int) -> dict[int, float]:
    """Mean silhouette for each k in `K_RANGE`, on a seeded sample."""
    rng = np.random.default_rng(seed)
    sample = x[rng.choice(len(x), size=min(sample_size, len(x)), replace=False)]
    scores: dict[int, float] = {}
    for k in K_RANGE:
        if k >= len(sample):
            break
        labels = KMeans(n_clusters=k, n_init=2, random_state=seed).fit_predict(sample)
        if len(set(labels)) > 1:
            scores[k] = float(silhouette_score(sample, labels, random_state=seed))
    return scores


def _suggested_rule(
    label: int, frame: pd.DataFrame, labels: np.ndarray, contrasts: list[FeatureContrast]
) -> SegmentDefinition:
    """Bound each distinctive feature at the cluster's 5th / 95th percentile, on the sides
    where other clusters lie (a top cluster gets only a lower bound: ``clv ≥ …``)."""
    conditions: list[dict[str, object]] = []
    members = frame[labels == label]
    others = [frame[labels == o].mean() for o in set(labels.tolist()) if o != label]
    for c in contrasts:
        values = members[c.feature].dropna()
        low, high = (round(float(values.quantile(q)), 2) for q in (0.05, 0.95))
        below = any(o[c.feature] < c.cluster_mean for o in others)
        above = any(o[c.feature] > c.cluster_mean for o in others)
        field = c.feature
        if below and above:
            conditions.append(
                {"kind": "profile", "field": field, "op": "between", "value": [low, high]}
            )
        elif below:
            conditions.append({"kind": "profile", "field": field, "op": "gte", "value": low})
        else:
            conditions.append({"kind": "profile", "field": field, "op": "lte", "value": high})
    return SegmentDefinition.model_validate(
        {
            "name": f"cluster_{label}",
            "description": "Suggested by `cvm segments discover`: "
            + "; ".join(c.words() for c in contrasts),
            "tags": ["discovered"],
            "rule": {"kind": "all", "conditions": conditions},
        }
    )


def _rule_mask(frame: pd.DataFrame, rule: SegmentDefinition) -> pd.Series:
    mask = pd.Series(True, index=frame.index)
    for _, node in leaves(rule.rule):
        assert isinstance(node, ProfileCondition)
        column = frame[node.field]
        if node.op == "between":
            assert isinstance(node.value, list)
            low, high = node.value
            mask &= (column >= low) & (column <= high)
        else:
            mask &= (column >= node.value) if node.op == "gte" else (column <= node.value)
    return mask.fillna(False)


def discover_segments(
    engine: Engine,
    k: int | Literal["auto"] = "auto",
    *,
    seed: int = 0,
    sample_size: int = 5_000,
    max_customers: int = 200_000,
    top: int = 3,
) -> Discovery:
    """Cluster customers and describe each cluster (see the module docstring)."""
    frame = load_features(engine)
    if len(frame) < 10 or frame.shape[1] < 2:
        raise UserInputError(
            "not enough profile data to cluster: run the value stage first (need ≥ 10 customers "
            "with value metrics)"
        )
    if len(frame) > max_customers:
        rng = np.random.default_rng(seed)
        frame = frame.iloc[np.sort(rng.choice(len(frame), size=max_customers, replace=False))]
    x = standardise(frame)
    scores = choose_k(x, seed, sample_size) if k == "auto" else {}
    chosen = max(scores, key=lambda key: scores[key]) if k == "auto" else int(k)
    if chosen < 2 or chosen >= len(frame):
        raise UserInputError(f"k must be between 2 and {len(frame) - 1} (got {chosen})")
    labels = KMeans(n_clusters=chosen, n_init=4, random_state=seed).fit_predict(x)
    mean = frame.mean()
    standardised = pd.DataFrame(x, index=frame.index, columns=frame.columns)
    criterion = (
        f"highest mean silhouette over k = {K_RANGE.start}..{K_RANGE.stop - 1} on a seeded sample "
        f"of {min(sample_size, len(frame)):,} customers"
        if k == "auto"
        else "k given"
    )
    result = Discovery(chosen, criterion, scores, list(frame.columns), len(frame))
    for label in range(chosen):
        members = frame[labels == label]
        # x is standardised (mean 0, sd 1): the cluster mean of x is the z-score itself
        z = standardised[labels == label].mean()
        strongest = z.abs().sort_values(ascending=False).index[:top]
        contrasts = [
            FeatureContrast(f, float(members[f].mean()), float(mean[f]), float(z[f]))
            for f in strongest
        ]
        rule = _suggested_rule(label, frame, labels, contrasts)
        matched = _rule_mask(frame, rule)
        in_cluster = pd.Series(labels == label, index=frame.index)
        hits = int((matched & in_cluster).sum())
        result.clusters.append(
            Cluster(
                label,
                len(members),
                len(members) / len(frame),
                contrasts,
                rule,
                hits / max(1, int(matched.sum())),
                hits / max(1, len(members)),
            )
        )
    result.clusters.sort(key=lambda c: -c.size)
    return result
