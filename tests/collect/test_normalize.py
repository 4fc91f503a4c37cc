from __future__ import annotations

import gzip
import json
from datetime import datetime, timedelta

import pytest

from cvm.collect.errors import MalformedRequestError, PayloadTooLargeError
from cvm.collect.normalize import NormalizedEvent, Rejection, correct_skew, normalize_message
from cvm.collect.request import (
    MAX_BATCH_BYTES,
    batch_element_sizes,
    decode_body,
    normalize_batch,
    parse_batch,
    parse_single,
)

NOW = datetime(2024, 5, 1, 12, 0, 0)


def _norm(message: dict, **kw) -> NormalizedEvent | Rejection:
    return normalize_message(message, index=0, received_at=NOW, batch_sent_at=None, **kw)


def test_clock_skew_is_corrected_as_segment_documents() -> None:
    # The device clock runs 1 hour fast; the event happened 30 s before the batch was sent.
    ts = datetime(2024, 5, 1, 13, 0, 0)
    sent = ts + timedelta(seconds=30)
    assert correct_skew(ts, sent, NOW) == NOW - timedelta(seconds=30)
    assert correct_skew(ts, None, NOW) == ts  # no sentAt: trust the timestamp
    assert correct_skew(None, sent, NOW) == NOW  # no timestamp: receivedAt
    assert correct_skew(sent, ts, NOW) == NOW  # sentAt before timestamp: clamp


def test_batch_level_sent_at_applies_to_each_message() -> None:
    body = {
        "batch": [
            {"type": "track", "event": "A", "userId": "u", "timestamp": "2020-01-01T00:00:00Z"}
        ],
        "sentAt": "2020-01-01T00:01:00+00:00",
    }
    parsed = parse_batch(json.dumps(body).encode(), None, received_at=NOW)
    assert parsed.accepted == 1
    (event,) = normalize_batch(body, NOW, "x", None)
    assert isinstance(event, NormalizedEvent)
    assert event.occurred_at == NOW - timedelta(minutes=1)


@pytest.mark.parametrize(
    ("message", "reason"),
    [
        ({"type": "track", "event": "A"}, "userId or anonymousId is required"),
        ({"type": "bogus", "userId": "u"}, "unknown type 'bogus'"),
        ({"type": "track", "userId": "u"}, "non-empty event name"),
        ({"type": "alias", "userId": "u"}, "alias needs both userId and previousId"),
        ({"type": "group", "userId": "u"}, "group needs a groupId"),
        ({"type": "track", "userId": {"a": 1}, "event": "A"}, "userId must be a string"),
        ({"type": "track", "userId": "u", "event": "A", "timestamp": "yesterday"}, "ISO 8601"),
        ({"type": "track", "userId": "u", "event": "A", "properties": [1]}, "properties must"),
    ],
)
def test_invalid_messages_name_the_problem(message: dict, reason: str) -> None:
    result = _norm(message)
    assert isinstance(result, Rejection)
    assert reason in result.reason


def test_traits_from_top_level_and_context_and_group_traits_kept_apart() -> None:
    identify = _norm(
        {
            "type": "identify",
            "userId": 42,
            "traits": {"email": "a@b.co"},
            "context": {"traits": {"phone": "1", "email": "old@b.co"}},
        }
    )
    assert isinstance(identify, NormalizedEvent)
    payload = identify.message
    assert payload["userId"] == "42"  # numbers are accepted as ids
    assert payload["traits"] == {"phone": "1", "email": "a@b.co"}  # top level wins
    group = _norm(
        {"type": "group", "userId": "u", "groupId": "g", "traits": {"name": "ACME"},
         "context": {"traits": {"email": "a@b.co"}}}
    )  # fmt: skip
    assert isinstance(group, NormalizedEvent)
    payload = group.message
    assert payload["traits"] == {"email": "a@b.co"}
    assert payload["groupTraits"] == {"name": "ACME"}


def test_message_id_is_kept_or_generated() -> None:
    kept = _norm({"type": "page", "anonymousId": "a", "messageId": "m-1"})
    made = _norm({"type": "page", "anonymousId": "a"})
    assert isinstance(kept, NormalizedEvent) and kept.message_id == "m-1"
    assert isinstance(made, NormalizedEvent) and made.message_id.startswith("cvm-")


def test_partial_batch_keeps_valid_and_reports_invalid_by_index() -> None:
    body = {"batch": [{"type": "track", "userId": "u", "event": "A"}, {"type": "track"}, 7]}
    parsed = parse_batch(json.dumps(body).encode(), None)
    assert parsed.accepted == 1
    assert [r.index for r in parsed.rejections] == [1, 2]


def test_gzip_bodies_and_size_limits() -> None:
    body = json.dumps({"batch": [{"type": "page", "anonymousId": "a"}]}).encode()
    assert parse_batch(gzip.compress(body), "gzip").accepted == 1
    bomb = gzip.compress(b" " * (MAX_BATCH_BYTES * 4))
    with pytest.raises(PayloadTooLargeError):
        decode_body(bomb, "gzip", MAX_BATCH_BYTES)
    with pytest.raises(MalformedRequestError, match="not valid gzip"):
        decode_body(b"not gzip", "gzip", MAX_BATCH_BYTES)
    with pytest.raises(PayloadTooLargeError):
        parse_single(json.dumps({"userId": "u", "event": "x" * 40_000}).encode(), None, "track")


@pytest.mark.parametrize("raw", [b"{oops", b"[1,2]", b'{"batch": {}}', b'{"batch": []}'])
def test_malformed_bodies(raw: bytes) -> None:
    with pytest.raises(MalformedRequestError):
        parse_batch(raw, None)


def test_write_key_in_body_is_read_and_never_stored() -> None:
    secret = "cvm_w_abcdefghijklmnop"
    raw = json.dumps({"writeKey": secret, "batch": [{"type": "page", "anonymousId": "a"}]})
    parsed = parse_batch(raw.encode(), None)
    assert parsed.write_key == secret
    assert secret not in parsed.body


def test_oversized_message_in_a_batch_is_refused_alone() -> None:
    body = {"batch": [
        {"type": "page", "anonymousId": "a", "properties": {"x": "y" * 33_000}},
        {"type": "page", "anonymousId": "b"},
    ]}  # fmt: skip
    text = json.dumps(body, indent=2)
    assert [s > 32 * 1024 for s in batch_element_sizes(text)] == [True, False]
    parsed = parse_batch(text.encode(), None)
    assert parsed.accepted == 1
    assert parsed.rejections[0].index == 0 and "32 KB" in parsed.rejections[0].reason
