"""The customer 360: one row per customer with traits, value metrics and scores."""

from cvm.profiles.contract import CUSTOMER_360_VIEW, PROFILES
from cvm.profiles.views import ensure_profile_tables

__all__ = ["CUSTOMER_360_VIEW", "PROFILES", "ensure_profile_tables"]
