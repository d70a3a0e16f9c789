"""Phone numbers as Okta logs them: normalisation, country calling codes and destination countries.

Pure functions, no I/O. Okta puts the number of a phone verification call/SMS either in a ``MobilePhone``
target's ``alternateId`` (Classic Engine) or in ``debugContext.debugData.phoneNumber`` with a separate
``countryCallingCode`` (Identity Engine). Both are E.164-like strings ("+14155550123"), sometimes masked
("+14xxxxxxxxx"). This module turns them into a calling code and a destination country.

The tables (``CALLING_CODES``, the ITU-T E.164 assignments; ``NANP_AREA_CODES``; the heuristic high-risk
lists) are static data in ``phones_data``, re-exported here. The longest assigned prefix of a number is its
calling code; for +1 numbers the NANP area code refines the country, and for +7 numbers area codes 6xx and
7xx are Kazakhstan.
"""

from __future__ import annotations

import re

from .phones_data import (
    _GLOBAL_SERVICE_CODES,
    CALLING_CODES,
    HIGH_RISK_CALLING_CODES,
    HIGH_RISK_COUNTRIES,
    NANP_AREA_CODES,
    Destination,
)

__all__ = [
    "CALLING_CODES",
    "HIGH_RISK_CALLING_CODES",
    "HIGH_RISK_COUNTRIES",
    "NANP_AREA_CODES",
    "Destination",
    "calling_code",
    "country_for_calling_code",
    "is_high_cost_destination",
    "is_high_risk_number",
    "normalize_phone",
    "phone_country",
]


_US = Destination("US", "United States")
_KZ = Destination("KZ", "Kazakhstan")

_PHONE_SHAPE = re.compile(r"\+?[0-9xX()\s.\-\u2010-\u2015/]+")
_SEPARATORS = re.compile(r"[()\s.\-\u2010-\u2015/]")
_E164_HEAD = re.compile(r"\+([0-9]{1,3})")
_NULL_STRINGS = frozenset({"", "null"})
_MIN_SIGNIFICANT = 3
_MAX_SIGNIFICANT = 18


def normalize_phone(value: object) -> str | None:
    """Normalise a phone number as Okta logs it, without ever losing data.

    ``None``, the empty string and the string ``"null"`` give ``None``. Other non-strings become their
    ``str`` (integral floats without ".0"). A string that looks like a phone number (an optional leading
    "+", then digits, masking "x"/"X" and the separators space, dot, dash, slash and parentheses) loses
    its separators and gets a lowercase mask: "+1 (415) 555-0123" -> "+14155550123", "+14XXXXXXXXX" ->
    "+14xxxxxxxxx". A "+" is never added: "14155550123" stays as it is. Anything else is returned
    trimmed but otherwise unchanged.
    """
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = (value if isinstance(value, str) else str(value)).strip()
    if text.lower() in _NULL_STRINGS:
        return None
    if not _PHONE_SHAPE.fullmatch(text):
        return text
    compact = _SEPARATORS.sub("", text).lower()
    body = compact.removeprefix("+")
    if not any(ch.isdigit() for ch in body) or not _MIN_SIGNIFICANT <= len(body) <= _MAX_SIGNIFICANT:
        return text
    return compact


def calling_code(number: str | None) -> str | None:
    """The ITU-T country calling code of an E.164 number ("+" then digits), or ``None``.

    The number is normalised first, so separators are fine; digits after the code may be masked
    ("+14xxxxxxxxx" -> "1"). Numbers without a leading "+" give ``None``: a bare "14155550123" could be a
    national number, and guessing would invent data.
    """
    normal = normalize_phone(number)
    if normal is None:
        return None
    head = _E164_HEAD.match(normal)
    if head is None:
        return None
    digits = head.group(1)
    for size in (3, 2, 1):
        if len(digits) >= size and digits[:size] in CALLING_CODES:
            return digits[:size]
    return None


def country_for_calling_code(code: object) -> tuple[str | None, str | None]:
    """(ISO alpha-2, name) for a calling code such as "44", "+44" or 44; ``(None, None)`` when unknown.

    Global services (satellite, international networks) have a name but no ISO code.
    """
    if code is None or isinstance(code, bool):
        return (None, None)
    text = str(code).strip().lstrip("+")
    dest = CALLING_CODES.get(text)
    if dest is None:
        return (None, None)
    return (dest.iso2, dest.name)


def phone_country(number: str | None, calling_code: str | None = None) -> tuple[str | None, str | None]:
    """(ISO alpha-2, name) of the destination of ``number``.

    The calling code is derived from the number; ``calling_code`` (Okta's ``debugData.countryCallingCode``)
    is used when the number does not give one (bare digits, masked code, missing number). For +1 numbers
    the NANP area code decides: "+18765550123" is Jamaica, "+14165550123" Canada, "+14155550123" the
    United States; a masked area code ("+14xxxxxxxxx") falls back to "United States / NANP". For +7, area
    codes 6xx and 7xx are Kazakhstan.
    """
    code = _code_of(number)
    if code is None:
        return country_for_calling_code(calling_code)
    normal = normalize_phone(number) or ""
    national = normal[1 + len(code) :]
    if code == "1":
        area = national[:3]
        if len(area) == 3 and area.isdigit():
            dest = NANP_AREA_CODES.get(area, _US if area[0] in "23456789" else None)
            if dest is not None:
                return (dest.iso2, dest.name)
    elif code == "7" and national[:1] in ("6", "7"):
        return (_KZ.iso2, _KZ.name)
    return country_for_calling_code(code)


def is_high_cost_destination(iso2: str | None) -> bool:
    """True when the ISO alpha-2 country is in ``HIGH_RISK_COUNTRIES``, the heuristic IRSF list.

    Case-insensitive; ``None`` (unknown, or a global service without a country) gives ``False`` — use
    ``HIGH_RISK_CALLING_CODES`` or ``is_high_risk_number`` to catch satellite and international networks.
    """
    if not iso2:
        return False
    return iso2.strip().upper() in HIGH_RISK_COUNTRIES


def is_high_risk_number(number: str | None, calling_code: str | None = None) -> bool:
    """True when the number's destination is a heuristic IRSF destination (country or global service).

    Works behind "+1": "+18765550123" (Jamaica) is high risk, "+14155550123" is not.
    """
    iso2, _name = phone_country(number, calling_code)
    if is_high_cost_destination(iso2):
        return True
    code = _code_of(number) or (str(calling_code).strip().lstrip("+") if calling_code else None)
    return code in _GLOBAL_SERVICE_CODES


def _code_of(number: str | None) -> str | None:
    """``calling_code`` under another name, for use where the parameter shadows the function."""
    return calling_code(number)
