"""Discovery recovers planted clusters, picks their number by silhouette, and its suggested
rules are valid segments that select (mostly) the cluster."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from cvm.segments.compile import compile_segment
from cvm.segments.discover import discover_segments
from cvm.segments.store import SegmentStore
from tests.segments.conftest import bare_warehouse

PLANTED = {  # clv, orders, churn_propensity, days_since_last_purchase
    "vip": (2000.0, 30.0, 0.05, 10.0),
    "regular": (200.0, 6.0, 0.3, 60.0),
    "lapsing": (20.0, 1.0, 0.9, 300.0),
}


def test_recovers_planted_clusters() -> None:
    rng = np.random.default_rng(3)
    wh = bare_warehouse()
    ids, truth, columns = (
        [],
        [],
        {k: [] for k in ("clv", "orders", "churn_propensity", "days_since_last_purchase")},
    )
    for label, (clv, orders, churn, days) in PLANTED.items():
        n = {"vip": 60, "regular": 300, "lapsing": 240}[label]
        ids += [f"{label}{i}" for i in range(n)]
        truth += [label] * n
        columns["clv"] += list(clv * rng.lognormal(0, 0.2, n))
        columns["orders"] += list(np.maximum(1, np.round(orders * rng.lognormal(0, 0.15, n))))
        columns["churn_propensity"] += list(np.clip(churn + rng.normal(0, 0.04, n), 0, 1))
        columns["days_since_last_purchase"] += list(np.round(days * rng.lognormal(0, 0.2, n)))
    wh.engine.write_arrow("customers", pa.table({"customer_id": ids}))
    profiles = pa.table({"customer_id": ids, **columns}).cast(
        pa.schema(
            [
                ("customer_id", pa.string()),
                ("clv", pa.float64()),
                ("orders", pa.int64()),
                ("churn_propensity", pa.float64()),
                ("days_since_last_purchase", pa.int64()),
            ]
        )
    )
    wh.engine.write_arrow("profiles", profiles)

    found = discover_segments(wh.engine, "auto", seed=0, sample_size=600)
    assert found.k == 3, found.silhouette
    assert max(found.silhouette, key=found.silhouette.__getitem__) == 3
    assert sorted(c.size for c in found.clusters) == [60, 240, 300]  # exact recovery
    vip = next(c for c in found.clusters if c.size == 60)
    assert {f.feature for f in vip.contrasts} >= {"clv"}
    assert next(f for f in vip.contrasts if f.feature == "clv").z > 1
    assert "much higher clv" in vip.description

    store = SegmentStore(wh.engine)
    truth_of = dict(zip(ids, truth, strict=True))
    for cluster in found.clusters:
        store.save(cluster.rule, replace=True)  # valid as a stored segment
        query = compile_segment(cluster.rule.rule, store.context())
        members = [r[0] for r in wh.engine.fetch_rows(query)]
        labels = [truth_of[m] for m in members]
        majority = max(set(labels), key=labels.count)
        precision = labels.count(majority) / len(labels)
        assert precision == cluster.rule_precision
        assert precision > 0.9 and cluster.rule_recall > 0.5, cluster.description
    wh.close()
