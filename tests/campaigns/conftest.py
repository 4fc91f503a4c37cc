"""A small demo workspace with a policy that does not depend on the clock, and a channel that
records what it is asked to send."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from cvm.channels.base import BaseChannel, OutgoingMessage, SendResult


@dataclass
class RecordingChannel(BaseChannel):
    """Answers from ``script`` (address → list of statuses, last one repeats), else ``sent``."""

    sent: list[OutgoingMessage] = field(default_factory=list)
    script: dict[str, list[str]] = field(default_factory=dict)
    provider = "recording"

    def send(self, message: OutgoingMessage) -> SendResult:
        plan = self.script.get(message.to)
        status = plan.pop(0) if plan and len(plan) > 1 else (plan[0] if plan else "sent")
        if status == "sent":
            self.sent.append(message)
            return SendResult("sent", provider_id=f"p-{message.key}")
        bad = status == "bounce"
        kind = "permanent_error" if status in ("permanent", "bounce") else "temporary_error"
        return SendResult(kind, detail=f"scripted {status}", bad_address=bad)  # type: ignore[arg-type]


POLICY = """
[policy]
quiet_hours = { start = "00:00", end = "00:01" }
caps = [{ channels = "all", max = 3, days = 7 }]

[control.global]
share = 0.0
"""


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A workspace folder with 150 demo customers, built once per module."""
    from cvm.demo import generate_company, load_company_into
    from cvm.segments.definition import SegmentDefinition
    from cvm.segments.store import open_store
    from cvm.workspace import init_workspace

    root = tmp_path_factory.mktemp("campaigns") / "ws"
    ws = init_workspace(root)
    (root / "decide.toml").write_text(POLICY, encoding="utf-8")
    load_company_into(ws.engine, generate_company(150, seed=11))
    open_store(ws).save(
        SegmentDefinition.model_validate(
            {"name": "with_email", "rule": {"kind": "profile", "field": "email", "op": "is_set"}}
        )
    )
    ws.close()
    return root


@pytest.fixture
def demo_ws(demo_root: Path, tmp_path: Path) -> Iterator[Any]:
    """A private copy of the demo workspace for one test."""
    import shutil

    from cvm.workspace import open_workspace

    target = tmp_path / "ws"
    shutil.copytree(demo_root, target)
    ws = open_workspace(target)
    try:
        yield ws
    finally:
        ws.close()


def dispatcher_for(ws: Any, channel: BaseChannel, **dispatch: Any) -> Any:
    from cvm.campaigns.config import load_campaign_settings
    from cvm.campaigns.dispatch import Dispatcher
    from cvm.decide.config import load_decide_settings

    settings = load_campaign_settings(ws.root)
    for name, value in {"backoff_seconds": 0.0, "poll_seconds": 0.01, **dispatch}.items():
        setattr(settings.dispatch, name, value)
    settings.email.rate_per_second = settings.sms.rate_per_second = 10_000
    return Dispatcher(ws.state, settings, load_decide_settings(ws.root), lambda _ch: channel)


def drain(dispatcher: Any, rounds: int = 50) -> None:
    clients: dict[str, Any] = {}
    for _ in range(rounds):
        if dispatcher.run_batch("test-worker", clients) == 0:
            return


Emails = Callable[[Sequence[OutgoingMessage]], list[str]]
