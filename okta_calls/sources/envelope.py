"""Okta Event Hook delivery envelopes: recognise one, split it into a ``Delivery`` and its events.

Pure functions shared by file ingest (a saved delivery is a JSON file like any other) and the HTTP receiver
(``okta_calls.sources.hooks``). No I/O here.

An envelope looks like::

    {"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
     "source": "https://{org}/api/v1/eventHooks/who...", "eventId": "<delivery id>",
     "eventTime": "<delivery time>", "contentType": "application/json", "data": {"events": [LogEvent, ...]}}

What makes a body an envelope is ``data.events`` being a list; ``eventType`` is kept but not required, so a
future envelope version or a hand-saved copy is still read.

A delivery without a usable ``eventId`` gets a synthetic one, ``"sha256:" + sha256(canonical body)``, where
the canonical body is the whole envelope encoded with sorted keys and no whitespace
(``okta_calls.jsonio.canonical``). The same body always gets the same id, so a repeated copy of it is still
recognised as the same delivery.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from okta_calls.jsonio import canonical, dumps, json_kind
from okta_calls.model import Delivery, Incoming

__all__ = [
    "HOOK_EVENT_TYPE",
    "REDACTED",
    "EnvelopeError",
    "envelope_problem",
    "is_delivery_envelope",
    "parse_envelope",
    "redact_headers",
    "synthetic_event_id",
]

HOOK_EVENT_TYPE = "com.okta.event_hook"
REDACTED = "[redacted]"

# Headers whose values are credentials whatever their name says.
_SECRET_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization", "x-api-key"})
# A header whose name contains one of these is treated as secret-bearing (x-okta-hook-secret, x-auth-token, ...).
_SECRET_NAME_PARTS = ("secret", "token", "auth", "key", "signature", "password")

# Envelope keys that map onto ``Delivery`` fields; everything else at the top level goes to ``Delivery.extra``.
_ENVELOPE_FIELDS = {
    "eventId": "event_id",
    "eventTime": "event_time",
    "source": "source",
    "eventType": "event_type",
    "eventTypeVersion": "event_type_version",
    "cloudEventsVersion": "cloud_events_version",
    "contentType": "content_type",
}


class EnvelopeError(ValueError):
    """The value is not an Okta Event Hook delivery envelope; ``str()`` names what is missing."""


def envelope_problem(obj: Any) -> str | None:
    """Say why ``obj`` is not a delivery envelope, or return ``None`` when it is one."""
    if not isinstance(obj, dict):
        return f"the body is a JSON {json_kind(obj)}, not an object"
    data = obj.get("data")
    if data is None:
        return "missing data.events"
    if not isinstance(data, dict):
        return f"data is a JSON {json_kind(data)}, not an object"
    if "events" not in data:
        return "missing data.events"
    if not isinstance(data["events"], list):
        return f"data.events is a JSON {json_kind(data['events'])}, not a list"
    return None


def is_delivery_envelope(obj: Any) -> bool:
    """True when ``obj`` is a dict with a ``data.events`` list (an Event Hook delivery)."""
    return envelope_problem(obj) is None


def synthetic_event_id(obj: Any) -> str:
    """A stable delivery id for an envelope without ``eventId``: ``sha256:`` + hex digest of its canonical JSON."""
    return "sha256:" + hashlib.sha256(canonical(obj)).hexdigest()


def parse_envelope(
    obj: Any,
    *,
    ref: str | None = None,
    headers: Mapping[str, str] | Iterable[tuple[str, str]] | None = None,
    secret_headers: Iterable[str] = (),
) -> tuple[Delivery, list[Incoming]]:
    """Split a delivery envelope into its ``Delivery`` record and one ``Incoming`` per event.

    ``ref`` names where the envelope came from (a file path); ``None`` means an HTTP delivery, whose events are
    referenced as ``"hook:<eventId>"``. ``headers`` are the delivery's HTTP headers, passed as received: they
    are stored redacted (see ``redact_headers``; ``secret_headers`` names more headers to redact). Each event
    keeps its 1-based position in ``data.events`` as ``line``. An event that is not a JSON object is passed on
    with ``error`` set, for the archive's rejects table; keying the others (by ``uuid``) is the archive's job.

    Raises ``EnvelopeError`` when ``obj`` is not an envelope.
    """
    problem = envelope_problem(obj)
    if problem is not None:
        raise EnvelopeError(problem)
    delivery = _delivery(obj, None if headers is None else redact_headers(headers, secret_headers))
    event_ref = ref if ref is not None else f"hook:{delivery.event_id}"
    items = [_incoming(event, event_ref, position) for position, event in enumerate(obj["data"]["events"], 1)]
    return delivery, items


def redact_headers(
    headers: Mapping[str, str] | Iterable[tuple[str, str]], extra_secret_names: Iterable[str] = ()
) -> dict[str, str]:
    """Copy ``headers`` with the values of secret-bearing headers replaced by ``"[redacted]"``.

    Names are kept as given. Secret-bearing are: Authorization, Cookie, Proxy-Authorization, X-Api-Key, any header
    whose name contains secret/token/auth/key/signature/password (case-insensitive), and the names in
    ``extra_secret_names`` (for example a custom authentication header configured in Okta). A name that occurs
    more than once (given as pairs) has its values joined with ``", "``.
    """
    extra = {name.lower() for name in extra_secret_names}
    pairs = headers.items() if isinstance(headers, Mapping) else headers
    redacted: dict[str, str] = {}
    for name, value in pairs:
        shown = REDACTED if _is_secret_header(name, extra) else value
        if name in redacted and shown != REDACTED:
            shown = f"{redacted[name]}, {shown}"
        redacted[name] = shown
    return redacted


def _is_secret_header(name: str, extra: set[str]) -> bool:
    lowered = name.lower()
    return lowered in _SECRET_HEADERS or lowered in extra or any(part in lowered for part in _SECRET_NAME_PARTS)


def _delivery(obj: dict[str, Any], headers: dict[str, str] | None) -> Delivery:
    fields: dict[str, str | None] = {attr: _text(obj.get(key)) for key, attr in _ENVELOPE_FIELDS.items()}
    event_id = fields.pop("event_id") or synthetic_event_id(obj)
    extra = {key: value for key, value in obj.items() if key not in _ENVELOPE_FIELDS and key != "data"}
    data_rest = {key: value for key, value in obj["data"].items() if key != "events"}
    if data_rest:
        extra["data"] = data_rest
    return Delivery(
        event_id=event_id,
        headers=headers,
        extra=extra,
        **fields,
    )


def _incoming(event: Any, ref: str, position: int) -> Incoming:
    if isinstance(event, dict):
        return Incoming(event=event, raw=None, ref=ref, line=position)
    return Incoming(
        event=event,
        raw=dumps(event),
        ref=ref,
        line=position,
        error=f"event is a JSON {json_kind(event)}, not an object",
    )


def _text(value: Any) -> str | None:
    """An envelope attribute as text: strings as they are, numbers as their JSON text, empty or null as None."""
    if value is None or value == "":
        return None
    return value if isinstance(value, str) else dumps(value)


