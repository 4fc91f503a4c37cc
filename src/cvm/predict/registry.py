"""A file-based model registry in the workspace's `models/` folder.

Each trained model is a folder ``models/<kind>/<version>/`` holding its artifacts (LightGBM
text, JSON, .npy — never pickle) and ``manifest.json``: version, training window, features,
metrics, a fingerprint of the data it saw and the code version. ``models/<kind>/PROMOTED``
names the version that scores. Plain files, so a model can be reviewed, diffed and copied.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cvm import __version__
from cvm.core.errors import NotFoundError, UserInputError

KINDS = ("churn", "uplift", "recommend")
PROMOTED = "PROMOTED"


def code_version() -> str:
    """cvm's version plus the git commit when running from a checkout."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            cwd=Path(__file__).parent,
            timeout=5,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        sha = ""
    return f"{__version__}+{sha}" if sha else __version__


def fingerprint(parts: dict[str, Any]) -> str:
    """A short stable hash of what describes the training data (row counts, time ranges)."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def register_model(
    models_dir: Path,
    kind: str,
    write: Callable[[Path], object],
    manifest: dict[str, Any],
    *,
    promote: bool = False,
) -> str:
    """Write a new version: artifacts via ``write(folder)``, then the manifest. Returns the version."""
    _check_kind(kind)
    version = f"{kind}-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    folder = models_dir / kind / version
    folder.mkdir(parents=True)
    write(folder)
    full = {
        "kind": kind,
        "version": version,
        "created_at": dt.datetime.now(dt.UTC).isoformat(),
        "code_version": code_version(),
        **manifest,
    }
    (folder / "manifest.json").write_text(json.dumps(full, indent=2, default=str))
    if promote or promoted_version(models_dir, kind) is None:
        promote_model(models_dir, version)
    return version


def list_models(models_dir: Path, kind: str | None = None) -> list[dict[str, Any]]:
    """Every registered version (newest first) with its headline facts."""
    out = []
    for k in [kind] if kind else KINDS:
        promoted = promoted_version(models_dir, k)
        for manifest_path in sorted((models_dir / k).glob("*/manifest.json"), reverse=True):
            m = json.loads(manifest_path.read_text())
            out.append(
                {
                    "version": m["version"],
                    "kind": k,
                    "created_at": m["created_at"],
                    "promoted": m["version"] == promoted,
                    "headline": m.get("headline", {}),
                }
            )
    return out


def load_manifest(models_dir: Path, version: str) -> dict[str, Any]:
    return json.loads((model_folder(models_dir, version) / "manifest.json").read_text())  # type: ignore[no-any-return]


def model_folder(models_dir: Path, version: str) -> Path:
    kind = version.split("-", 1)[0]
    folder = models_dir / kind / version
    if kind not in KINDS or not (folder / "manifest.json").is_file():
        raise NotFoundError(f"no model version {version!r} (see `cvm models list`)")
    return folder


def promote_model(models_dir: Path, version: str) -> None:
    folder = model_folder(models_dir, version)
    (folder.parent / PROMOTED).write_text(version + "\n")


def promoted_version(models_dir: Path, kind: str) -> str | None:
    marker = models_dir / kind / PROMOTED
    return marker.read_text().strip() if marker.is_file() else None


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise UserInputError(f"unknown model kind {kind!r}; choose one of {', '.join(KINDS)}")
