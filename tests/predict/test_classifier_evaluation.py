"""evaluate_classifier: hand-checked small case, reference values, JSON output."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.calibration import calibration_curve
from sklearn.metrics import log_loss, roc_auc_score

from cvm.predict.evaluation import evaluate_classifier
from cvm.predict.tabular import TabularInputError


def test_small_case_by_hand() -> None:
    y = np.array([1, 0, 1, 0, 0, 0, 1, 0, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.15, 0.1])
    report = evaluate_classifier(y, p, n_bins=5)
    # 3 positives x 7 negatives = 21 pairs; positive ranked above negative in 7 + 6 + 3 = 16
    assert report.roc_auc == pytest.approx(16 / 21)
    # AP = mean of precision at each positive: (1/1 + 2/3 + 3/7) / 3
    assert report.pr_auc == pytest.approx((1 + 2 / 3 + 3 / 7) / 3)
    assert report.brier == pytest.approx(np.mean((p - y) ** 2))
    assert report.log_loss == pytest.approx(log_loss(y, p))
    first = report.deciles[0]  # top 2 rows: one positive
    assert (first.n, first.positives, first.rate, first.lift) == (
        2,
        1,
        0.5,
        pytest.approx(0.5 / 0.3),
    )
    assert first.capture == pytest.approx(1 / 3)
    assert report.deciles[-1].cum_capture == pytest.approx(1.0)
    assert report.base_rate == pytest.approx(0.3)


def test_calibration_bins_agree_with_sklearn() -> None:
    rng = np.random.default_rng(0)
    p = rng.random(5000)
    y = (rng.random(5000) < p).astype(int)
    report = evaluate_classifier(y, p)
    observed, predicted = calibration_curve(y, p, n_bins=10, strategy="uniform")
    np.testing.assert_allclose([b.observed for b in report.calibration], observed)
    np.testing.assert_allclose([b.mean_predicted for b in report.calibration], predicted)
    assert report.roc_auc == pytest.approx(roc_auc_score(y, p))
    assert report.ece < 0.03  # calibrated by construction
    assert sum(b.n for b in report.calibration) == 5000
    quantile = evaluate_classifier(y, p, calibration_strategy="quantile")
    assert [b.n for b in quantile.calibration] == [500] * 10


def test_to_dict_is_plain_json_and_bad_input_is_refused() -> None:
    rng = np.random.default_rng(1)
    p = rng.random(300)
    y = np.where(rng.random(300) < p, "Yes", "No")
    data = evaluate_classifier(y, p, pos_label="Yes").to_dict()
    again = json.loads(json.dumps(data))
    assert again["deciles"][0]["decile"] == 1 and len(again["deciles"]) == 10
    assert set(again) >= {"roc_auc", "pr_auc", "brier", "log_loss", "calibration", "ece"}
    with pytest.raises(TabularInputError, match="both classes"):
        evaluate_classifier(np.zeros(10), np.full(10, 0.5))
    with pytest.raises(TabularInputError, match=r"\[0, 1\]"):
        evaluate_classifier([0, 1], [0.2, 1.5])
