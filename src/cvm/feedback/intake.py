"""Survey answers posted to the API → ``Survey Responded`` track messages (pure: no I/O).

Each answer becomes one Segment-spec track message, so it goes through the same intake log,
identity resolution and loader as collected events, and event-triggered campaigns see it
(a service campaign on ``Survey Responded`` with ``score <= 6`` fires for detractors):

- ``messageId`` is ``survey:<response_id>``: the loader keeps an event id once, and
  `cvm.feedback.responses.copy_responses_from_events` keeps a response id once, so a retried
  post stores the answer once;
- the person is ``customer_id`` (sent as ``userId``), else ``anonymous_id``; an ``email``
  travels as ``context.traits.email`` so the identity graph links the answer to the profile
  holding that address (without customer or anonymous id the answer gets the anonymous id
  ``survey:<response_id>``, linked through the email alone);
- properties: response_id, survey, score, comment, channel, touchpoint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from cvm.collect.normalize import MAX_ID_LENGTH, parse_time
from cvm.feedback.responses import SURVEY_EVENT
from cvm.feedback.scores import score_problem

MAX_RESPONSES = 1_000
MAX_COMMENT = 5_000
_TEXT_FIELDS = ("comment", "channel", "touchpoint")
_KNOWN = {
    "response_id", "customer_id", "email", "anonymous_id", "survey", "score", "responded_at",
    *_TEXT_FIELDS,
}  # fmt: skip


@dataclass(frozen=True)
class Refusal:
    index: int
    field: str
    reason: str

    def as_dict(self) -> dict[str, object]:
        return {"index": self.index, "field": self.field, "reason": self.reason}


@dataclass
class SurveyBatch:
    """The track messages of the accepted answers and the refusals, by index."""

    messages: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)

    def body(self) -> dict[str, Any]:
        """A Segment `/v1/batch` body (what the intake log stores)."""
        return {"batch": self.messages}


def _identifier(value: object, name: str) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{name} must be a string")
    text = str(value).strip()
    if not text or len(text) > MAX_ID_LENGTH - len("survey:"):
        raise ValueError(f"{name} must be 1-{MAX_ID_LENGTH - 7} characters")
    return text


def _text(value: object, name: str, limit: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string")
    if len(value) > limit:
        raise ValueError(f"{name} is longer than {limit} characters")
    return value or None


class _Refused(ValueError):
    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(reason)
        self.field_name = field_name


def _checked(name: str, check: Any, *args: Any) -> Any:
    try:
        return check(*args)
    except ValueError as err:
        raise _Refused(name, str(err)) from None


def survey_message(answer: object) -> dict[str, Any]:
    """One answer → its track message; raises `_Refused` naming the field."""
    if not isinstance(answer, dict):
        raise _Refused("", "each response must be a JSON object")
    unknown = sorted(set(answer) - _KNOWN)
    if unknown:
        raise _Refused(unknown[0], "unknown field")
    response_id = _checked("response_id", _identifier, answer.get("response_id"), "response_id")
    if response_id is None:
        raise _Refused("response_id", "required")
    survey, score = answer.get("survey"), answer.get("score")
    if survey is None:
        raise _Refused("survey", "required")
    if score is None:
        raise _Refused("score", "required")
    problem = score_problem(str(survey), score)
    if problem is not None:
        raise _Refused("survey" if problem.startswith("survey") else "score", problem)
    customer = _checked("customer_id", _identifier, answer.get("customer_id"), "customer_id")
    anonymous = _checked("anonymous_id", _identifier, answer.get("anonymous_id"), "anonymous_id")
    email = _checked("email", _text, answer.get("email"), "email", 320)
    if email is not None and "@" not in email:
        raise _Refused("email", "not an e-mail address")
    if customer is None and anonymous is None and email is None:
        raise _Refused("customer_id", "one of customer_id, email or anonymous_id is required")
    try:
        at = parse_time(answer.get("responded_at"))
    except ValueError:
        raise _Refused("responded_at", "not an ISO 8601 time") from None
    props: dict[str, Any] = {"response_id": response_id, "survey": survey, "score": int(score)}
    for name in _TEXT_FIELDS:
        limit = MAX_COMMENT if name == "comment" else 200
        props[name] = _checked(name, _text, answer.get(name), name, limit)
    message: dict[str, Any] = {
        "type": "track",
        "event": SURVEY_EVENT,
        "messageId": f"survey:{response_id}",
        "properties": props,
    }
    if customer is not None:
        message["userId"] = customer
    else:
        message["anonymousId"] = anonymous or f"survey:{response_id}"
    if email is not None:
        message["context"] = {"traits": {"email": email}}
    if at is not None:
        message["timestamp"] = at.isoformat() + "Z"
    return message


def survey_batch(body: object) -> SurveyBatch:
    """Check a `{"responses": [...]}` body; refusals name the index and the field."""
    if not isinstance(body, dict) or not isinstance(body.get("responses"), list):
        raise ValueError('the body must be {"responses": [...]}')
    answers = body["responses"]
    if not answers:
        raise ValueError("responses is empty")
    if len(answers) > MAX_RESPONSES:
        raise ValueError(f"at most {MAX_RESPONSES} responses per request")
    batch = SurveyBatch()
    seen: set[str] = set()
    for index, answer in enumerate(answers):
        try:
            message = survey_message(answer)
        except _Refused as err:
            batch.refusals.append(Refusal(index, err.field_name, str(err)))
            continue
        if message["messageId"] in seen:  # the same answer twice in one request: keep one
            continue
        seen.add(message["messageId"])
        batch.messages.append(message)
    return batch
