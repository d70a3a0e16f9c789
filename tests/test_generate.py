"""Tests for okta_calls.generate: determinism, LogEvent shapes, send/status pairing and planted patterns."""

from __future__ import annotations

import io
import itertools
import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest

from okta_calls import generate as gen
from okta_calls.phones import calling_code, is_high_risk_number, phone_country

START = datetime(2025, 3, 1, tzinfo=UTC)
DAYS = 30
COUNT = 12_000  # above PLANT_MIN_EVENTS: the planted patterns are in
ISO_MS = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-1[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
TOP_LEVEL = {
    "uuid", "published", "eventType", "version", "severity", "legacyEventType", "displayMessage", "actor",
    "client", "device", "authenticationContext", "outcome", "target", "transaction", "debugContext",
    "request", "securityContext",
}
SEND_TYPES = {t for types in gen.SEND_TYPES.values() for t in types}
STATUS_TYPES = set(gen.RECEIVE_STATUS_TYPES.values())


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return list(gen.generate_events(COUNT, seed=7, start=START, days=DAYS))


def parse(published: str) -> datetime:
    return datetime.strptime(published, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def targets(event: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [t for t in event.get("target") or [] if t.get("type") == kind]


def phone_of(event: dict[str, Any]) -> tuple[str | None, str]:
    """(number, shape) of a telephony event, shape "classic" (MobilePhone target) or "ie" (debugData)."""
    phones = targets(event, "MobilePhone")
    if phones:
        return phones[0]["alternateId"], "classic"
    return event["debugContext"]["debugData"].get("phoneNumber"), "ie"


def channel_of(event_type: str) -> str:
    return "sms" if event_type.startswith("system.sms.") else "voice"


def sends(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["eventType"] in SEND_TYPES]


# --- determinism and counts ---------------------------------------------------------------------


def test_same_seed_same_events() -> None:
    first = list(gen.generate_events(1500, seed=3, start=START, days=5))
    second = list(gen.generate_events(1500, seed=3, start=START, days=5))
    assert first == second
    assert orjson.dumps(first) == orjson.dumps(second)


def test_different_seed_different_events() -> None:
    first = list(gen.generate_events(500, seed=3, start=START))
    second = list(gen.generate_events(500, seed=4, start=START))
    assert first != second
    assert not {e["uuid"] for e in first} & {e["uuid"] for e in second}


def test_start_and_days_move_the_window() -> None:
    later = START + timedelta(days=100)
    stream = list(gen.generate_events(300, seed=1, start=later, days=2))
    moments = [parse(e["published"]) for e in stream]
    assert later <= min(moments)
    assert max(moments) <= later + timedelta(days=2, minutes=10)


def test_default_start_ends_at_the_current_hour() -> None:
    now = datetime(2025, 6, 1, 12, 34, 56, tzinfo=UTC)
    assert gen.default_start(30, now) == datetime(2025, 5, 2, 12, 0, tzinfo=UTC)
    stream = list(gen.generate_events(50, seed=1, days=1))
    assert datetime.now(UTC) - timedelta(days=1, hours=2) < parse(stream[0]["published"])


@pytest.mark.parametrize("count", [0, 1, 2, 3, 17, 1000])
def test_exact_count(count: int) -> None:
    assert sum(1 for _ in gen.generate_events(count, seed=count, start=START)) == count


def test_streams_lazily() -> None:
    stream = gen.generate_events(50_000_000, seed=1, start=START)
    first = list(itertools.islice(stream, 500))
    assert len(first) == 500


def test_bad_arguments() -> None:
    with pytest.raises(ValueError):
        gen.generate_events(-1)
    with pytest.raises(ValueError):
        gen.generate_events(10, days=0)
    with pytest.raises(ValueError):
        gen.generate_events(gen.PLANTED_EVENTS - 1, plant=True)
    with pytest.raises(ValueError):
        gen.planted_window("nope", START)


def test_uuids_unique_and_okta_like(events: list[dict[str, Any]]) -> None:
    uuids = [e["uuid"] for e in events]
    assert len(set(uuids)) == len(uuids)
    assert all(UUID.fullmatch(u) for u in uuids)


# --- shape of every event -----------------------------------------------------------------------


def test_every_event_is_a_logevent(events: list[dict[str, Any]]) -> None:
    for event in events:
        assert TOP_LEVEL <= event.keys()
        assert ISO_MS.fullmatch(event["published"])
        assert START <= parse(event["published"]) <= START + timedelta(days=DAYS, minutes=10)
        assert event["version"] == "0"
        assert event["severity"] in {"INFO", "WARN"}
        assert event["device"] is None
        assert event["displayMessage"]
        assert set(event["actor"]) == {"id", "type", "alternateId", "displayName", "detailEntry"}
        assert event["actor"]["type"] in {"User", "SystemPrincipal"}
        assert set(event["client"]) == {"userAgent", "zone", "device", "id", "ipAddress", "geographicalContext"}
        assert "externalSessionId" in event["authenticationContext"]
        assert event["outcome"]["result"] in {"SUCCESS", "FAILURE", "DENY"}
        assert set(event["transaction"]) == {"type", "id", "detail"}
        assert event["transaction"]["detail"] == {}
        assert isinstance(event["debugContext"]["debugData"], dict)
        assert isinstance(event["request"]["ipChain"], list)
        assert set(event["securityContext"]) == {"asNumber", "asOrg", "isp", "domain", "isProxy"}
        if event["eventType"] != gen.RATE_LIMIT_TYPE:
            assert len(targets(event, "User")) == 1


def test_client_and_network_details(events: list[dict[str, Any]]) -> None:
    users = [e for e in events if e["actor"]["type"] == "User"]
    for event in users:
        client = event["client"]
        assert set(client["userAgent"]) == {"rawUserAgent", "os", "browser"}
        geo = client["geographicalContext"]
        assert set(geo) == {"city", "state", "country", "postalCode", "geolocation"}
        assert set(geo["geolocation"]) == {"lat", "lon"}
        hop = event["request"]["ipChain"][0]
        assert set(hop) == {"ip", "geographicalContext", "version", "source"}
        assert hop["version"] in {"V4", "V6"}
        assert client["ipAddress"] in {hop["ip"], "null"}
        assert isinstance(event["securityContext"]["asNumber"], int)


def test_system_principal_sends_have_a_null_client(events: list[dict[str, Any]]) -> None:
    system = [e for e in events if e["actor"]["type"] == "SystemPrincipal"]
    assert system
    for event in system:
        assert event["actor"] == {"id": gen.SYSTEM_PRINCIPAL_ID, "type": "SystemPrincipal",
                                  "alternateId": "system@okta.com", "displayName": "Okta System",
                                  "detailEntry": None}
        assert all(value is None for value in event["client"].values())
        assert event["request"]["ipChain"] == []
        assert event["transaction"]["type"] == "JOB"
        assert len(targets(event, "User")) == 1
    assert len(system) < 0.1 * len(events)


def test_each_ip_has_one_consistent_location_and_network(events: list[dict[str, Any]]) -> None:
    seen: dict[str, tuple[Any, ...]] = {}
    for event in events:
        for hop in event["request"]["ipChain"]:
            geo = hop["geographicalContext"]
            sec = event["securityContext"]
            profile = (geo["city"], geo["state"], geo["country"], geo["postalCode"],
                       geo["geolocation"]["lat"], geo["geolocation"]["lon"], sec["asNumber"], sec["asOrg"],
                       sec["isp"], sec["domain"], sec["isProxy"], event["client"]["zone"])
            assert seen.setdefault(hop["ip"], profile) == profile, hop["ip"]
    assert len(seen) > 500


def test_realistic_quirks_are_present() -> None:
    stream = list(gen.generate_events(20_000, seed=11, start=START, plant=False))
    zones = Counter(e["client"]["zone"] for e in stream)
    assert zones["null"] > 0.5 * len(stream)  # the string "null", as Okta writes it
    assert any(e["client"]["ipAddress"] == "null" for e in stream)
    postals = [e["client"]["geographicalContext"]["postalCode"] for e in stream
               if e["client"]["geographicalContext"]]
    assert any(isinstance(p, int) for p in postals) and any(isinstance(p, str) for p in postals)
    debug = [e["debugContext"]["debugData"] for e in stream]
    assert all(d["threatSuspected"] in {"true", "false"} for d in debug)
    assert any(d.get("risk", "").startswith("{") and "level=" in d["risk"] for d in debug)
    assert any(e["client"]["geographicalContext"] and e["request"]["ipChain"][0]["version"] == "V6"
               for e in stream)
    orders = {tuple(t["type"] for t in e["target"]) for e in stream if targets(e, "MobilePhone")}
    assert {("User", "MobilePhone"), ("MobilePhone", "User")} <= orders


def test_event_mix(events: list[dict[str, Any]]) -> None:
    kinds = Counter(e["eventType"] for e in events)
    assert kinds["system.sms.send_phone_verification_message"] > kinds["system.voice.send_phone_verification_call"]
    assert kinds["system.voice.send_phone_verification_call"] > 0.05 * len(events)
    for sibling in ("system.voice.send_mfa_challenge_call", "system.sms.send_factor_verify_message",
                    "system.sms.send_password_reset_message", "system.voice.send_password_reset_call"):
        assert 0 < kinds[sibling] < kinds["system.sms.send_phone_verification_message"]
    assert kinds[gen.RATE_LIMIT_TYPE] > 0
    assert kinds["system.sms.receive_status"] > 0 and kinds["system.voice.receive_status"] > 0
    outcomes = Counter(e["outcome"]["result"] for e in events)
    assert outcomes["SUCCESS"] > 0.9 * len(events)
    assert outcomes["FAILURE"] > 0 and outcomes["DENY"] > 0


def test_users_and_phones_are_varied(events: list[dict[str, Any]]) -> None:
    users = {t["id"] for e in events for t in targets(e, "User")}
    assert len(users) > 1000
    countries = Counter(phone_country(phone_of(e)[0])[0] for e in sends(events))
    assert {"US", "CA", "GB", "DE", "FR", "IN", "BR", "AU", "JP"} <= set(countries)
    assert countries.most_common(1)[0][0] == "US"
    agents = {e["client"]["userAgent"]["browser"] for e in events if e["client"]["userAgent"]}
    assert {"CHROME", "SAFARI", "FIREFOX", "CHROMIUM_EDGE"} <= agents


def test_published_is_mostly_ascending(events: list[dict[str, Any]]) -> None:
    moments = [e["published"] for e in events]
    inversions = sum(1 for a, b in itertools.pairwise(moments) if b < a)
    assert 0 < inversions < 0.05 * len(events)


# --- Classic Engine and Identity Engine shapes --------------------------------------------------


def test_both_phone_shapes_follow_the_upgrade(events: list[dict[str, Any]]) -> None:
    upgrade = START + timedelta(days=DAYS) * gen.OIE_UPGRADE_AT
    shapes: Counter[str] = Counter()
    for event in sends(events) + [e for e in events if e["eventType"] in STATUS_TYPES]:
        number, shape = phone_of(event)
        debug = event["debugContext"]["debugData"]
        assert len(targets(event, "User")) == 1
        assert number and calling_code(number)
        if shape == "classic":
            phone = targets(event, "MobilePhone")[0]
            assert phone["id"].startswith("mbl") and len(phone["id"]) == 20
            assert phone["displayName"] == "Mobile Phone"
            assert "phoneNumber" not in debug
        else:
            assert debug["countryCallingCode"] == calling_code(number)
        if event["eventType"] in SEND_TYPES:
            assert (shape == "ie") == (parse(event["published"]) >= upgrade)
        shapes[shape] += 1
    assert shapes["classic"] > 0.3 * sum(shapes.values())
    assert shapes["ie"] > 0.3 * sum(shapes.values())


def test_session_ids_follow_the_engine(events: list[dict[str, Any]]) -> None:
    for event in sends(events):
        if event["actor"]["type"] != "User":
            continue
        session = event["authenticationContext"]["externalSessionId"]
        assert session.startswith("idx" if phone_of(event)[1] == "ie" else "102")


def test_provider_is_in_debug_data(events: list[dict[str, Any]]) -> None:
    for event in sends(events) + [e for e in events if e["eventType"] in STATUS_TYPES]:
        assert event["debugContext"]["debugData"][gen.PROVIDER_KEY] in {"TWILIO", "TELESIGN"}


# --- send / receive_status pairing --------------------------------------------------------------


def test_every_send_that_reached_the_provider_has_one_later_status(events: list[dict[str, Any]]) -> None:
    sent: dict[tuple[str, str | None, str], list[datetime]] = defaultdict(list)
    received: dict[tuple[str, str | None, str], list[datetime]] = defaultdict(list)
    denied = 0
    for event in events:
        kind = event["eventType"]
        if kind in SEND_TYPES:
            if event["outcome"]["result"] == "DENY":
                denied += 1
                continue
            number, shape = phone_of(event)
            sent[(channel_of(kind), number, shape)].append(parse(event["published"]))
        elif kind in STATUS_TYPES:
            number, shape = phone_of(event)
            received[(channel_of(kind), number, shape)].append(parse(event["published"]))
            assert event["debugContext"]["debugData"]["status"] in {
                "delivered", "sent", "undelivered", "failed", "completed", "no-answer", "busy"}
    assert denied > 0
    assert sent.keys() == received.keys()
    for key, send_times in sent.items():
        status_times = received[key]
        assert len(send_times) == len(status_times), key
        # Matching the k-th send with the k-th status works whenever any matching puts each status after
        # its send; statuses come a few seconds (calls: up to a minute) later.
        for send_time, status_time in zip(sorted(send_times), sorted(status_times)):
            assert send_time < status_time <= send_time + timedelta(minutes=2), key


def test_rate_limit_violations(events: list[dict[str, Any]]) -> None:
    limits = [e for e in events if e["eventType"] == gen.RATE_LIMIT_TYPE]
    assert limits
    for event in limits:
        debug = event["debugContext"]["debugData"]
        assert debug["operationRateLimitSubtype"] in {"SMS", "Voice call"}
        assert event["outcome"]["result"] == "DENY"
        assert event["severity"] == "WARN"
        assert {t["type"] for t in event["target"]} == {"Factor Type", "URL Pattern"}


# --- planted patterns ---------------------------------------------------------------------------


def test_planted_sizes_are_consistent() -> None:
    assert gen.PLANTED_EVENTS == gen.FRAUD_EVENTS + gen.SHARED_NUMBER_EVENTS + gen.BURST_EVENTS
    assert gen.PLANTED_EVENTS < 0.02 * gen.PLANT_MIN_EVENTS
    assert len(set(gen.FRAUD_NUMBERS)) == gen.FRAUD_DISTINCT_NUMBERS == 40
    assert len(set(gen.SHARED_NUMBER_USER_IDS)) == gen.SHARED_NUMBER_USERS == 15
    all_ids = [*gen.FRAUD_USER_IDS, *gen.SHARED_NUMBER_USER_IDS, gen.BURST_USER_ID, gen.SYSTEM_PRINCIPAL_ID]
    assert all(len(i) == 20 for i in all_ids)


def test_fraud_ip_pattern(events: list[dict[str, Any]]) -> None:
    from_ip = [e for e in events if e["client"]["ipAddress"] == gen.FRAUD_IP]
    assert len(from_ip) == gen.FRAUD_EVENTS
    fraud_sends = sorted(sends(from_ip), key=lambda e: e["published"])
    assert len(fraud_sends) == gen.FRAUD_SENDS
    numbers = [phone_of(e)[0] for e in fraud_sends]
    assert set(numbers) == set(gen.FRAUD_NUMBERS)
    assert len(set(numbers)) == gen.FRAUD_DISTINCT_NUMBERS
    for number in numbers:
        assert phone_country(number)[0] == gen.FRAUD_COUNTRY
        assert is_high_risk_number(number)
    begin, end = gen.planted_window("fraud", START, DAYS)
    assert begin == START + timedelta(days=DAYS) * gen.FRAUD_AT
    moments = [parse(e["published"]) for e in from_ip]
    assert begin <= min(moments) and max(moments) <= end + timedelta(minutes=2)
    assert parse(fraud_sends[-1]["published"]) - parse(fraud_sends[0]["published"]) <= gen.FRAUD_WINDOW
    results = [e["outcome"]["result"] for e in fraud_sends]
    assert results.count("DENY") == gen.FRAUD_DENIED
    assert set(results[-gen.FRAUD_DENIED:]) == {"DENY"}  # Okta's blocker kicks in near the end
    users = {targets(e, "User")[0]["id"] for e in fraud_sends}
    assert users == set(gen.FRAUD_USER_IDS)
    assert {e["actor"]["id"] for e in from_ip} == set(gen.FRAUD_USER_IDS)
    for event in from_ip:
        assert event["securityContext"]["isProxy"] is True
        assert event["securityContext"]["asNumber"] == gen.FRAUD_ASN
    assert {channel_of(e["eventType"]) for e in fraud_sends} == {"sms", "voice"}
    limits = [e for e in from_ip if e["eventType"] == gen.RATE_LIMIT_TYPE]
    assert len(limits) == gen.FRAUD_RATE_LIMIT_EVENTS
    statuses = [e["debugContext"]["debugData"]["status"] for e in from_ip if e["eventType"] in STATUS_TYPES]
    assert len(statuses) == gen.FRAUD_SENDS - gen.FRAUD_DENIED
    good = sum(status in {"delivered", "completed"} for status in statuses)
    assert good < 0.6 * len(statuses)
    # Nobody else calls these numbers or uses this IP.
    assert all(e["client"]["ipAddress"] != gen.FRAUD_IP for e in events if e["actor"]["id"] not in users)


def test_shared_number_pattern(events: list[dict[str, Any]]) -> None:
    shared = [e for e in sends(events) if phone_of(e)[0] == gen.SHARED_NUMBER]
    users = {targets(e, "User")[0]["id"] for e in shared}
    assert users == set(gen.SHARED_NUMBER_USER_IDS)
    assert len(shared) == gen.SHARED_NUMBER_USERS
    assert {phone_of(e)[1] for e in shared} == {"classic", "ie"}
    assert len({e["client"]["ipAddress"] for e in shared}) > 10
    begin, end = gen.planted_window("shared", START, DAYS)
    assert all(begin <= parse(e["published"]) <= end for e in shared)
    classic_ids = {t["id"] for e in shared for t in targets(e, "MobilePhone")}
    assert len(classic_ids) == sum(1 for e in shared if phone_of(e)[1] == "classic")  # one enrolment each
    statuses = [e for e in events if e["eventType"] in STATUS_TYPES and phone_of(e)[0] == gen.SHARED_NUMBER]
    assert len(statuses) == gen.SHARED_NUMBER_USERS


def test_burst_pattern(events: list[dict[str, Any]]) -> None:
    burst = [e for e in events if any(t["id"] == gen.BURST_USER_ID for t in targets(e, "User"))
             or e["actor"]["id"] == gen.BURST_USER_ID]
    assert len(burst) == gen.BURST_EVENTS
    calls = sorted((e for e in sends(burst)), key=lambda e: e["published"])
    assert len(calls) == gen.BURST_CALLS
    assert all(e["eventType"] == "system.voice.send_phone_verification_call" for e in calls)
    assert {phone_of(e) for e in calls} == {(gen.BURST_NUMBER, "classic")}
    span = parse(calls[-1]["published"]) - parse(calls[0]["published"])
    assert span <= gen.BURST_WINDOW
    begin, end = gen.planted_window("burst", START, DAYS)
    assert begin <= parse(calls[0]["published"]) and parse(calls[-1]["published"]) <= end
    assert [e["outcome"]["result"] for e in calls].count("DENY") == gen.BURST_DENIED
    limits = [e for e in burst if e["eventType"] == gen.RATE_LIMIT_TYPE]
    assert len(limits) == gen.BURST_RATE_LIMIT_EVENTS
    assert {e["debugContext"]["debugData"]["operationRateLimitSubtype"] for e in limits} == {"Voice call"}


def test_planting_is_optional() -> None:
    planted_ids = {*gen.FRAUD_USER_IDS, *gen.SHARED_NUMBER_USER_IDS, gen.BURST_USER_ID}
    small = list(gen.generate_events(gen.PLANT_MIN_EVENTS - 1, seed=2, start=START))
    assert not any(t["id"] in planted_ids for e in small for t in targets(e, "User"))
    skipped = list(gen.generate_events(gen.PLANT_MIN_EVENTS, seed=2, start=START, plant=False))
    assert not any(t["id"] in planted_ids for e in skipped for t in targets(e, "User"))
    forced = list(gen.generate_events(gen.PLANTED_EVENTS + 100, seed=2, start=START, plant=True))
    assert len(forced) == gen.PLANTED_EVENTS + 100
    assert {t["id"] for e in forced for t in targets(e, "User")} >= planted_ids
    assert sum(e["client"]["ipAddress"] == gen.FRAUD_IP for e in forced) == gen.FRAUD_EVENTS


def test_background_never_uses_planted_numbers(events: list[dict[str, Any]]) -> None:
    planted_ids = {*gen.FRAUD_USER_IDS, *gen.SHARED_NUMBER_USER_IDS, gen.BURST_USER_ID}
    reserved = {*gen.FRAUD_NUMBERS, gen.SHARED_NUMBER, gen.BURST_NUMBER}
    for event in sends(events):
        if targets(event, "User")[0]["id"] not in planted_ids:
            assert phone_of(event)[0] not in reserved


# --- NDJSON -------------------------------------------------------------------------------------


def test_write_ndjson_binary_round_trip(events: list[dict[str, Any]]) -> None:
    sample = events[:3000]
    sink = io.BytesIO()
    assert gen.write_ndjson(iter(sample), sink) == len(sample)
    lines = sink.getvalue().splitlines()
    assert len(lines) == len(sample)
    assert [orjson.loads(line) for line in lines] == sample
    assert all(b"\n" not in line and line.startswith(b"{") for line in lines)


def test_write_ndjson_text_and_empty() -> None:
    stream = list(gen.generate_events(20, seed=5, start=START))
    sink = io.StringIO()
    assert gen.write_ndjson(stream, sink) == 20
    assert [orjson.loads(line) for line in sink.getvalue().splitlines()] == stream
    empty = io.BytesIO()
    assert gen.write_ndjson([], empty) == 0
    assert empty.getvalue() == b""
