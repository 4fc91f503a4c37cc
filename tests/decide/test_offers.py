"""Offer catalogue: validation errors name file, offer and field; storage round-trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from cvm.core.errors import NotFoundError, UserInputError
from cvm.decide.offer_store import get_offer, load_offers, save_offers
from cvm.decide.offers import active_offers, read_offers
from tests.decide.conftest import DAY, OFFERS_YAML

GOOD = """
id: a
name: A
outcome: purchase
channels: {email: {cost: 0.01}, sms: 0.05}
value: {kind: fixed, amount: 10}
"""


def test_reads_single_list_and_folder(tmp_path: Path) -> None:
    (tmp_path / "one.yaml").write_text(GOOD)
    (tmp_path / "many.yaml").write_text(OFFERS_YAML)
    offers = read_offers(tmp_path)
    assert sorted(o.id for o in offers) == ["a", "crosssell", "vip", "winback"]
    a = next(o for o in offers if o.id == "a")
    assert a.channels == {"email": 0.01, "sms": 0.05}
    assert a.uplift_key == "a"


@pytest.mark.parametrize(
    ("patch", "expected"),
    [
        ("channels: {fax: 1}", "channels: Value error, unknown channel 'fax'"),
        ("channels: {email: -1}", "channels"),
        ("value: {kind: order, margin: 2}", "value.order.margin"),
        ("volume: {min: 5, max: 2}", "volume"),
        ("outcome: lunch", "outcome"),
        ("eligibility: {kind: profile, field: clv, op: bigger, value: 3}", "eligibility.op"),
        ("valid_from: 2025-02-01\nvalid_to: 2025-01-01", "valid_from 2025-02-01 is after valid_to"),
    ],
)
def test_errors_name_file_offer_and_field(tmp_path: Path, patch: str, expected: str) -> None:
    body = "\n".join(
        line for line in GOOD.strip().splitlines() if not line.startswith(patch.split(":")[0] + ":")
    )
    path = tmp_path / "bad.yaml"
    path.write_text(body + "\n" + patch + "\n")
    with pytest.raises(UserInputError) as err:
        read_offers(path)
    message = err.value.message
    assert str(path) in message and "(id 'a')" in message
    assert expected.replace("Value error, ", "") in message.replace("Value error, ", "")


def test_duplicate_ids_are_named_with_both_places(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(GOOD)
    (tmp_path / "b.yaml").write_text(GOOD)
    with pytest.raises(UserInputError, match="duplicate offer id 'a'.*a.yaml"):
        read_offers(tmp_path)


def test_store_round_trip_and_rule_check(decide_ws: object, tmp_path: Path) -> None:
    engine = decide_ws.engine  # type: ignore[attr-defined]
    path = tmp_path / "offers.yaml"
    path.write_text(OFFERS_YAML)
    offers = read_offers(path)
    assert save_offers(engine, offers, str(path))["created"] == 3
    assert save_offers(engine, offers[:1], str(path))["updated"] == 1
    assert [o.id for o in load_offers(engine)] == ["crosssell", "vip", "winback"]
    assert get_offer(engine, "vip") == next(o for o in offers if o.id == "vip")
    with pytest.raises(NotFoundError, match="did you mean"):
        get_offer(engine, "vipp")
    bad = GOOD + "eligibility: {kind: profile, field: clvv, op: gt, value: 1}\n"
    path.write_text(bad)
    with pytest.raises(UserInputError, match="offer 'a': eligibility.*clvv"):
        save_offers(engine, read_offers(path), str(path))


def test_validity_dates(tmp_path: Path) -> None:
    path = tmp_path / "o.yaml"
    path.write_text(GOOD + "valid_from: 2025-03-11\n")
    offers = read_offers(path)
    assert active_offers(offers, DAY) == []
    assert [o.id for o in active_offers(offers, DAY.replace(day=11))] == ["a"]
