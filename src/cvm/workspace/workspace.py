"""A workspace: one folder holding `cvm.toml`, the warehouse and the state store.

`cvm init DIR` creates one; every command finds it through `--workspace`, then the
`CVM_WORKSPACE` environment variable, then the current directory.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from cvm.core.errors import WorkspaceError
from cvm.workspace.settings import Settings

if TYPE_CHECKING:  # the engine (sqlglot, pyarrow) loads on first use, not with the CLI
    import sqlalchemy

    from cvm.engine.base import Engine

CONFIG_FILE = "cvm.toml"


@dataclass
class Workspace:
    root: Path
    settings: Settings
    _closers: list[object] = field(default_factory=list, repr=False)

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_FILE

    @property
    def reports_dir(self) -> Path:
        return self._subdir("reports")

    @property
    def models_dir(self) -> Path:
        return self._subdir("models")

    @property
    def runs_dir(self) -> Path:
        return self._subdir("runs")

    def _subdir(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(exist_ok=True)
        return path

    @cached_property
    def engine(self) -> Engine:
        """The warehouse engine, opened on first use."""
        from cvm.engine.factory import open_engine

        engine = open_engine(self.settings.warehouse, self.root)
        self._closers.append(engine)
        return engine

    @cached_property
    def state(self) -> sqlalchemy.Engine:
        """The operational store, migrated to the latest schema on first use."""
        from cvm.state.store import connect_state, resolve_url, upgrade_state

        engine = connect_state(resolve_url(self.settings.state.url, self.root))
        upgrade_state(engine)
        return engine

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.close()
            del self.__dict__["engine"]
        if "state" in self.__dict__:
            self.state.dispose()
            del self.__dict__["state"]

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def init_workspace(
    directory: Path, *, name: str | None = None, state_url: str | None = None, force: bool = False
) -> Workspace:
    """Create a workspace in `directory` (created if needed) and its stores."""
    directory = directory.resolve()
    config = directory / CONFIG_FILE
    if config.exists() and not force:
        raise WorkspaceError(
            f"{directory} is already a cvm workspace ({CONFIG_FILE} exists); use --force to reset it"
        )
    directory.mkdir(parents=True, exist_ok=True)
    if force:
        for stale in (
            "warehouse.duckdb",
            "warehouse.duckdb.wal",
            "state.sqlite",
            "state.sqlite-wal",
            "state.sqlite-shm",
        ):
            (directory / stale).unlink(missing_ok=True)
        # Models, run reports and HTML reports describe the old data: a reset drops them too,
        # so no model trained on the previous data stays promoted.
        for folder in ("models", "runs", "reports"):
            shutil.rmtree(directory / folder, ignore_errors=True)
    settings = Settings()
    settings.workspace.name = name or directory.name
    if state_url:
        settings.state.url = state_url
    settings.dump(config)
    ws = Workspace(directory, settings)
    from cvm.engine.warehouse import ensure_warehouse
    from cvm.profiles.views import ensure_profile_tables

    ensure_warehouse(ws.engine)
    ensure_profile_tables(ws.engine)
    _ = ws.state  # runs the migrations
    return ws


def find_workspace(directory: Path | None = None) -> Path:
    """Resolve the workspace folder from the argument, CVM_WORKSPACE, or the current directory."""
    candidate = directory or (
        Path(os.environ["CVM_WORKSPACE"]) if os.environ.get("CVM_WORKSPACE") else Path.cwd()
    )
    if not (candidate / CONFIG_FILE).is_file():
        raise WorkspaceError(
            f"{candidate.resolve()} is not a cvm workspace (no {CONFIG_FILE}); "
            "create one with `cvm init DIR` or point to one with --workspace / CVM_WORKSPACE"
        )
    return candidate.resolve()


def open_workspace(directory: Path | None = None) -> Workspace:
    root = find_workspace(directory)
    return Workspace(root, Settings.load(root / CONFIG_FILE))
