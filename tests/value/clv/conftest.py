"""Real datasets of the CLV literature, and lifetimes as a reference implementation."""

from __future__ import annotations

from types import ModuleType

import pandas as pd
import pytest

from tests.conftest import shared_file


@pytest.fixture(scope="session")
def cdnow() -> pd.DataFrame:
    """CDNOW 1/10 sample, weeks 1-39 calibration summary (2,357 customers): FHL 2005."""
    return pd.read_csv(shared_file("cdnow_customers_summary.csv"))


@pytest.fixture(scope="session")
def cdnow_spend() -> pd.DataFrame:
    """The same customers with their mean repeat-purchase spend (Gamma-Gamma input)."""
    data = pd.read_csv(shared_file("cdnow_customers_summary_with_transactions.csv"))
    return data.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


@pytest.fixture(scope="session")
def donations() -> pd.DataFrame:
    """FHS 2010 donation data: 22 (frequency, recency) patterns over 6 opportunities, weighted."""
    return pd.read_csv(shared_file("donations.csv")).rename(columns={"periods": "T"})


@pytest.fixture(scope="session")
def retention() -> pd.DataFrame:
    """FH 2007 survivor counts expanded to one row per customer, two cohorts."""
    return pd.read_csv(shared_file("sbg_fader_hardie_2007_regular_highend.csv"))


@pytest.fixture(scope="session")
def lifetimes() -> ModuleType:
    """lifetimes 0.11.3, the reference implementation (a dev dependency)."""
    return pytest.importorskip("lifetimes")
