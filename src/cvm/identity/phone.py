"""A small E.164 phone normaliser (no dependency): enough for contact data, not a validator.

Rules, in order:
1. Keep digits and a leading ``+``; drop spaces, dots, dashes, brackets and an extension
   (``x123`` / ``ext. 123``).
2. ``+CC...`` and ``00CC...`` are international already.
3. Otherwise the number is national to the default country: drop its trunk prefix
   (``0`` in most of Europe, ``8`` in Russia and Kazakhstan, ``1`` in the NANP) and put the
   country calling code in front.
4. The result must have 8 to 15 digits (ITU-T E.164 §6.2 allows at most 15); else None.
"""

from __future__ import annotations

import re

# ISO 3166-1 alpha-2 → (calling code, national trunk prefix)
COUNTRIES: dict[str, tuple[str, str]] = {
    "US": ("1", "1"),
    "CA": ("1", "1"),
    "GB": ("44", "0"),
    "IE": ("353", "0"),
    "DE": ("49", "0"),
    "FR": ("33", "0"),
    "ES": ("34", ""),
    "IT": ("39", ""),
    "PT": ("351", ""),
    "NL": ("31", "0"),
    "BE": ("32", "0"),
    "CH": ("41", "0"),
    "AT": ("43", "0"),
    "PL": ("48", ""),
    "CZ": ("420", ""),
    "SE": ("46", "0"),
    "NO": ("47", ""),
    "DK": ("45", ""),
    "FI": ("358", "0"),
    "RU": ("7", "8"),
    "KZ": ("7", "8"),
    "UA": ("380", "0"),
    "TR": ("90", "0"),
    "IL": ("972", "0"),
    "AE": ("971", "0"),
    "IN": ("91", "0"),
    "CN": ("86", "0"),
    "JP": ("81", "0"),
    "KR": ("82", "0"),
    "AU": ("61", "0"),
    "NZ": ("64", "0"),
    "BR": ("55", "0"),
    "MX": ("52", ""),
    "AR": ("54", "0"),
    "ZA": ("27", "0"),
}

_E164 = re.compile(r"^\+[1-9]\d{7,14}$")
_EXTENSION = re.compile(r"(?:ext\.?|x|#)\s*\d+\s*$", re.IGNORECASE)
_ALLOWED = re.compile(r"^[+\d\s().\-/]+$")


def normalize_phone(raw: object, default_country: str = "US") -> str | None:
    """E.164 (``+14155550123``) or None when the text cannot be a phone number."""
    if raw is None or isinstance(raw, bool):
        return None
    text = str(raw).strip()
    if _E164.match(text):  # already normalised: the common case for imported files
        return text
    text = _EXTENSION.sub("", text).strip()
    if not text or not _ALLOWED.match(text):
        return None
    plus = text.startswith("+")
    digits = re.sub(r"\D", "", text)
    if plus:
        international = digits
    elif digits.startswith("00"):
        international = digits[2:]
    else:
        code, trunk = COUNTRIES.get(default_country.upper(), ("", ""))
        if not code:
            return None
        national = digits[len(trunk) :] if trunk and digits.startswith(trunk) else digits
        # A national number written with its country code but no "+" (e.g. 7 916 ... in RU).
        if digits.startswith(code) and len(digits) > 10 and code != trunk:
            national = digits[len(code) :]
        international = code + national
    if not 8 <= len(international) <= 15 or international.startswith("0"):
        return None
    return "+" + international
