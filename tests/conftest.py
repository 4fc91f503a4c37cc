"""Shared fixtures. Real datasets live in ../shared/data; tests that need them skip with a
clear reason when the folder is absent (a user's fresh clone has no ../shared)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

# In CI, property tests draw the same examples every run (a failure reproduces exactly);
# locally they keep exploring new ones.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder of the real datasets (CDNOW, Hillstrom, Telco, ...), or skip."""
    if not SHARED_DATA.is_dir():
        pytest.skip(
            f"real datasets not found at {SHARED_DATA} (they live outside the repo in ../shared/data)"
        )
    return SHARED_DATA


def shared_file(name: str) -> Path:
    """One real dataset file, or skip with the reason."""
    path = SHARED_DATA / name
    if not path.is_file():
        pytest.skip(
            f"real dataset {name} not found at {path} (it lives outside the repo in ../shared/data)"
        )
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[object]:
    """A fresh, empty workspace in a temporary folder."""
    from cvm.workspace import init_workspace

    ws = init_workspace(tmp_path / "ws")
    try:
        yield ws
    finally:
        ws.close()


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """URL of a throwaway PostgreSQL cluster (one per test session), or skip with the reason."""
    from tests.postgres_cluster import find_pg_bin, throwaway_cluster

    if find_pg_bin() is None:
        pytest.skip("PostgreSQL binaries (initdb, pg_ctl) are not installed on this machine")
    with throwaway_cluster() as url:
        yield url


@pytest.fixture
def fresh_postgres_db(postgres_url: str) -> str:
    """A new empty database in the session's cluster, for tests that need isolation."""
    import uuid

    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres_url.rsplit("/", 1)[0] + "/" + name
