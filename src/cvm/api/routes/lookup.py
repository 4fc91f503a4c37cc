"""Shared: pick the one identifier a request names (`?email=` ... or a path id)."""

from __future__ import annotations

from cvm.core.errors import UserInputError
from cvm.identity.profile_lookup import LookupKey


def one_identifier(**given: str | None) -> LookupKey:
    named = [(k, v) for k, v in given.items() if v]
    if len(named) != 1:
        raise UserInputError("give exactly one of " + ", ".join(given) + f" (got {len(named)})")
    return LookupKey(*named[0])
