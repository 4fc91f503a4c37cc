"""Acquisition economics on a hand-built warehouse (tests/acquisition/tiny.py has the sums)."""

from __future__ import annotations

import pytest

from cvm.acquisition import summarize_acquisition
from cvm.core.errors import UserInputError
from cvm.workspace import Workspace
from tests.acquisition.tiny import AS_OF, MARGIN_RATE, load_tiny


def _rows(rows: list[dict[str, object]], **key: object) -> dict[str, object]:
    found = [r for r in rows if all(r[k] == v for k, v in key.items())]
    assert len(found) == 1, key
    return found[0]


@pytest.fixture
def tiny(workspace: Workspace) -> Workspace:
    load_tiny(workspace.engine)
    return workspace


def test_cohort_cac_value_and_payback_match_the_hand_computation(tiny: Workspace) -> None:
    s = summarize_acquisition(tiny.engine, tiny.settings, as_of=AS_OF, margin_rate=MARGIN_RATE)
    jan = _rows(s.cohorts, channel="search", cohort="2024-01")
    assert jan["new_customers"] == 2 and jan["spend"] == 100
    assert jan["cac"] == pytest.approx(50.0)
    assert jan["realised_value"] == pytest.approx(50.0)
    assert jan["predicted_clv"] == pytest.approx(70.0)
    assert jan["clv_cac"] == pytest.approx(1.4)
    assert jan["payback_months"] == 3  # cumulative margin lands exactly on CAC in month 3
    assert jan["payback"] == "month 3"

    feb = _rows(s.cohorts, channel="search", cohort="2024-02")
    assert feb["cac"] == pytest.approx(60.0)
    assert feb["realised_value"] == pytest.approx(40.0)  # the April purchase is after as_of
    assert feb["clv_cac"] == pytest.approx(80 / 60)
    assert feb["payback_months"] is None
    assert feb["projected_payback_months"] == 8
    assert feb["payback"] == "not yet (projected month 8)"

    mar = _rows(s.cohorts, channel="search", cohort="2024-03")
    assert mar["cac"] is None and mar["payback"] == "no customers"


def test_channel_totals_are_spend_weighted_and_pool_the_cohorts(tiny: Workspace) -> None:
    s = summarize_acquisition(tiny.engine, tiny.settings, as_of=AS_OF, margin_rate=MARGIN_RATE)
    search = _rows(s.channels, channel="search")
    assert search["spend"] == 210 and search["new_customers"] == 3
    assert search["cac"] == pytest.approx(70.0)
    # (100 + 40 realised + 80 residual) / 210 spend: the spend-weighted mean of cohort ratios.
    assert search["clv_cac"] == pytest.approx(220 / 210)
    # Pooled curve 18.33, 40, 50 < 70: not yet; 26.67 residual over 12 months → 9 more.
    assert search["payback_months"] is None
    assert search["projected_payback_months"] == 12


def test_zero_spend_channels_are_unpaid_not_infinite(tiny: Workspace) -> None:
    s = summarize_acquisition(tiny.engine, tiny.settings, as_of=AS_OF, margin_rate=MARGIN_RATE)
    organic = _rows(s.channels, channel="organic")
    assert organic["paid"] is False
    assert organic["clv_cac"] is None and organic["payback"] == "no spend"
    assert organic["realised_value"] == pytest.approx(50.0)
    t = s.totals
    assert t["spend"] == 240 and t["new_customers"] == 4
    assert t["blended_cac"] == pytest.approx(60.0)  # organic customers dilute blended CAC
    assert t["paid_cac"] == pytest.approx(80.0)  # search + tiktok spend over 3 search customers
    assert t["unpaid_new_customers"] == 1
    assert t["paid_clv_cac"] == pytest.approx((140 + 80) / 240)


def test_coverage_problems_are_warnings_naming_the_channel(tiny: Workspace) -> None:
    s = summarize_acquisition(tiny.engine, tiny.settings, as_of=AS_OF, margin_rate=MARGIN_RATE)
    text = "\n".join(s.warnings)
    assert "'tiktok': spend 30.00" in text and "no customer acquired" in text
    assert "'organic': 1 customers but no spend" in text
    assert "'search': spend in 1 month(s) without a new customer (2024-03)" in text
    assert "1 customers have no signup_date" in text
    assert "signed up in" not in text  # every search cohort with customers had spend


def test_customers_in_a_month_without_spend_are_a_warning(tiny: Workspace) -> None:
    tiny.engine.execute("DELETE FROM marketing_spend WHERE month = DATE '2024-02-01'")
    s = summarize_acquisition(tiny.engine, tiny.settings, as_of=AS_OF, margin_rate=MARGIN_RATE)
    assert (
        "channel 'search': 1 customers signed up in 1 month(s) without spend (2024-02)"
        in "\n".join(s.warnings)
    )
    feb = _rows(s.cohorts, channel="search", cohort="2024-02")
    assert feb["payback"] == "no spend" and feb["clv_cac"] is None
    # The channel still spends: its total CAC counts those customers.
    assert _rows(s.channels, channel="search")["cac"] == pytest.approx(150 / 3)
    assert s.margin_basis.startswith("revenue × margin rate 50%")


def test_product_margins_are_used_when_products_carry_them(tiny: Workspace) -> None:
    tiny.engine.execute("INSERT INTO products (product_id, margin) VALUES ('p1', 0.25)")
    tiny.engine.execute("UPDATE transactions SET product_id = 'p1' WHERE customer_id = 's3'")
    s = summarize_acquisition(tiny.engine, tiny.settings, as_of=AS_OF, margin_rate=MARGIN_RATE)
    feb = _rows(s.cohorts, channel="search", cohort="2024-02")
    assert feb["realised_value"] == pytest.approx(80 * 0.25)
    assert "products.margin for" in s.margin_basis and "rate 50% for the rest" in s.margin_basis


def test_default_margin_rate_is_the_workspace_value_margin(tiny: Workspace) -> None:
    s = summarize_acquisition(tiny.engine, tiny.settings, as_of=AS_OF)
    assert s.margin_rate == tiny.settings.value.margin == 0.3
    jan = _rows(s.cohorts, channel="search", cohort="2024-01")
    assert jan["realised_value"] == pytest.approx(200 * 0.3 / 2)


def test_spend_in_another_currency_fails_naming_the_rows(workspace: Workspace) -> None:
    load_tiny(workspace.engine, spend_currency="EUR")
    with pytest.raises(UserInputError) as err:
        summarize_acquisition(workspace.engine, workspace.settings, as_of=AS_OF)
    message = err.value.message
    assert message.startswith("marketing_spend: 4 row(s) not in the workspace currency USD")
    assert "month 2024-01-01 channel 'search' currency 'EUR'" in message


def test_transactions_in_another_currency_fail_naming_the_lines(tiny: Workspace) -> None:
    tiny.engine.execute("UPDATE transactions SET currency = 'GBP' WHERE transaction_id = 't3'")
    with pytest.raises(UserInputError, match="transaction 't3' line '1' currency 'GBP'"):
        summarize_acquisition(tiny.engine, tiny.settings, as_of=AS_OF)


def test_no_spend_loaded_is_a_clear_error(workspace: Workspace) -> None:
    with pytest.raises(UserInputError, match="no marketing spend in the warehouse"):
        summarize_acquisition(workspace.engine, workspace.settings)
    # A warehouse from before the marketing_spend contract has no such table at all.
    workspace.engine.execute("DROP TABLE marketing_spend")
    with pytest.raises(UserInputError, match="cvm ingest marketing_spend FILE"):
        summarize_acquisition(workspace.engine, workspace.settings)
