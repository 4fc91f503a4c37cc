"""`score_profiles` (chunked, shared encoding, array top-k, assembled JSON) writes exactly what a
straightforward DataFrame scorer writes: same churn propensities bit for bit, same JSON text."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from cvm.core.timewindows import end_of_day
from cvm.demo import generate_company, load_company_into
from cvm.predict.churn import ChurnModel
from cvm.predict.features import FeatureSpec, build_features, choose_spec
from cvm.predict.recommend import ImplicitALSRecommender, load_recommender
from cvm.predict.registry import load_manifest, model_folder, promoted_version, register_model
from cvm.predict.scoring import Stopwatch, score_profiles
from cvm.predict.training import recommendation_inputs
from cvm.predict.uplift import UpliftModel
from cvm.value.stage import run_value_stage
from cvm.workspace import Workspace, init_workspace

AS_OF = dt.date(2024, 12, 31)
# A quote in the key checks that the JSON object key is escaped like json.dumps escapes it.
UPLIFT_KEY = 'CMP-"TEST"-01'
_READ = (
    "SELECT customer_id, churn_propensity, CAST(uplift AS VARCHAR) AS uplift, "
    "CAST(top_products AS VARCHAR) AS top_products, "
    "CAST(score_versions AS VARCHAR) AS score_versions FROM profiles ORDER BY customer_id"
)


def _register(ws: Workspace, kind: str, model: Any, manifest: dict[str, Any]) -> None:
    register_model(ws.models_dir, kind, lambda f: model.save(f / "model"), manifest, promote=True)


@pytest.fixture(scope="module")
def ws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workspace]:
    """A small demo company with a churn, an uplift and an ALS model fitted directly (small
    settings, so the fixture is quick), plus two customers the models never saw."""
    workspace = init_workspace(tmp_path_factory.mktemp("scoring") / "ws")
    engine = workspace.engine
    load_company_into(engine, generate_company(n_customers=600, seed=11))
    run_value_stage(engine, workspace.settings.value, as_of=AS_OF)
    cutoff = end_of_day(AS_OF)
    spec = choose_spec(engine, cutoff)
    features = build_features(engine, cutoff, spec)
    columns = list(features.columns)
    described = {"features": {"spec": spec.to_dict(), "columns": columns}}
    rng = np.random.default_rng(0)
    # churn label with real signal, so the trees split and scores vary between customers
    churned = (features["recency_days"] > features["recency_days"].median()).astype(int)
    churn = ChurnModel(n_estimators=25, min_child_samples=10, calibration_folds=2)
    _register(workspace, "churn", churn.fit(features, churned), described)
    arm = np.where(rng.random(len(features)) < 0.5, "treatment", "control")
    lift = np.where(arm == "treatment", 0.2 * (features["orders"].to_numpy() > 3), 0.0)
    bought = (rng.random(len(features)) < 0.2 + lift).astype(int)
    uplift = UpliftModel(
        method="x", control="control", n_estimators=20, num_leaves=5, min_child_samples=10
    )
    _register(
        workspace,
        "uplift",
        uplift.fit(features, arm, bought),
        {**described, "model_key": UPLIFT_KEY},
    )
    interactions, products = recommendation_inputs(engine, AS_OF)
    als = ImplicitALSRecommender(factors=8, iterations=3, regularization=1.0)
    _register(workspace, "recommend", als.fit(interactions, products), {"method": "als"})
    # Z1: a customer with no purchase, a blank-padded unseen gender and no country (no churn
    # propensity, unseen-category code, cold-start recommendations); Z2: a profile with no
    # customers row at all (every feature missing).
    engine.execute(
        "INSERT INTO customers (customer_id, signup_date, gender, country) VALUES (?, ?, ?, ?)",
        ["Z1", dt.date(2024, 6, 1), "  nonbinary ", None],
    )
    engine.execute("INSERT INTO profiles (customer_id) VALUES (?), (?)", ["Z1", "Z2"])
    yield workspace
    workspace.close()


def reference_scores(ws: Workspace, top_n: int = 10) -> pd.DataFrame:
    """The scores spelled the plain way: DataFrames into the models' public predict methods,
    recommendations grouped per customer, one json.dumps per row."""
    engine, models = ws.engine, ws.models_dir
    ids = pd.Index([r[0] for r in engine.fetch_rows("SELECT customer_id FROM profiles")])
    ids = ids.sort_values().rename("customer_id")
    out = pd.DataFrame(index=ids)
    versions: dict[str, Any] = {}

    def features_for(manifest: dict[str, Any]) -> pd.DataFrame:
        spec = FeatureSpec.from_dict(manifest["features"]["spec"])
        frame = build_features(engine, end_of_day(AS_OF), spec, customer_ids=ids)
        return frame[manifest["features"]["columns"]]

    version = promoted_version(models, "churn")
    assert version
    manifest = load_manifest(models, version)
    x = features_for(manifest)
    p = ChurnModel.load(model_folder(models, version) / "model").predict_proba(x)[:, 1]
    out["churn_propensity"] = np.where(x["orders"].notna(), p, np.nan)
    versions["churn"] = version
    version = promoted_version(models, "uplift")
    assert version
    manifest = load_manifest(models, version)
    model = UpliftModel.load(model_folder(models, version) / "model")
    effect = model.predict(features_for(manifest), treatment="treatment")
    key = manifest["model_key"]
    out["uplift"] = [json.dumps({key: round(float(v), 6)}) for v in effect]
    versions["uplift"] = {key: version}
    version = promoted_version(models, "recommend")
    assert version
    recs = load_recommender(model_folder(models, version) / "model").recommend(
        ids.to_numpy(), n=top_n
    )
    lists = recs.sort_values(["customer_id", "rank"]).groupby("customer_id")["product_id"].agg(list)
    out["top_products"] = [json.dumps([str(p) for p in lists.get(c, [])]) for c in ids]
    versions["recommend"] = version
    out["score_versions"] = json.dumps(versions)
    return out.reset_index()


def _scored(ws: Workspace, **options: Any) -> pd.DataFrame:
    ws.engine.execute(
        "UPDATE profiles SET churn_propensity = NULL, uplift = NULL, top_products = NULL, "
        "score_versions = NULL"
    )
    score_profiles(ws.engine, ws.models_dir, AS_OF, **options)
    return ws.engine.fetch_arrow(_READ).to_pandas()


@pytest.fixture(scope="module")
def reference(ws: Workspace) -> pd.DataFrame:
    return reference_scores(ws)


@pytest.mark.parametrize(
    ("chunk_rows", "num_threads"),
    [(None, 2), (-2, 1), (41, 2)],
    ids=["one-chunk", "last-chunk-only-unseen-customers", "chunks-of-41"],
)
def test_optimised_scores_equal_the_plain_reference(
    ws: Workspace, reference: pd.DataFrame, chunk_rows: int | None, num_threads: int
) -> None:
    options: dict[str, Any] = {"num_threads": num_threads}
    if chunk_rows is not None:
        # negative: all rows but that many in the first chunk, so the last chunk holds only
        # Z1 and Z2 (sorted last), whose event counts are all missing
        options["chunk_rows"] = chunk_rows if chunk_rows > 0 else len(reference) + chunk_rows
    got = _scored(ws, **options)
    assert len(got) == len(reference) > 600
    pd.testing.assert_series_equal(got["customer_id"], reference["customer_id"])
    # bit for bit, NaN where the reference has NaN
    np.testing.assert_array_equal(
        got["churn_propensity"].to_numpy(dtype=float), reference["churn_propensity"].to_numpy()
    )
    for column in ("uplift", "top_products", "score_versions"):
        assert got[column].tolist() == reference[column].tolist(), column


def test_scores_vary_and_the_unseen_customers_are_handled(
    ws: Workspace, reference: pd.DataFrame
) -> None:
    """Guards the equality test against a degenerate fixture (constant scores, no NaN)."""
    got = _scored(ws).set_index("customer_id")
    assert got["churn_propensity"].nunique() > 20
    assert np.isnan(got.loc["Z1", "churn_propensity"]) and np.isnan(
        got.loc["Z2", "churn_propensity"]
    )
    uplift = got["uplift"].map(lambda s: json.loads(s)[UPLIFT_KEY])
    assert uplift.nunique() > 20
    top = got["top_products"].map(json.loads)
    assert (top.map(len) == 10).all()
    assert top["Z1"] == top["Z2"]  # both cold start: the most popular eligible products
    assert top.map(tuple).nunique() > 100


def test_stopwatch_reports_every_part(ws: Workspace) -> None:
    watch = Stopwatch()
    result = score_profiles(ws.engine, ws.models_dir, AS_OF, stopwatch=watch)
    assert result["churn_scored"] == result["profiles"] - 2
    expected = {"load models", "features", "encode", "churn", "uplift", "recommendations"}
    assert expected | {"json", "write"} == set(watch.seconds)
    assert all(seconds >= 0 for seconds in watch.seconds.values())


def test_no_profiles_is_reported_not_scored(tmp_path: Path) -> None:
    workspace = init_workspace(tmp_path / "empty")
    try:
        result = score_profiles(workspace.engine, workspace.models_dir, AS_OF)
    finally:
        workspace.close()
    assert result == {"skipped": "no profiles yet: run the value stage first"}
