"""Demo companies shared by the demo tests (generated once per session: they are pure data)."""

from __future__ import annotations

from datetime import date

import pytest

from cvm.demo import Company, DemoConfig, generate_company

START, END = date(2022, 1, 1), date(2025, 1, 1)


@pytest.fixture(scope="session")
def small_company() -> Company:
    """A few thousand customers in several chunks (so chunk boundaries are exercised)."""
    return generate_company(3000, seed=11, start=START, end=END, config=DemoConfig(chunk_size=1000))


@pytest.fixture(scope="session")
def large_company() -> Company:
    """Enough customers for sampling error small enough to check the planted truth."""
    return generate_company(60_000, seed=2024, start=START, end=END)
