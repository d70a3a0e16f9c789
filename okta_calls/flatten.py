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

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from types import MappingProxyType
from typing import Any, NamedTuple

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


class Rows(NamedTuple):
    """Every projection row of one event as plain tuples, without the event's id (added when written).

    This is what ``flatten`` makes and what every write path takes: plain tuples are cheap to build, to pickle
    (the receiver's projector child sends them) and to bind. ``event`` is in ``EVENT_COLUMNS`` order, each
    child row in its table's column order, ``search`` in ``SEARCH_COLUMNS`` order. An entity (actor, user,
    phone) is ``(key, type, alternate_id, display_name, seen, uuid, *extra)``; a phone's extra is
    ``(phone_id, country_calling_code, phone_country)``.
    """

    event: tuple[Any, ...]
    targets: list[tuple[Any, ...]]
    debug_data: list[tuple[Any, ...]]
    ip_chain: list[tuple[Any, ...]]
    search: tuple[Any, ...]
    actor: tuple[Any, ...] | None
    user: tuple[Any, ...] | None
    phone: tuple[Any, ...] | None


# --- the event --------------------------------------------------------------------------------------------
#
# ``flatten`` runs once per event on every write path (a million times for a large import), so it is written
# for speed: plain tuples, one ``dict.get`` per field, the common case of ``values.text`` inline (``_text``),
# ``type(x) is dict`` before ``isinstance``. The whole-row tests in tests/test_flatten.py hold it to the rules.

_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _text(value: Any) -> str | None:
    """``values.text``, with its common cases (a string, null) first."""
    if value.__class__ is str:
        return None if value == "null" or value == "" else value
    return None if value is None else text(value)


def _sub(parent: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """``parent[key]`` when it is an object, else an empty mapping (``values.obj``)."""
    value = parent.get(key)
    return value if value.__class__ is dict or isinstance(value, dict) else _EMPTY


def _geo(geo: Mapping[str, Any]) -> tuple[Any, ...]:
    """(city, state, country, postal code, latitude, longitude) of a ``geographicalContext``."""
    get = geo.get
    location = _sub(geo, "geolocation")
    lat, lon = location.get("lat"), location.get("lon")
    return (
        _text(get("city")),
        _text(get("state")),
        _text(get("country")),
        _text(get("postalCode")),
        # values.number, with a finite float (x - x is 0.0 for those alone) taken as it is
        lat if lat.__class__ is float and lat - lat == 0.0 else number(lat),
        lon if lon.__class__ is float and lon - lon == 0.0 else number(lon),
    )


def _card(source: Mapping[str, Any], published: str | None, uuid: str) -> tuple[Any, ...] | None:
    """An actor or user as an entity tuple (its id is the key), or ``None`` when it has no id."""
    get = source.get
    entity_id = _text(get("id"))
    if entity_id is None:
        return None
    return (entity_id, _text(get("type")), _text(get("alternateId")), _text(get("displayName")), published, uuid)


def _debug_value(value: Any) -> str:
    return value if isinstance(value, str) else dumps(value)  # (a str subclass stays text)


def _ip_chain(event: Mapping[str, Any], client: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    chain = _sub(event, "request").get("ipChain")
    if not isinstance(chain, list):
        # The Event Hooks documentation shows ipChain inside `client`.
        chain = client.get("ipChain")
    if not isinstance(chain, list):
        return []
    rows = []
    for position, hop in enumerate(chain):
        if hop.__class__ is not dict:
            hop = obj(hop)
        get = hop.get
        rows.append(
            (position, _text(get("ip")), _text(get("version")), _text(get("source")), *_geo(_sub(hop, "geographicalContext")))
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


def flatten(event: Mapping[str, Any]) -> Rows:
    """Flatten one LogEvent (which must carry a string ``uuid``) into its projection rows."""
    get = event.get
    uuid = event["uuid"]
    published = get("published")
    if not (published.__class__ is str and len(published) == 24 and published[10] == "T" and published[19] == "."
            and published[23] == "Z"):
        published = normalize_published(published)  # Okta's own form passes as it is
    actor = _sub(event, "actor")
    client = _sub(event, "client")
    user_agent = _sub(client, "userAgent")
    outcome = _sub(event, "outcome")
    transaction = _sub(event, "transaction")
    session = _sub(event, "authenticationContext")
    security = _sub(event, "securityContext")
    debug_data = _sub(_sub(event, "debugContext"), "debugData")
    debug = debug_data.get

    # Every target as a row; the first User and the first MobilePhone (types are matched, never positions).
    targets: list[tuple[Any, ...]] = []
    user_target = phone_target = None
    raw_targets = get("target")
    if isinstance(raw_targets, dict):
        raw_targets = [raw_targets]
    if isinstance(raw_targets, list):
        for position, target in enumerate(raw_targets):
            if target.__class__ is not dict:
                target = obj(target)
            target_get = target.get
            target_type = _text(target_get("type"))
            detail, changes = target_get("detailEntry"), target_get("changeDetails")
            targets.append(
                (
                    position,
                    _text(target_get("id")),
                    target_type,
                    _text(target_get("alternateId")),
                    _text(target_get("displayName")),
                    None if detail is None else json_text(detail),
                    None if changes is None else json_text(changes),
                )
            )
            if target_type == "User" and user_target is None:
                user_target = target
            elif target_type == "MobilePhone" and phone_target is None:
                phone_target = target

    actor_card = _card(actor, published, uuid)
    actor_type = _text(actor.get("type"))
    if user_target is None and actor_type == "User":
        user_target = actor  # No User target: the actor is the person being called (OKTA.md section 3).
    user = _card(user_target, published, uuid) if user_target is not None else None

    phone: tuple[Any, ...] | None = None
    if phone_target is not None:  # Classic Engine
        phone_get = phone_target.get
        phone_id = _text(phone_get("id"))
        phone_number, code, country = phone_facts(phone_get("alternateId"), debug("countryCallingCode"))
        if phone_number is not None:
            phone = (phone_number, _text(phone_get("type")), _text(phone_get("alternateId")),
                     _text(phone_get("displayName")), published, uuid, phone_id, code, country)
    else:  # Identity Engine (or no phone at all)
        phone_id = None
        phone_number, code, country = phone_facts(debug("phoneNumber"), debug("countryCallingCode"))
        if phone_number is not None:
            phone = (phone_number, "MobilePhone", phone_number, None, published, uuid, None, code, country)

    provider = None
    for key in PROVIDER_KEYS:
        provider = _text(debug(key))
        if provider is not None:
            break
    agent = user_agent.get
    security_get = security.get
    geo = _geo(_sub(client, "geographicalContext"))
    display_message = _text(get("displayMessage"))
    as_number = security_get("asNumber")
    event_row = (
        uuid,
        published,
        _text(get("eventType")),
        _text(get("version")),
        _text(get("severity")),
        display_message,
        _text(get("legacyEventType")),
        _text(outcome.get("result")),
        _text(outcome.get("reason")),
        actor_card[0] if actor_card is not None else None,
        actor_type,
        user[0] if user is not None else None,
        phone_id,
        phone_number,
        code,
        country,
        provider,
        _text(debug("status")),
        _text(client.get("ipAddress")),
        geo[0],
        geo[1],
        geo[2],
        geo[3],
        geo[4],
        geo[5],
        _text(client.get("zone")),
        _text(agent("rawUserAgent")),
        _text(agent("os")),
        _text(agent("browser")),
        _text(client.get("device")),
        _text(transaction.get("type")),
        _text(transaction.get("id")),
        _text(debug("requestId")),
        _text(debug("requestUri")),
        _text(session.get("externalSessionId")),
        _text(session.get("rootSessionId")),
        as_number if as_number.__class__ is int and -(2**63) <= as_number < 2**63 else integer(as_number),
        _text(security_get("asOrg")),
        _text(security_get("isp")),
        _text(security_get("domain")),
        flag(security_get("isProxy")),
        flag(debug("threatSuspected")),
        _text(debug("operationRateLimitSubtype")),
    )
    search = (
        display_message,
        actor_card[2] if actor_card is not None else None,
        actor_card[3] if actor_card is not None else None,
        user[2] if user is not None else None,
        user[3] if user is not None else None,
        phone_number,
    )
    # debugData: every key; strings as they are, null as NULL, anything else as compact JSON.
    debug_rows = [
        (key, value if value.__class__ is str or value is None else _debug_value(value))
        for key, value in debug_data.items()
    ]
    return Rows(event_row, targets, debug_rows, _ip_chain(event, client), search, actor_card, user, phone)


# --- a readable view, for tests and for reading code ------------------------------------------------------


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

    @classmethod
    def of(cls, entity: tuple[Any, ...] | None, *, phone: bool = False) -> Entity | None:
        """The view of an entity tuple of ``Rows``."""
        if entity is None:
            return None
        key, kind, alternate_id, display_name, seen, uuid, *extra = entity
        if phone:
            phone_id, code, country = extra
            return cls(key, phone_id, kind, alternate_id, display_name, seen, uuid,
                       {"country_calling_code": code, "phone_country": country})
        return cls(key, key, kind, alternate_id, display_name, seen, uuid)


@dataclass(slots=True)
class FlatEvent:
    """``Rows`` with names: the event row as a dict in ``EVENT_COLUMNS`` order, the entities as ``Entity``."""

    event: dict[str, Any]
    targets: list[tuple[Any, ...]]
    debug_data: list[tuple[Any, ...]]
    ip_chain: list[tuple[Any, ...]]
    search: tuple[Any, ...]
    actor: Entity | None
    user: Entity | None
    phone: Entity | None

    def event_row(self) -> tuple[Any, ...]:
        """The event row as a tuple in ``EVENT_COLUMNS`` order."""
        return tuple(self.event.values())


def flatten_event(event: Mapping[str, Any]) -> FlatEvent:
    """``flatten``, named: what the tests assert whole rows on."""
    rows = flatten(event)
    return FlatEvent(
        event=dict(zip(EVENT_COLUMNS, rows.event, strict=True)),
        targets=rows.targets,
        debug_data=rows.debug_data,
        ip_chain=rows.ip_chain,
        search=rows.search,
        actor=Entity.of(rows.actor),
        user=Entity.of(rows.user),
        phone=Entity.of(rows.phone, phone=True),
    )
