"""The rewards catalogue file (`cvm loyalty rewards load FILE`), validated by pydantic.

An invalid file is one sentence naming the file, the reward (by position and id) and the key,
never a traceback. Example::

    rewards:
      - id: coffee
        name: Free coffee
        points: 300                # points cost
      - id: mug
        name: Branded mug
        points: 1200
        stock: 50                  # total units; omit for unlimited
        valid_from: 2024-01-01     # a date (midnight) or a date-time
        valid_to: 2024-12-31       # inclusive: a date means until the end of that day
        tier: gold                 # only members at this tier or above
      - {id: old-bag, name: Tote bag, points: 800, active: false}   # withdrawn

Reloading a file updates rewards by id; stock is the total ever issued, so the remaining stock
is that total minus what has already been redeemed (see `cvm.state.loyalty_rewards`).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from cvm.core.errors import UserInputError
from cvm.core.yaml_files import read_yaml
from cvm.state.loyalty_rewards import Reward

RewardId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^\S+$")
]


class RewardEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: RewardId
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    points: Annotated[int, Field(gt=0)]
    stock: Annotated[int, Field(ge=0)] | None = None
    valid_from: dt.datetime | dt.date | None = None
    valid_to: dt.datetime | dt.date | None = None
    tier: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    active: bool = True


class CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rewards: list[RewardEntry]


def _moment(value: dt.datetime | dt.date | None, end_of_day: bool) -> dt.datetime | None:
    if value is None or isinstance(value, dt.datetime):
        return value.replace(tzinfo=None) if value is not None else None
    midnight = dt.datetime.combine(value, dt.time())
    return midnight + dt.timedelta(days=1, microseconds=-1) if end_of_day else midnight


def parse_catalogue(data: object, origin: str) -> list[Reward]:
    """The rewards in `data` (a parsed YAML document); UserInputError naming what is wrong."""
    try:
        parsed = CatalogueFile.model_validate(data)
    except ValidationError as err:
        first = next((e for e in err.errors() if e["type"] == "extra_forbidden"), err.errors()[0])
        loc = list(first["loc"])
        where = "top level"
        if len(loc) >= 2 and loc[0] == "rewards" and isinstance(loc[1], int):
            position = loc[1]
            items = data.get("rewards") if isinstance(data, dict) else None
            item = items[position] if isinstance(items, list) else None
            rid = item.get("id") if isinstance(item, dict) else None
            where = f"reward {position + 1}" + (f" ({rid})" if rid else "")
            if len(loc) > 2:
                where += f", key '{'.'.join(str(p) for p in loc[2:])}'"
        elif loc:
            where = f"key '{'.'.join(str(p) for p in loc)}'"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise UserInputError(f"{origin}: {where}: {message}") from None
    seen: set[str] = set()
    rewards = []
    for i, entry in enumerate(parsed.rewards, start=1):
        if entry.id in seen:
            raise UserInputError(f"{origin}: reward {i} ({entry.id}): id used twice")
        seen.add(entry.id)
        start, end = _moment(entry.valid_from, False), _moment(entry.valid_to, True)
        if start is not None and end is not None and end < start:
            raise UserInputError(
                f"{origin}: reward {i} ({entry.id}): valid_to is before valid_from"
            )
        rewards.append(
            Reward(
                entry.id,
                entry.name,
                entry.points,
                entry.stock,
                start,
                end,
                entry.tier,
                entry.active,
            )
        )
    return rewards


def load_catalogue(path: Path) -> list[Reward]:
    """Read and validate a catalogue file."""
    return parse_catalogue(read_yaml(path), str(path))
