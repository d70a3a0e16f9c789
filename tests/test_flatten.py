"""Flattening: whole-row assertions on fixtures covering every shape and quirk of ../shared/OKTA.md."""

from __future__ import annotations

import copy

import pytest

from okta_calls.flatten import EVENT_COLUMNS, flatten_event
from okta_calls.values import integer, normalize_published, number, text

from .conftest import load_fixture

NONE_ROW = dict.fromkeys(EVENT_COLUMNS)


def expected(**values: object) -> dict[str, object]:
    row = dict(NONE_ROW)
    row.update(values)
    return row


CLASSIC_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36"
)


def test_classic_engine_voice_call_whole_row() -> None:
    flat = flatten_event(load_fixture("classic_voice_call.json"))
    uuid = "9a1b2c3d-0001-11ef-8000-000000000001"
    assert flat.event == expected(
        uuid=uuid,
        published="2026-03-02T14:05:06.789Z",
        event_type="system.voice.send_phone_verification_call",
        version="0",
        severity="INFO",
        display_message="Send phone verification call",
        legacy_event_type="core.user.call_to_send_otp.message_sent.verify",
        outcome_result="SUCCESS",
        actor_id="00u1abcdEFGH2345ijkl",
        actor_type="User",
        user_id="00u1abcdEFGH2345ijkl",
        phone_id="mbl3p075rwLbODqXZ0g7",
        phone_number="+447700900123",
        country_calling_code="44",
        phone_country="GB",
        client_ip="203.0.113.10",
        client_city="London",
        client_state="England",
        client_country="United Kingdom",
        client_postal_code="EC1A",
        latitude=51.5164,
        longitude=-0.093,
        user_agent=CLASSIC_UA,
        client_os="Windows 10",
        client_browser="CHROME",
        client_device="Computer",
        transaction_type="WEB",
        transaction_id="reqAbC123",
        request_id="reqAbC123",
        request_uri="/api/v1/authn/factors/mbl3p075rwLbODqXZ0g7/verify",
        external_session_id="102abcSessionXYZ",
        as_number=64500,
        as_org="example telecom",
        isp="example isp",
        domain="example.net",
        is_proxy=0,
        threat_suspected=0,
    )
    assert flat.targets == [
        (0, "00u1abcdEFGH2345ijkl", "User", "ada.lovelace@example.com", "Ada Lovelace", None, None),
        (1, "mbl3p075rwLbODqXZ0g7", "MobilePhone", "+44 7700 900123", "Mobile Phone", None, None),
    ]
    assert flat.debug_data == [
        ("requestId", "reqAbC123"),
        ("requestUri", "/api/v1/authn/factors/mbl3p075rwLbODqXZ0g7/verify"),
        ("threatSuspected", "false"),
        ("url", "/api/v1/authn/factors/mbl3p075rwLbODqXZ0g7/verify?"),
    ]
    assert flat.ip_chain == [
        (0, "203.0.113.10", "V4", None, "London", "England", "United Kingdom", "EC1A", 51.5164, -0.093)
    ]
    assert flat.search == (
        "Send phone verification call",
        "ada.lovelace@example.com",
        "Ada Lovelace",
        "ada.lovelace@example.com",
        "Ada Lovelace",
        "+447700900123",
    )
    assert flat.phone is not None
    assert (flat.phone.key, flat.phone.id, flat.phone.type, flat.phone.alternate_id, flat.phone.display_name) == (
        "+447700900123",
        "mbl3p075rwLbODqXZ0g7",
        "MobilePhone",
        "+44 7700 900123",
        "Mobile Phone",
    )


def test_identity_engine_sms_whole_row_and_quirks() -> None:
    flat = flatten_event(load_fixture("ie_sms.json"))
    uuid = "9a1b2c3d-0002-11ef-8000-000000000002"
    assert flat.event == expected(
        uuid=uuid,
        published="2026-03-02T14:07:00.000Z",  # "2026-03-02 14:07:00" normalised
        event_type="system.sms.send_phone_verification_message",
        version="0",  # integer 0 in the JSON
        severity="INFO",
        display_message="Send phone verification SMS message",
        outcome_result="DENY",
        outcome_reason="Blocked by Okta: high-risk destination",
        actor_id="00u9zyxwVUTS8765rqpo",
        actor_type="User",
        user_id="00u9zyxwVUTS8765rqpo",
        phone_number="+18765550123",  # from debugData.phoneNumber: no MobilePhone target
        country_calling_code="1",
        phone_country="JM",  # +1 876 is Jamaica, not the US
        provider="TWILIO",
        client_city="Kingston",
        client_country="Jamaica",
        client_postal_code="10013",  # a number in the JSON
        latitude=17.99,  # a string in the JSON
        longitude=-76.79,
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X)",
        client_os="iOS",
        client_browser="SAFARI",
        client_device="Mobile",
        transaction_type="WEB",
        transaction_id="reqDeF456",
        as_number=64501,  # a string in the JSON
        is_proxy=1,  # "true"
        threat_suspected=1,
    )
    assert flat.targets == [
        (0, "00u9zyxwVUTS8765rqpo", "User", "grace@example.com", "Grace Hopper", '{"methodTypeUsed":"sms"}', None)
    ]
    assert flat.debug_data == [
        ("phoneNumber", "+18765550123"),
        ("countryCallingCode", "1"),
        ("smsProvider", "TWILIO"),
        ("risk", "{level=HIGH}"),
        ("behaviors", '{"New Geo-Location":"POSITIVE"}'),
        ("attempts", "3"),
        ("threatSuspected", "true"),
    ]
    assert flat.ip_chain == []
    assert flat.phone is not None and flat.phone.id is None and flat.phone.key == "+18765550123"


def test_both_phone_shapes_give_the_same_columns() -> None:
    classic = load_fixture("classic_voice_call.json")
    identity = copy.deepcopy(classic)
    identity["target"] = [t for t in identity["target"] if t["type"] != "MobilePhone"]
    identity["debugContext"]["debugData"].update(phoneNumber="+447700900123", countryCallingCode="44")
    a, b = flatten_event(classic).event, flatten_event(identity).event
    for column in ("phone_number", "country_calling_code", "phone_country", "user_id"):
        assert a[column] == b[column], column
    assert a["phone_id"] == "mbl3p075rwLbODqXZ0g7" and b["phone_id"] is None


def test_minimal_event_with_empty_objects_and_impossible_date() -> None:
    flat = flatten_event(load_fixture("bare_minimum.json"))
    assert flat.event == expected(
        uuid="9a1b2c3d-0003-11ef-8000-000000000003",
        published="2017-09-31T22:23:07.777Z",  # impossible date kept as received
        event_type="system.voice.receive_status",
        actor_id="0oa1systemprincipal",
        actor_type="SystemPrincipal",
    )
    assert flat.targets == flat.debug_data == flat.ip_chain == []
    assert flat.user is None and flat.phone is None  # a SystemPrincipal is not the user called


@pytest.mark.parametrize(
    "patch",
    [
        {"client": None},
        {"client": "null"},
        {"client": {"userAgent": None, "geographicalContext": None, "ipAddress": None, "zone": None}},
        {"target": None},
        {"target": "not a list"},
        {"target": [None, 5, "x", {"type": None}]},
        {"debugContext": None},
        {"debugContext": {"debugData": None}},
        {"debugContext": {"debugData": "a string"}},
        {"actor": None},
        {"outcome": []},
        {"request": {"ipChain": [None, {"geographicalContext": "null"}]}},
        {"securityContext": {"asNumber": 2**70, "isProxy": "maybe"}},
        {"published": 1700000000},
        {"published": None},
        {"version": 0},
        {"eventType": ["not", "a", "string"]},
    ],
)
def test_odd_shapes_never_raise(patch: dict[str, object]) -> None:
    event = load_fixture("classic_voice_call.json")
    event.update(patch)
    flat = flatten_event(event)
    assert flat.event["uuid"] == event["uuid"]
    assert set(flat.event) == set(EVENT_COLUMNS)


def test_actor_as_user_when_no_user_target() -> None:
    event = load_fixture("classic_voice_call.json")
    event["target"] = [t for t in event["target"] if t["type"] != "User"]
    assert flatten_event(event).event["user_id"] == "00u1abcdEFGH2345ijkl"
    event["actor"] = {"id": "1.2.3.4", "type": "IP address", "alternateId": "unknown"}
    assert flatten_event(event).event["user_id"] is None


def test_target_types_are_matched_not_positions() -> None:
    event = load_fixture("classic_voice_call.json")
    event["target"].reverse()
    row = flatten_event(event).event
    assert row["user_id"] == "00u1abcdEFGH2345ijkl" and row["phone_id"] == "mbl3p075rwLbODqXZ0g7"


def test_huge_and_nested_debug_data() -> None:
    event = load_fixture("ie_sms.json")
    nested: dict[str, object] = {"leaf": 1}
    for _ in range(200):
        nested = {"n": nested}
    event["debugContext"]["debugData"] = {f"k{i}": str(i) for i in range(5000)} | {"deep": nested}
    flat = flatten_event(event)
    assert len(flat.debug_data) == 5001
    assert flat.debug_data[-1][1].startswith('{"n":{"n":')
    assert flat.event["phone_number"] is None  # the phone was in the replaced debugData


def test_voice_provider_key_and_receive_status() -> None:
    event = load_fixture("bare_minimum.json")
    event["debugContext"] = {"debugData": {"voiceProvider": "TELESIGN", "status": "completed"}}
    row = flatten_event(event).event
    assert (row["provider"], row["delivery_status"]) == ("TELESIGN", "completed")


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("2024-05-01T12:00:00.123Z", "2024-05-01T12:00:00.123Z"),
        ("2024-05-01T12:00:00Z", "2024-05-01T12:00:00.000Z"),
        ("2024-05-01 12:00:00.5", "2024-05-01T12:00:00.500Z"),
        ("2024-05-01T14:00:00.000+02:00", "2024-05-01T12:00:00.000Z"),
        ("2017-09-31T22:23:07.777Z", "2017-09-31T22:23:07.777Z"),
        ("yesterday", "yesterday"),
        (None, None),
    ],
)
def test_normalize_published(value: object, want: object) -> None:
    assert normalize_published(value) == want


def test_scalar_helpers() -> None:
    assert text("null") is None and text("") is None and text(5) == "5" and text(True) == "true"
    assert text({"a": 1}) == '{"a":1}'
    assert number("1.5") == 1.5 and number("nan") is None and number(True) is None and number(10**400) is None
    assert integer("42") == 42 and integer(2**64) is None and integer(3.0) == 3 and integer("x") is None


def test_event_row_is_in_column_order() -> None:
    flat = flatten_event(load_fixture("classic_voice_call.json"))
    assert list(flat.event) == list(EVENT_COLUMNS)
    assert flat.event_row() == tuple(flat.event[c] for c in EVENT_COLUMNS)
