"""Train → register → promote → score on the demo company; scores land on profiles."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from scipy.stats import spearmanr

from cvm.demo import generate_company, load_company_into
from cvm.predict.registry import list_models, load_manifest, model_folder, promoted_version
from cvm.predict.stage import run_prediction_stage
from cvm.predict.training import campaigns_with_assignments, train_churn
from cvm.value.stage import run_value_stage
from cvm.workspace import init_workspace

AS_OF = dt.date(2024, 12, 31)


@pytest.fixture(scope="module")
def scored(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    ws = init_workspace(tmp_path_factory.mktemp("pred") / "ws")
    load_company_into(ws.engine, generate_company(n_customers=3000, seed=5))
    run_value_stage(ws.engine, ws.settings.value, as_of=AS_OF)
    result = run_prediction_stage(ws.engine, ws.models_dir, AS_OF, 180)
    yield ws, result
    ws.close()


def test_every_kind_is_trained_promoted_and_documented(scored) -> None:  # type: ignore[no-untyped-def]
    ws, result = scored
    assert set(result["trained"]) == {"churn", "uplift", "recommend"}, result["skipped"]
    for kind in ("churn", "uplift", "recommend"):
        version = promoted_version(ws.models_dir, kind)
        assert version == result["trained"][kind]
        manifest = load_manifest(ws.models_dir, version)
        for key in ("training_window", "metrics", "data_fingerprint", "code_version", "created_at"):
            assert key in manifest, (kind, key)
        # artifacts are plain files: no pickle anywhere
        files = list(model_folder(ws.models_dir, version).rglob("*"))
        assert files and not any(f.suffix in (".pkl", ".pickle", ".joblib") for f in files)
    churn = load_manifest(ws.models_dir, result["trained"]["churn"])
    assert churn["metrics"]["roc_auc"] > 0.6  # out of time, on the next window
    assert "features" in churn and churn["features"]["columns"]
    rec = load_manifest(ws.models_dir, result["trained"]["recommend"])
    assert rec["metrics"][rec["method"]]["recall"] > rec["metrics"]["popularity"]["recall"]


def test_scores_land_on_profiles_with_versions(scored) -> None:  # type: ignore[no-untyped-def]
    ws, result = scored
    rows = ws.engine.fetch_arrow("SELECT * FROM customer_360 WHERE orders > 0").to_pandas()
    assert rows["churn_propensity"].between(0, 1).all()
    top = rows["top_products"].map(json.loads)
    assert (top.map(len) == 10).all()
    versions = rows["score_versions"].map(json.loads)
    assert (versions.map(lambda v: v["churn"]) == result["trained"]["churn"]).all()
    uplift = rows["uplift"].map(json.loads)
    assert (uplift.map(lambda u: "CMP-WINBACK-01" in u)).all()
    # churn propensity agrees with what the value model expects of each customer
    assert spearmanr(rows["churn_propensity"], rows["expected_purchases"]).statistic < -0.3


def test_uplift_ranking_agrees_with_planted_truth(scored) -> None:  # type: ignore[no-untyped-def]
    ws, _ = scored
    df = ws.engine.fetch_arrow(
        "SELECT t.true_uplift, CAST(json_extract(p.uplift, '$.\"CMP-WINBACK-01\"') AS DOUBLE) AS predicted "
        "FROM truth_campaign AS t JOIN profiles AS p USING (customer_id)"
    ).to_pandas()
    # ~800 customers in the campaign: the learned ranking is weak but real (0.2 at 12,000
    # customers, see docs/models.md), so the test asks for a significant positive agreement.
    result = spearmanr(df["predicted"], df["true_uplift"])
    assert result.statistic > 0.05 and result.pvalue < 0.01, result


def test_new_version_is_listed_but_not_promoted_unless_asked(scored) -> None:  # type: ignore[no-untyped-def]
    ws, result = scored
    version = train_churn(ws.engine, ws.models_dir, AS_OF, 180, n_estimators=50)
    assert promoted_version(ws.models_dir, "churn") == result["trained"]["churn"]
    listed = {m["version"]: m for m in list_models(ws.models_dir, "churn")}
    assert version in listed and not listed[version]["promoted"]
    assert campaigns_with_assignments(ws.engine) == ["CMP-WINBACK-01"]
