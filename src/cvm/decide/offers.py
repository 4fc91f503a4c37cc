"""The offer catalogue: what can be offered, to whom, on which channels, at what cost and value.

Offers are written in YAML (one file or a folder of files; a file holds one offer, a list, or
``offers: [...]``), validated into `Offer` models and stored in the warehouse table `offers`
(the full definition as JSON). Every validation error names the file, the offer and the field::

    offers/winback.yaml: offers[1] (id 'winback_sms'): channels.sms: cost must be ≥ 0

The eligibility rule is a segment rule tree (`cvm.segments.definition`), validated and later
compiled by the segments' own compiler: decisioning has no rule language of its own.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from cvm.core.errors import UserInputError
from cvm.decide.contact_policy import CHANNELS
from cvm.segments.definition import Node, read_document
from cvm.segments.validate import SegmentValidationError, parse_definition

OFFER_ID = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$"
Outcome = Literal["purchase", "retention", "activation"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Incentive(_Model):
    """What a redemption costs (a voucher's face value × margin, a free month, …)."""

    cost: float = Field(0.0, ge=0)
    redemption_probability: float = Field(0.0, ge=0, le=1)


class FixedValue(_Model):
    """Each incremental outcome is worth ``amount`` (e.g. a subscription's first-year margin)."""

    kind: Literal["fixed"] = "fixed"
    amount: float = Field(ge=0)


class OrderValue(_Model):
    """margin × expected order value (the profile's ``avg_order_value``, else ``order_value``)."""

    kind: Literal["order"] = "order"
    margin: float = Field(gt=0, le=1)
    order_value: float | None = Field(None, ge=0)
    use_profile: bool = True


class ClvValue(_Model):
    """margin × fraction × CLV: the share of the customer's lifetime value an outcome adds or
    saves (retention: the CLV kept when a would-be churner stays). Profile CLV is already a
    margin, so ``margin`` defaults to 1."""

    kind: Literal["clv"] = "clv"
    margin: float = Field(1.0, gt=0, le=1)
    fraction: float = Field(1.0, gt=0, le=1)
    default_clv: float = Field(0.0, ge=0)


ValueModel = Annotated[FixedValue | OrderValue | ClvValue, Field(discriminator="kind")]


class UpliftSource(_Model):
    """Where the uplift comes from: ``profiles.uplift[model]``, else the prior rate."""

    model: str | None = None
    prior: float = Field(0.0, ge=-1, le=1)
    prior_strength: float = Field(20.0, gt=0)
    relative_error: float = Field(0.25, ge=0, le=5)


class Volume(_Model):
    min: int = Field(0, ge=0)
    max: int | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Volume:
        if self.max is not None and self.min > self.max:
            raise ValueError(f"volume.min ({self.min}) exceeds volume.max ({self.max})")
        return self


def _channel_costs(value: object) -> object:
    """``{sms: 0.05}`` and ``{sms: {cost: 0.05}}`` both read as a cost per message."""
    if isinstance(value, list):
        return {str(c): 0.0 for c in value}
    if isinstance(value, dict):
        return {k: (v.get("cost", 0.0) if isinstance(v, dict) else v) for k, v in value.items()}
    return value


class Offer(_Model):
    id: str = Field(pattern=OFFER_ID)
    name: str = Field(min_length=1)
    description: str = ""
    outcome: Outcome
    purpose: Literal["marketing", "service"] = "marketing"
    eligibility: Node | None = None
    channels: dict[str, float] = Field(min_length=1)
    incentive: Incentive = Field(default_factory=lambda: Incentive())
    value: ValueModel
    priority: float = Field(1.0, gt=0, le=100)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    volume: Volume = Field(default_factory=lambda: Volume())
    uplift: UpliftSource = Field(default_factory=lambda: UpliftSource())
    control_share: float | None = Field(None, ge=0, lt=1)
    control_salt: str = ""
    contexts: list[str] = Field(default_factory=list)

    _costs = field_validator("channels", mode="before")(_channel_costs)

    @field_validator("channels")
    @classmethod
    def _known_channels(cls, value: dict[str, float]) -> dict[str, float]:
        for name, cost in value.items():
            if name not in CHANNELS:
                raise ValueError(f"unknown channel {name!r}; choose from {', '.join(CHANNELS)}")
            if cost < 0:
                raise ValueError(f"{name}: cost must be ≥ 0")
        return value

    @model_validator(mode="after")
    def _dates(self) -> Offer:
        if self.valid_from and self.valid_to and self.valid_from > self.valid_to:
            raise ValueError(f"valid_from {self.valid_from} is after valid_to {self.valid_to}")
        return self

    @property
    def uplift_key(self) -> str:
        return self.uplift.model or self.id

    def is_valid_on(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )

    def to_json_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


def _rule_issues(tree: object) -> list[str]:
    """Structural problems of an eligibility tree, worded by the segments' validator."""
    try:
        parse_definition({"name": "eligibility", "rule": tree})
    except SegmentValidationError as err:
        return [f"eligibility{i.path.removeprefix('rule')}: {i.message}" for i in err.issues]
    return []


def parse_offer(data: object, where: str) -> Offer:
    """One offer from plain data; every problem is named ``where: field: message``."""
    if not isinstance(data, dict):
        raise UserInputError(f"{where}: expected a mapping with id, name, channels, value, …")
    label = f"{where} (id {data['id']!r})" if isinstance(data.get("id"), str) else where
    problems = _rule_issues(data["eligibility"]) if data.get("eligibility") is not None else []
    try:
        offer = Offer.model_validate(data)
    except ValidationError as err:
        for e in err.errors():
            loc = ".".join(str(p) for p in e["loc"])
            if loc.startswith("eligibility") and problems:
                continue  # already worded by the segment validator
            msg = str(e["msg"]).removeprefix("Value error, ")
            problems.append(f"{loc or '(offer)'}: {msg}")
        raise UserInputError("\n".join(f"{label}: {p}" for p in problems)) from None
    if problems:
        raise UserInputError("\n".join(f"{label}: {p}" for p in problems))
    return offer


def _documents(path: Path) -> list[Path]:
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".yaml", ".yml", ".json"))
        if not files:
            raise UserInputError(f"{path}: no .yaml, .yml or .json offer files in the folder")
        return files
    if not path.is_file():
        raise UserInputError(f"{path}: no such file or folder")
    return [path]


def offers_in_document(data: object) -> list[tuple[str, object]]:
    """(label, raw offer) for each offer in one parsed document."""
    if isinstance(data, dict) and "offers" in data:
        data = data["offers"]
        prefix = "offers"
    else:
        prefix = ""
    if isinstance(data, list):
        return [(f"{prefix or 'offers'}[{i}]", item) for i, item in enumerate(data)]
    return [("offer", data)]


def parse_offers(items: Iterable[tuple[str, object]]) -> list[Offer]:
    """Validate many offers, reporting every invalid one and every duplicate id at once."""
    offers: list[Offer] = []
    problems: list[str] = []
    seen: dict[str, str] = {}
    for where, raw in items:
        try:
            offer = parse_offer(raw, where)
        except UserInputError as err:
            problems.append(err.message)
            continue
        if offer.id in seen:
            problems.append(f"{where}: duplicate offer id {offer.id!r} (first in {seen[offer.id]})")
            continue
        seen[offer.id] = where
        offers.append(offer)
    if problems:
        raise UserInputError("\n".join(problems))
    return offers


def read_offers(path: Path) -> list[Offer]:
    """Every offer of a YAML/JSON file or of all files in a folder (sorted by path)."""
    items: list[tuple[str, object]] = []
    for file in _documents(path):
        try:
            data = read_document(file.read_text(encoding="utf-8"))
        except UserInputError as err:
            raise UserInputError(f"{file}: {err.message}") from None
        items += [(f"{file}: {label}", raw) for label, raw in offers_in_document(data)]
    return parse_offers(items)


def offers_from_json(rows: Sequence[tuple[object, ...]]) -> list[Offer]:
    """Stored definitions (JSON text) back to models."""
    return [Offer.model_validate(json.loads(str(text))) for (text,) in rows]


def active_offers(offers: Sequence[Offer], day: dt.date) -> list[Offer]:
    """Offers valid on ``day``, sorted by id (the order every solver sees)."""
    return sorted((o for o in offers if o.is_valid_on(day)), key=lambda o: o.id)
