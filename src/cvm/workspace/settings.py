"""Typed workspace settings, read once from `cvm.toml` (never at import time)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Literal

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cvm.core.errors import WorkspaceError


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkspaceSection(_Section):
    name: str = "cvm"
    currency: str = "USD"
    timezone: str = "UTC"


class WarehouseSection(_Section):
    engine: Literal["duckdb", "spark"] = "duckdb"
    path: str = "warehouse.duckdb"
    memory_limit: str | None = None
    spark_master: str = "local[2]"
    lake_path: str = "lake"


class StateSection(_Section):
    # Relative sqlite paths resolve against the workspace folder.
    url: str = "sqlite:///state.sqlite"


class IngestSection(_Section):
    unknown_customer: Literal["create", "quarantine"] = "create"
    negative_quantity: Literal["return", "error"] = "return"


class ValueSection(_Section):
    purchase_model: Literal["bg_nbd", "pareto_nbd", "mbg_nbd"] = "bg_nbd"
    time_unit: Literal["day", "week", "month"] = "week"
    clv_horizon_months: int = Field(12, ge=1, le=120)
    annual_discount_rate: float = Field(0.10, ge=0, le=1)
    margin: float = Field(0.30, gt=0, le=1)
    penalizer: float = Field(0.0, ge=0)
    churn_window_days: int = Field(180, ge=1)
    value_tiers: list[float] = Field(default_factory=lambda: [0.01, 0.10, 0.50])


class ConsentSection(_Section):
    policy: Literal["opt_in", "opt_out"] = "opt_in"


class Settings(_Section):
    workspace: WorkspaceSection = Field(default_factory=lambda: WorkspaceSection())
    warehouse: WarehouseSection = Field(default_factory=lambda: WarehouseSection())
    state: StateSection = Field(default_factory=lambda: StateSection())
    ingest: IngestSection = Field(default_factory=lambda: IngestSection())
    value: ValueSection = Field(default_factory=lambda: ValueSection())
    consent: ConsentSection = Field(default_factory=lambda: ConsentSection())

    @classmethod
    def load(cls, path: Path) -> Settings:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise WorkspaceError(f"{path}: not valid TOML ({err})") from None
        try:
            return cls.model_validate(data)
        except ValidationError as err:
            first = err.errors()[0]
            where = ".".join(str(p) for p in first["loc"])
            raise WorkspaceError(f"{path}: setting '{where}': {first['msg']}") from None

    def dump(self, path: Path) -> None:
        path.write_text(tomli_w.dumps(self.model_dump(exclude_none=True)), encoding="utf-8")
