"""`cvm score`: promoted models score every customer and the scores land on `profiles`.

Writes ``churn_propensity`` (customers with a purchase history), ``uplift`` (JSON: model key,
i.e. campaign or offer → estimated effect on conversion), ``top_products`` (JSON array, best
first) and ``score_versions`` (JSON: which model version produced each score).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cvm.core.timewindows import end_of_day
from cvm.engine.base import Engine
from cvm.predict.features import FeatureSpec, build_features
from cvm.predict.registry import load_manifest, model_folder, promoted_version
from cvm.profiles.views import ensure_profile_tables

_UPDATE = """
UPDATE profiles SET
  churn_propensity = s.churn_propensity,
  uplift = CAST(s.uplift AS JSON),
  top_products = CAST(s.top_products AS JSON),
  score_versions = CAST(s.score_versions AS JSON)
FROM __scores AS s WHERE profiles.customer_id = s.customer_id
"""


def score_profiles(
    engine: Engine, models_dir: Path, as_of: dt.date, *, top_n: int = 10
) -> dict[str, Any]:
    """Score every profile with the promoted models; returns counts and versions used."""
    ensure_profile_tables(engine)
    ids = pd.Index(
        [r[0] for r in engine.fetch_rows("SELECT customer_id FROM profiles ORDER BY customer_id")],
        name="customer_id",
    )
    if ids.empty:
        return {"skipped": "no profiles yet: run the value stage first"}
    cutoff = end_of_day(as_of)
    scores = pd.DataFrame(index=ids)
    versions: dict[str, Any] = {}
    feature_cache: dict[str, pd.DataFrame] = {}

    def features_for(manifest: dict[str, Any]) -> pd.DataFrame:
        spec = FeatureSpec.from_dict(manifest["features"]["spec"])
        key = json.dumps(spec.to_dict(), sort_keys=True)
        if key not in feature_cache:
            feature_cache[key] = build_features(engine, cutoff, spec, customer_ids=ids)
        return feature_cache[key][manifest["features"]["columns"]]

    churn_version = promoted_version(models_dir, "churn")
    if churn_version:
        from cvm.predict.churn import ChurnModel

        manifest = load_manifest(models_dir, churn_version)
        model = ChurnModel.load(model_folder(models_dir, churn_version) / "model")
        x = features_for(manifest)
        p = model.predict_proba(x)[:, 1]
        # Churn is defined among buyers: customers with no purchase get no propensity.
        scores["churn_propensity"] = np.where(x["orders"].notna().to_numpy(), p, np.nan)
        versions["churn"] = churn_version

    uplift_cols: dict[str, np.ndarray] = {}
    uplift_version = promoted_version(models_dir, "uplift")
    if uplift_version:
        from cvm.predict.uplift import UpliftModel

        manifest = load_manifest(models_dir, uplift_version)
        model = UpliftModel.load(model_folder(models_dir, uplift_version) / "model")
        uplift_cols[manifest["model_key"]] = np.asarray(
            model.predict(features_for(manifest), treatment="treatment"), dtype=float
        )
        versions["uplift"] = {manifest["model_key"]: uplift_version}
    scores["uplift"] = [
        json.dumps({k: round(float(v[i]), 6) for k, v in uplift_cols.items()})
        if uplift_cols
        else None
        for i in range(len(ids))
    ]

    rec_version = promoted_version(models_dir, "recommend")
    if rec_version:
        from cvm.predict.recommend import load_recommender

        model = load_recommender(model_folder(models_dir, rec_version) / "model")
        recs = model.recommend(ids.to_numpy(), n=top_n)
        lists = (
            recs.sort_values(["customer_id", "rank"]).groupby("customer_id")["product_id"].agg(list)
        )
        scores["top_products"] = [json.dumps([str(p) for p in lists.get(cid, [])]) for cid in ids]
        versions["recommend"] = rec_version
    else:
        scores["top_products"] = None
    if "churn_propensity" not in scores:
        scores["churn_propensity"] = np.nan
    scores["score_versions"] = json.dumps(versions)
    table = pa.Table.from_pandas(scores.reset_index(), preserve_index=False)
    engine.register_arrow("__scores", table)
    try:
        engine.execute(_UPDATE)
    finally:
        engine.unregister("__scores")
    return {
        "profiles": len(ids),
        "churn_scored": int(scores["churn_propensity"].notna().sum()),
        "uplift_models": len(uplift_cols),
        "recommendations": int(scores["top_products"].notna().sum()),
        "versions": versions,
    }
