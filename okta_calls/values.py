"""Okta's loose values made into column values: pure functions, no I/O.

Okta's data is loose (see ../shared/OKTA.md section 2): the string ``"null"`` stands for null, numbers turn
up where strings are documented (``postalCode``, ``version``), booleans arrive as ``"false"``, and any
sub-object may be missing, ``{}``, ``null`` or ``"null"``. Each function takes what Okta sent and returns the
value for one kind of column, or ``None``; none of them raises.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Mapping

from .jsonio import dumps

__all__ = ["flag", "integer", "json_text", "normalize_published", "number", "obj", "text"]


def text(value: Any) -> str | None:
    """A string column: ``None`` for null, missing or the string ``"null"``; numbers and booleans as text;
    objects and arrays as compact JSON (so nothing is silently dropped)."""
    if value.__class__ is str:  # the common case first: this runs ~50 times per event
        return None if value == "null" or value == "" else value
    if value is None:
        return None
    if isinstance(value, str):
        return None if value == "null" or value == "" else value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return dumps(value)


def number(value: Any) -> float | None:
    """A REAL column: floats, ints and numeric strings; ``None`` for anything else, NaN and infinities."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        result = float(value) if not isinstance(value, int) or abs(value) < 2**63 else None
    elif isinstance(value, str):
        try:
            result = float(value)
        except ValueError:
            return None
    else:
        return None
    if result is None or math.isnan(result) or math.isinf(result):
        return None
    return result


def integer(value: Any) -> int | None:
    """An INTEGER column: ints and integer strings within SQLite's 64-bit range."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            return None
    if isinstance(value, int) and -(2**63) <= value < 2**63:
        return value
    return None


def flag(value: Any) -> int | None:
    """A 0/1 column from true/false, "true"/"false" (any case), 1/0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int) and value in (0, 1):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes"):
            return 1
        if lowered in ("false", "0", "no"):
            return 0
    return None


def obj(value: Any) -> Mapping[str, Any]:
    """A sub-object, or an empty mapping when it is missing, null, ``"null"`` or not an object."""
    return value if isinstance(value, dict) else {}


def json_text(value: Any) -> str | None:
    """Compact JSON for object/array columns; ``None`` for null."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return dumps(value)


def normalize_published(value: Any) -> str | None:
    """``published`` in Okta's own form (``2024-05-01T12:00:00.123Z``) so that text order is time order.

    Okta's form passes through untouched. Other ISO 8601 spellings (a space for ``T``, no milliseconds, an
    offset) are converted to UTC. Anything that does not parse, such as the impossible ``2017-09-31`` of an
    official example, is kept exactly as received.
    """
    if not isinstance(value, str):
        return text(value)
    if len(value) == 24 and value[10] == "T" and value[23] == "Z" and value[19] == ".":
        return value
    candidate = value.strip().replace(" ", "T", 1)
    if candidate.endswith("Z"):
        candidate = candidate[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(candidate)
    except ValueError:
        return value
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    parsed = parsed.astimezone(timezone.utc)
    return parsed.strftime("%Y-%m-%dT%H:%M:%S.") + f"{parsed.microsecond // 1000:03d}Z"
