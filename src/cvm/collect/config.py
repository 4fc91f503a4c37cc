"""Settings of the live side (collection, identity), read once from ``live.toml`` in the
workspace when present; every value has a default, so the file is optional.

```toml
[identity]
max_user_ids_per_identifier = 3   # seen with more distinct user ids → stops merging
default_phone_country = "US"      # country of phone numbers written without +CC

[collect]
flush_interval_seconds = 1.0      # loader period inside `cvm serve`
flush_batch_size = 20000          # intake rows per micro-batch
intake_retention_days = 7         # loaded intake rows kept this long (then the warehouse)
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cvm.core.errors import WorkspaceError

LIVE_FILE = "live.toml"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IdentitySettings(_Section):
    max_user_ids_per_identifier: int = Field(3, ge=1, le=1000)
    default_phone_country: str = Field("US", min_length=2, max_length=2)


class CollectSettings(_Section):
    flush_interval_seconds: float = Field(1.0, gt=0, le=3600)
    flush_batch_size: int = Field(20_000, ge=1, le=1_000_000)
    intake_retention_days: int = Field(7, ge=0, le=3650)


class LiveSettings(_Section):
    identity: IdentitySettings = Field(default_factory=lambda: IdentitySettings())
    collect: CollectSettings = Field(default_factory=lambda: CollectSettings())


def load_live_settings(root: Path) -> LiveSettings:
    path = root / LIVE_FILE
    if not path.is_file():
        return LiveSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return LiveSettings.model_validate(data)
    except tomllib.TOMLDecodeError as err:
        raise WorkspaceError(f"{path}: not valid TOML ({err})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WorkspaceError(f"{path}: setting '{where}': {first['msg']}") from None
