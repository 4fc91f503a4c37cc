"""The value stage on the demo company recovers the generator's ground truth."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from cvm.demo import generate_company, load_company_into
from cvm.value.clv import BetaGeoModel
from cvm.value.stage import run_value_stage
from cvm.workspace import init_workspace


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    ws = init_workspace(tmp_path_factory.mktemp("demo") / "ws")
    company = generate_company(n_customers=6000, seed=7)
    load_company_into(ws.engine, company)
    as_of = dt.date(2024, 12, 31)  # the generator's observation end (exclusive 2025-01-01)
    run = run_value_stage(ws.engine, ws.settings.value, as_of=as_of)
    df = ws.engine.fetch_arrow(
        "SELECT p.*, t.expected_purchases_future, t.expected_spend_future, t.alive_at_end "
        "FROM profiles AS p JOIN truth_customers AS t USING (customer_id) WHERE p.orders > 0"
    ).to_pandas()
    truth = company.truth_params if hasattr(company, "truth_params") else None
    yield run, df, truth
    ws.close()


def test_bgnbd_parameters_close_to_ground_truth(demo_run) -> None:  # type: ignore[no-untyped-def]
    run, _, _ = demo_run
    p = run.purchase_model["params"]
    truth = {"r": 0.4, "alpha": 6.0, "a": 0.8, "b": 2.5}  # DemoConfig defaults (weekly)
    ci = run.purchase_model["confidence_intervals"]
    for name, value in truth.items():
        assert abs(p[name] / value - 1) < 0.25, (name, p[name], value)
        low, high = (
            ci[name] if isinstance(ci[name], list | tuple) else (ci[name]["low"], ci[name]["high"])
        )
        # the 95% interval is honest: wide enough to contain the truth or nearly so
        assert low * 0.9 <= value <= high * 1.1, (name, low, high, value)


def test_expected_purchases_match_truth_in_aggregate(demo_run) -> None:  # type: ignore[no-untyped-def]
    _, df, _ = demo_run
    # profiles horizon is 12 months = 52.18 weeks; the truth covers 52 weeks
    ratio = df["expected_purchases"].sum() / df["expected_purchases_future"].sum()
    assert 0.9 < ratio < 1.12, ratio


def test_clv_ranking_agrees_with_true_future_value(demo_run) -> None:  # type: ignore[no-untyped-def]
    _, df, _ = demo_run
    ours = spearmanr(df["clv"], df["expected_spend_future"]).statistic
    # The best any model can do from the same observations: the true parameters applied to
    # each customer's (frequency, recency, T) — the unobservable latent rates are not known.
    oracle = BetaGeoModel.from_params({"r": 0.4, "alpha": 6.0, "a": 0.8, "b": 2.5})
    oracle_purchases = oracle.expected_purchases(
        df[["frequency", "recency", "tenure"]].rename(columns={"tenure": "T"}), 52.0
    )
    oracle_rho = spearmanr(
        np.asarray(oracle_purchases)
        * df["monetary_value"].where(df["frequency"] > 0, df["revenue"].astype(float)),
        df["expected_spend_future"],
    ).statistic
    assert ours > 0.4, ours
    assert ours > 0.9 * oracle_rho, (ours, oracle_rho)
    # P(alive) separates customers who are truly alive from those who are not
    auc = pd.Series(df["p_alive"]).rank().loc[df["alive_at_end"]].mean()
    assert (
        df.loc[df["alive_at_end"], "p_alive"].mean()
        > df.loc[~df["alive_at_end"], "p_alive"].mean() + 0.2
    ), auc
