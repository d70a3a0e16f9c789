"""JSON decoding and encoding with orjson's speed and the standard library's reach.

orjson is strict and fast; the standard library accepts what orjson refuses (integers beyond 64 bits, lone
UTF-16 surrogate escapes). Okta never sends those, but a hostile or damaged file may, and such an event is
still an event: it is archived, not rejected.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

__all__ = ["JSONError", "canonical", "decode", "dumps", "json_kind", "loads", "storable"]


class JSONError(ValueError):
    """Text that is not a JSON value; ``str()`` says why, in one line."""


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


# orjson turns integers beyond 64 bits into floats without a word, so text with a run of 19 or more digits
# goes to the standard library. Mapping every digit to "0" and searching for 19 zeros finds such runs ten
# times faster than a regular expression (2 us for a 2 KB event).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_RUN = b"0" * 19


def _may_hold_a_big_integer(text: str | bytes) -> bool:
    data = text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass")
    return _LONG_RUN in data.translate(_DIGITS_TO_ZERO)


def decode(text: str | bytes) -> tuple[Any, bool]:
    """Decode one JSON value: ``(value, fast)``.

    ``fast`` is true when orjson decoded it, which guarantees the value is exact and holds no lone UTF-16
    surrogates (so it can be written to SQLite as it is). Raise ``JSONError`` when the text is not JSON.
    """
    if not _may_hold_a_big_integer(text):
        try:
            return orjson.loads(text), True
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(text, parse_constant=_reject_constant), False
    except (ValueError, RecursionError, TypeError) as error:
        reason = str(error) or type(error).__name__
        if isinstance(error, RecursionError):
            reason = "nested too deeply"
        raise JSONError(reason.splitlines()[0][:200]) from None


def loads(text: str | bytes) -> Any:
    """Decode one JSON value; raise ``JSONError`` with a one-line reason when it is not JSON."""
    return decode(text)[0]


def dumps(value: Any) -> str:
    """Compact JSON text of ``value``, key order kept; never fails on values ``loads`` produced."""
    try:
        return orjson.dumps(value).decode()
    except (TypeError, orjson.JSONEncodeError):
        # Integers over 64 bits, lone surrogates, nesting deeper than orjson allows.
        return _standard_dumps(value)


def canonical(value: Any) -> bytes:
    """A canonical encoding (sorted keys, compact) for comparing two JSON values for equality."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    except (TypeError, orjson.JSONEncodeError):
        return _standard_dumps(value, sort_keys=True).encode()


def storable(value: Any) -> tuple[str, Any]:
    """``(payload, safe)``: the JSON text to archive and a version of ``value`` SQLite can bind.

    For everything orjson can encode (every real Okta event) that is ``(dumps(value), value)`` with no copy.
    Otherwise the payload comes from the standard library, which escapes lone surrogates, and ``safe`` is a
    copy whose strings have them replaced, so the projections can still be written.
    """
    try:
        return orjson.dumps(value).decode(), value
    except (TypeError, orjson.JSONEncodeError):
        return _standard_dumps(value), _scrub(value)


def _standard_dumps(value: Any, *, sort_keys: bool = False) -> str:
    """The standard library's compact JSON; for values nested deeper than its recursion allows (orjson reads
    up to 1024 levels, but writes fewer, and so does ``json``), the same text without recursion."""
    try:
        return json.dumps(value, sort_keys=sort_keys, separators=(",", ":"))
    except RecursionError:
        return _dumps_without_recursion(value, sort_keys=sort_keys)


class _Text(str):
    """Punctuation or an encoded key on the encoder's stack (not a value to encode)."""


def _dumps_without_recursion(value: Any, *, sort_keys: bool = False) -> str:
    out: list[str] = []
    stack: list[Any] = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _Text):
            out.append(item)
        elif isinstance(item, dict):
            entries = sorted(item.items()) if sort_keys else list(item.items())
            out.append("{")
            stack.append(_Text("}"))
            for index in range(len(entries) - 1, -1, -1):
                key, member = entries[index]
                stack.append(member)
                stack.append(_Text(("," if index else "") + json.dumps(str(key)) + ":"))
        elif isinstance(item, list):
            out.append("[")
            stack.append(_Text("]"))
            for index in range(len(item) - 1, -1, -1):
                stack.append(item[index])
                if index:
                    stack.append(_Text(","))
        else:
            out.append(json.dumps(item))
    return "".join(out)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, list):
        return [_scrub(item) for item in value]
    if isinstance(value, dict):
        return {_scrub(key): _scrub(item) for key, item in value.items()}
    return value


def json_kind(value: Any) -> str:
    """The JSON type of a decoded value, for messages: null, boolean, number, string, array or object."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"
