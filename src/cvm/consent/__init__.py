"""Consent and contact preferences: what each person allowed, per channel and purpose.

Everything that sends reads `is_reachable` (one person) or `reachable_customers` (many).
"""

from cvm.consent.reachability import CHANNELS, PURPOSES, decide, is_reachable, reachable_customers

__all__ = ["CHANNELS", "PURPOSES", "decide", "is_reachable", "reachable_customers"]
