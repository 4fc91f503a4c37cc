"""Campaign settings of a workspace, read once from ``campaigns.toml`` (optional: every value
has a default). Provider sections are those of `cvm.channels.registry.ChannelsConfig`.

```toml
[tracking]
base_url = "https://cvm.example.com"   # where /t/… and /u/… are served (the API)
unsubscribe_mailto = "unsubscribe@example.com"

[launch]
render_processes = 2     # forked processes rendering a big launch (from parallel_from messages)
parallel_from = 20000

[dispatch]
batch_size = 50          # messages claimed (and committed) together by a worker
lease_seconds = 120      # a claim not completed by then is taken over (crash recovery)
max_attempts = 8         # temporary errors retried this often, then dead-lettered
backoff_seconds = 30     # first retry delay; doubles each attempt (with jitter)
backoff_max_seconds = 3600
poll_seconds = 0.25      # idle wait between claims

[email]                  # SMTP; password_env names an environment variable
host = "smtp.example.com"
port = 587
security = "starttls"
username = "cvm"
password_env = "SMTP_PASSWORD"
from_address = "news@example.com"
rate_per_second = 200
```
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cvm.channels.registry import ChannelsConfig
from cvm.core.errors import WorkspaceError

CAMPAIGNS_FILE = "campaigns.toml"


class TrackingSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_url: str = "http://127.0.0.1:8000"
    unsubscribe_mailto: str | None = None


class DispatchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    batch_size: int = Field(50, ge=1, le=5000)
    lease_seconds: float = Field(120.0, gt=0)
    max_attempts: int = Field(8, ge=1, le=100)
    backoff_seconds: float = Field(30.0, ge=0)
    backoff_max_seconds: float = Field(3600.0, ge=0)
    poll_seconds: float = Field(0.25, gt=0, le=60)


class LaunchSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    render_processes: int = Field(2, ge=1, le=64)
    parallel_from: int = Field(20_000, ge=1, description="Use processes from this many messages.")


class CampaignSettings(ChannelsConfig):
    model_config = ConfigDict(extra="forbid")
    launch: LaunchSettings = Field(default_factory=lambda: LaunchSettings())
    tracking: TrackingSettings = Field(default_factory=lambda: TrackingSettings())
    dispatch: DispatchSettings = Field(default_factory=lambda: DispatchSettings())


def load_campaign_settings(root: Path) -> CampaignSettings:
    path = root / CAMPAIGNS_FILE
    if not path.is_file():
        return CampaignSettings()
    try:
        return CampaignSettings.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except tomllib.TOMLDecodeError as err:
        raise WorkspaceError(f"{path}: not valid TOML ({err})") from None
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise WorkspaceError(f"{path}: setting '{where}': {first['msg']}") from None
