"""The demo company's programme data beyond the generator's canonical tables: acquisition
spend, survey responses and a loyalty programme, each drawn from the loaded warehouse so it
agrees with the customers and purchases already there (and with the ground truth)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cvm.workspace import Workspace


def add_programme_data(
    ws: Workspace, *, seed: int, currency: str, step: Callable[[str], None] | None = None
) -> dict[str, Any]:
    """Load spend, surveys and the loyalty programme into the demo workspace; returns counts."""
    from cvm.demo.loyalty import install_demo_loyalty
    from cvm.demo.spend import load_marketing_spend
    from cvm.demo.surveys import load_survey_responses

    say = step or (lambda _label: None)
    out: dict[str, Any] = {}
    say("marketing spend")
    out["marketing spend rows"] = load_marketing_spend(ws.engine, seed=seed, currency=currency)
    say("survey responses")
    out["survey responses"] = load_survey_responses(ws.engine, seed=seed)
    say("loyalty programme")
    loyalty = install_demo_loyalty(ws, seed=seed)
    out["loyalty members"] = loyalty["members"]
    out["loyalty redemptions"] = loyalty["redemptions"]
    return out
