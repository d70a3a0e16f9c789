"""LogEvent dict -> projection rows. Pure functions: no I/O, no SQL, no clock.

Every projection table of the archive is built from these rows, whether an event arrives from a file, the
API or an Event Hook, and again when ``okta-calls rebuild`` re-derives everything from ``raw_events``.

Okta's data is loose (see ../shared/OKTA.md section 2): the string ``"null"`` stands for null, numbers turn
up where strings are documented, sub-objects are missing, ``{}`` or ``null``, and ``debugData`` is a free map.
Flattening never raises on a dict: each field is taken as far as it goes and is ``None`` otherwise.

Bump ``PROJECTION_VERSION`` whenever the rows produced for the same event change: an archive built by an
older version is then rebuilt from its raw log.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Mapping

from .jsonio import dumps
from .phones import calling_code, normalize_phone, phone_country
from .values import flag, integer, json_text, normalize_published, number, obj, text

PROJECTION_VERSION = 1

EVENT_COLUMNS: tuple[str, ...] = (
    "uuid",
    "published",
    "event_type",
    "version",
    "severity",
    "display_message",
    "legacy_event_type",
    "outcome_result",
    "outcome_reason",
    "actor_id",
    "actor_type",
    "user_id",
    "phone_id",
    "phone_number",
    "country_calling_code",
    "phone_country",
    "provider",
    "delivery_status",
    "client_ip",
    "client_city",
    "client_state",
    "client_country",
    "client_postal_code",
    "latitude",
    "longitude",
    "client_zone",
    "user_agent",
    "client_os",
    "client_browser",
    "client_device",
    "transaction_type",
    "transaction_id",
    "request_id",
    "request_uri",
    "external_session_id",
    "root_session_id",
    "as_number",
    "as_org",
    "isp",
    "domain",
    "is_proxy",
    "threat_suspected",
    "rate_limit_subtype",
)

TARGET_COLUMNS = ("position", "id", "type", "alternate_id", "display_name", "detail_entry", "change_details")
DEBUG_COLUMNS = ("key", "value")
IP_CHAIN_COLUMNS = (
    "position",
    "ip",
    "version",
    "source",
    "city",
    "state",
    "country",
    "postal_code",
    "latitude",
    "longitude",
)
SEARCH_COLUMNS = (
    "display_message",
    "actor_alternate_id",
    "actor_display_name",
    "user_alternate_id",
    "user_display_name",
    "phone_number",
)

# Where Okta puts the telephony provider in debugData. Only `smsProvider` is documented (Identity Engine SMS);
# the voice key is not, so the known spellings are tried in order. debugData is kept whole in `debug_data`.
PROVIDER_KEYS = ("smsProvider", "voiceProvider", "callProvider", "telephonyProvider", "provider")


@dataclass(slots=True)
class Entity:
    """An actor, user or phone as one event shows it: the card's four fields plus when it was seen."""

    key: str
    id: str | None
    type: str | None
    alternate_id: str | None
    display_name: str | None
    seen: str | None
    uuid: str
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class FlatEvent:
    """Every projection row that one LogEvent produces."""

    event: dict[str, Any]
    targets: list[tuple[Any, ...]]
    debug_data: list[tuple[Any, ...]]
    ip_chain: list[tuple[Any, ...]]
    search: tuple[Any, ...]
    actor: Entity | None
    user: Entity | None
    phone: Entity | None

    def event_row(self) -> tuple[Any, ...]:
        """The event row as a tuple in ``EVENT_COLUMNS`` order (``flatten_event`` builds the dict in it)."""
        return tuple(self.event.values())


# --- the event --------------------------------------------------------------------------------------------


def _targets(event: Mapping[str, Any]) -> tuple[list[tuple[Any, ...]], dict[str, Mapping[str, Any]]]:
    """All targets as rows, and the first target of each type (types are matched, never positions)."""
    raw = event.get("target")
    if isinstance(raw, dict):
        raw = [raw]
    if not isinstance(raw, list):
        return [], {}
    rows: list[tuple[Any, ...]] = []
    by_type: dict[str, Mapping[str, Any]] = {}
    for position, target in enumerate(raw):
        target = obj(target)
        target_type = text(target.get("type"))
        rows.append(
            (
                position,
                text(target.get("id")),
                target_type,
                text(target.get("alternateId")),
                text(target.get("displayName")),
                json_text(target.get("detailEntry")),
                json_text(target.get("changeDetails")),
            )
        )
        if target_type is not None and target_type not in by_type:
            by_type[target_type] = target
    return rows, by_type


def _debug_rows(debug_data: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """(key, value) rows: strings as they are, null as NULL, anything else as compact JSON."""
    return [
        (key, value if value.__class__ is str or value is None else _debug_value(value))
        for key, value in debug_data.items()
    ]


def _debug_value(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)  # (a str subclass stays text)


def _geo(geo: Mapping[str, Any]) -> tuple[Any, ...]:
    location = obj(geo.get("geolocation"))
    return (
        text(geo.get("city")),
        text(geo.get("state")),
        text(geo.get("country")),
        text(geo.get("postalCode")),
        number(location.get("lat")),
        number(location.get("lon")),
    )


def _ip_chain(event: Mapping[str, Any], client: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    chain = obj(event.get("request")).get("ipChain")
    if not isinstance(chain, list):
        # The Event Hooks documentation shows ipChain inside `client`.
        chain = client.get("ipChain")
    if not isinstance(chain, list):
        return []
    rows = []
    for position, hop in enumerate(chain):
        hop = obj(hop)
        rows.append(
            (position, text(hop.get("ip")), text(hop.get("version")), text(hop.get("source")))
            + _geo(obj(hop.get("geographicalContext")))
        )
    return rows


def phone_facts(raw_number: Any, raw_code: Any) -> tuple[str | None, str | None, str | None]:
    """(normalised number, country calling code, ISO country) from what Okta logged.

    The calling code is Okta's ``countryCallingCode`` when given, else derived from an E.164 number; the
    country uses NANP area codes behind +1. Memoised: an org calls the same numbers again and again.
    """
    try:
        return _phone_facts(raw_number, raw_code)
    except TypeError:  # unhashable (an object where a string belongs)
        return _phone_facts(text(raw_number), text(raw_code))


@lru_cache(maxsize=65536)
def _phone_facts(raw_number: Any, raw_code: Any) -> tuple[str | None, str | None, str | None]:
    number = normalize_phone(raw_number)
    code = text(raw_code)
    code = code.lstrip("+") if code is not None else calling_code(number)
    country = phone_country(number, code)[0] if (number or code) else None
    return number, code, country


def _provider(debug_data: Mapping[str, Any]) -> str | None:
    for key in PROVIDER_KEYS:
        value = text(debug_data.get(key))
        if value is not None:
            return value
    return None


def _entity(source: Mapping[str, Any], published: str | None, uuid: str) -> Entity | None:
    entity_id = text(source.get("id"))
    if entity_id is None:
        return None
    return Entity(
        key=entity_id,
        id=entity_id,
        type=text(source.get("type")),
        alternate_id=text(source.get("alternateId")),
        display_name=text(source.get("displayName")),
        seen=published,
        uuid=uuid,
    )


def flatten_event(event: Mapping[str, Any]) -> FlatEvent:
    """Flatten one LogEvent (which must carry a string ``uuid``) into its projection rows."""
    uuid = event["uuid"]
    published = normalize_published(event.get("published"))
    actor = obj(event.get("actor"))
    client = obj(event.get("client"))
    user_agent = obj(client.get("userAgent"))
    geo = _geo(obj(client.get("geographicalContext")))
    outcome = obj(event.get("outcome"))
    transaction = obj(event.get("transaction"))
    auth_context = obj(event.get("authenticationContext"))
    security = obj(event.get("securityContext"))
    debug_data = obj(obj(event.get("debugContext")).get("debugData"))
    target_rows, by_type = _targets(event)

    user_target = by_type.get("User")
    actor_type = text(actor.get("type"))
    if user_target is None and actor_type == "User":
        # No User target: the actor is the person being called (OKTA.md section 3).
        user_target = actor
    user = _entity(user_target, published, uuid) if user_target is not None else None

    phone_target = by_type.get("MobilePhone")
    if phone_target is not None:  # Classic Engine
        phone_id = text(phone_target.get("id"))
        phone_number, code, country = phone_facts(phone_target.get("alternateId"), debug_data.get("countryCallingCode"))
    else:  # Identity Engine (or no phone at all)
        phone_id = None
        phone_number, code, country = phone_facts(debug_data.get("phoneNumber"), debug_data.get("countryCallingCode"))

    phone: Entity | None = None
    if phone_number is not None:
        phone = Entity(
            key=phone_number,
            id=phone_id,
            type=text(phone_target.get("type")) if phone_target is not None else "MobilePhone",
            alternate_id=text(phone_target.get("alternateId")) if phone_target is not None else phone_number,
            display_name=text(phone_target.get("displayName")) if phone_target is not None else None,
            seen=published,
            uuid=uuid,
            extra={"country_calling_code": code, "phone_country": country},
        )

    row: dict[str, Any] = {
        "uuid": uuid,
        "published": published,
        "event_type": text(event.get("eventType")),
        "version": text(event.get("version")),
        "severity": text(event.get("severity")),
        "display_message": text(event.get("displayMessage")),
        "legacy_event_type": text(event.get("legacyEventType")),
        "outcome_result": text(outcome.get("result")),
        "outcome_reason": text(outcome.get("reason")),
        "actor_id": text(actor.get("id")),
        "actor_type": actor_type,
        "user_id": user.id if user is not None else None,
        "phone_id": phone_id,
        "phone_number": phone_number,
        "country_calling_code": code,
        "phone_country": country,
        "provider": _provider(debug_data),
        "delivery_status": text(debug_data.get("status")),
        "client_ip": text(client.get("ipAddress")),
        "client_city": geo[0],
        "client_state": geo[1],
        "client_country": geo[2],
        "client_postal_code": geo[3],
        "latitude": geo[4],
        "longitude": geo[5],
        "client_zone": text(client.get("zone")),
        "user_agent": text(user_agent.get("rawUserAgent")),
        "client_os": text(user_agent.get("os")),
        "client_browser": text(user_agent.get("browser")),
        "client_device": text(client.get("device")),
        "transaction_type": text(transaction.get("type")),
        "transaction_id": text(transaction.get("id")),
        "request_id": text(debug_data.get("requestId")),
        "request_uri": text(debug_data.get("requestUri")),
        "external_session_id": text(auth_context.get("externalSessionId")),
        "root_session_id": text(auth_context.get("rootSessionId")),
        "as_number": integer(security.get("asNumber")),
        "as_org": text(security.get("asOrg")),
        "isp": text(security.get("isp")),
        "domain": text(security.get("domain")),
        "is_proxy": flag(security.get("isProxy")),
        "threat_suspected": flag(debug_data.get("threatSuspected")),
        "rate_limit_subtype": text(debug_data.get("operationRateLimitSubtype")),
    }
    actor_entity = _entity(actor, published, uuid)
    search = (
        row["display_message"],
        actor_entity.alternate_id if actor_entity else None,
        actor_entity.display_name if actor_entity else None,
        user.alternate_id if user else None,
        user.display_name if user else None,
        phone_number,
    )
    return FlatEvent(
        event=row,
        targets=target_rows,
        debug_data=_debug_rows(debug_data),
        ip_chain=_ip_chain(event, client),
        search=search,
        actor=actor_entity,
        user=user,
        phone=phone,
    )
