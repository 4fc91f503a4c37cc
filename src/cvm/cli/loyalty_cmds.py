"""`cvm loyalty ...`: members, points, rewards, referrals (rules and tiers add their own)."""

from __future__ import annotations

import typer

loyalty_app = typer.Typer(
    help="Loyalty programme: members, points, rewards, referrals.", no_args_is_help=True
)
