"""Redacted archives: the tokens (pure functions), on the real Okta samples and on generated events; then whole
archives: no original phone number, email or IP address left in the file's bytes, the planted toll-fraud
patterns still on top, and writes without the archive's key refused before anything is written."""

from __future__ import annotations

import copy
import ipaddress
import json
import pickle
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from okta_calls import generate
from okta_calls.flatten import flatten_event, phone_facts
from okta_calls.jsonio import canonical
from okta_calls.model import Incoming
from okta_calls.phones import CALLING_CODES, NANP_AREA_CODES, normalize_phone
from okta_calls.redact import Redactor
from tests.test_conformance import LOG_EVENT_FILES, events_in

KEY = b"0123456789abcdef0123456789abcdef-test-key"
OTHER_KEY = b"fedcba9876543210fedcba9876543210-other-key"


@pytest.fixture(scope="module")
def redactor() -> Redactor:
    return Redactor(KEY)


# --- originals: what must not survive, found independently of the redactor --------------------------------

EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d])")


def originals(event: Any, key: str = "", entity: str = "") -> Iterator[tuple[str, str]]:
    """(kind, value) of every phone number, email, IP address and person's name in a JSON value."""
    if isinstance(event, dict):
        kind = str(event.get("type", "")).lower()
        for name, value in event.items():
            if isinstance(value, str) and kind in ("user", "appuser") and name == "displayName" and value not in ("", "unknown"):
                yield "name", value
            if isinstance(value, str) and kind == "mobilephone" and name == "alternateId":
                yield "phone", value
            yield from originals(value, name, kind)
    elif isinstance(event, list):
        for item in event:
            yield from originals(item, key, entity)
    elif isinstance(event, str):
        if "phone" in key.lower() and normalize_phone(event) and re.fullmatch(r"\+?[\d\s().-]{6,}", event):
            yield "phone", event
        for email in EMAIL.findall(event):
            if "." in email.split("@")[1]:
                yield "email", email
        for ip in IPV4.findall(event):
            if all(int(part) <= 255 for part in ip.split(".")):
                yield "ip", ip
        try:
            if ":" in event and ipaddress.ip_address(event).version == 6:
                yield "ip", event
        except ValueError:
            pass


def assert_no_original(originals_of: list[tuple[str, str]], text: str) -> None:
    for kind, value in originals_of:
        # a name is looked for as a whole JSON string ("aardvark" is also inside Panther's id "0ua8aardvarkD697")
        assert (json.dumps(value, ensure_ascii=False) if kind == "name" else value) not in text, (kind, value)
        if kind == "phone":
            assert normalize_phone(value) not in text, (kind, value)


# --- phone tokens ------------------------------------------------------------------------------------------


def sample_numbers() -> list[str]:
    numbers = [f"+{code}{'7' if code == '1' else ''}0155512345"[:16] for code in CALLING_CODES]
    numbers += [f"+1{area}5550123" for area in NANP_AREA_CODES]
    numbers += ["+14155550123", "+16475550199", "+18765550101", "+77012345678", "+74951234567", "+447700900123",
                "14155550123", "+14xxxxxxxxx", "+1 XXX-XXX-0123", "+999123456", "+1555555555"]
    return numbers


def test_phone_tokens_keep_calling_code_country_and_last_two_digits(redactor: Redactor) -> None:
    tokens: dict[str, str] = {}
    for number in sample_numbers():
        token = redactor.phone(number)
        assert token is not None and token != normalize_phone(number), number
        assert normalize_phone(token) == token, number  # already in the archive's normal form
        assert phone_facts(token, None)[1:] == phone_facts(number, None)[1:], number
        assert phone_facts(token, "44")[1:] == phone_facts(number, "44")[1:], number
        normal = normalize_phone(number) or ""
        assert token[-2:] == normal[-2:], number
        assert ("x" in token) == ("x" in normal), number  # masked stays masked (and out of the fraud ranking)
        assert len(token.lstrip("+")) <= 18, number
        tokens.setdefault(token, number)
    assert len(tokens) == len(set(map(normalize_phone, sample_numbers())))  # distinct numbers, distinct tokens


def test_phone_tokens_are_deterministic_keyed_and_format_blind(redactor: Redactor) -> None:
    same = {redactor.phone(n) for n in ("+14155550123", "+1 (415) 555-0123", "+1.415.555.0123", " +14155550123 ")}
    assert len(same) == 1
    assert Redactor(KEY).phone("+14155550123") in same
    assert Redactor(OTHER_KEY).phone("+14155550123") not in same
    assert redactor.phone("+14155550124") not in same
    assert redactor.phone(14155550123) == redactor.phone("14155550123")
    assert redactor.phone("Mobile Phone") is None and redactor.phone("12") is None


def test_email_ip_name_tokens(redactor: Redactor) -> None:
    email = redactor.email("John.Doe@Example.com")
    assert re.fullmatch(r"anon-[0-9a-f]{16}@example\.com", email)
    assert redactor.email("john.doe@example.com") == email != redactor.email("john.doe@example.org")
    assert redactor.text("user=john.doe%40example.com") == "user=" + email.replace("@", "%40")
    v4, v6 = redactor.ip("198.51.100.7"), redactor.ip("2001:db8::7")
    assert v4 and v4.startswith("fd04:") and ipaddress.ip_address(v4).version == 6
    assert v6 and v6.startswith("fd06:") and v6 != v4
    assert redactor.ip("::ffff:198.51.100.7") == redactor.ip("198.51.100.007") == v4
    assert redactor.ip("not an ip") is None
    assert redactor.name("Jane  Doe") == redactor.name("jane doe") != redactor.name("Jane Roe")
    assert redactor.token("198.51.100.7") == v4 and redactor.token("john.doe@example.com") == email
    assert redactor.token("+1 415 555 0123") == redactor.phone("+14155550123")
    with pytest.raises(ValueError):
        redactor.token("Jane Doe")
    assert redactor.token("Jane Doe", "name") == redactor.name("Jane Doe")


def test_free_text_is_scanned_and_the_rest_kept(redactor: Redactor) -> None:
    text = ("Profile reload for john.smith@example.com from 10.0.0.1 and [2001:db8::1]:443, call +1 415 555 0123 "
            "at 2024-01-01T12:00:00.000Z; req X7LBsMxeqO-ADcGcmp0WGQAAB@g; Chrome/84.0.4147.105")
    redacted = redactor.text(text)
    for gone in ("john.smith", "10.0.0.1", "2001:db8::1", "415 555 0123"):
        assert gone not in redacted
    for kept in ("Profile reload for", "2024-01-01T12:00:00.000Z", "X7LBsMxeqO-ADcGcmp0WGQAAB@g", "Chrome/84.0.4147.105"):
        assert kept in redacted
    nested = redactor.text('{"phoneNumber": "14155550123", "n": 1}')
    assert "14155550123" not in nested and json.loads(nested)["n"] == 1


def test_the_key_never_shows(redactor: Redactor) -> None:
    assert KEY.decode() not in repr(redactor) and redactor.fingerprint in repr(redactor)
    assert pickle.loads(pickle.dumps(redactor)).phone("+14155550123") == redactor.phone("+14155550123")
    with pytest.raises(ValueError) as short:
        Redactor(b"too short")
    assert "too short" not in str(short.value)


# --- whole events: the samples and the generator -----------------------------------------------------------


def check_event(redactor: Redactor, event: dict[str, Any]) -> dict[str, Any]:
    """Redact one event and check what must change and what must not."""
    before = copy.deepcopy(event)
    redacted = redactor.redact_event(event)
    assert event == before  # the input is not changed
    assert_no_original(list(originals(event)), json.dumps(redacted, ensure_ascii=False))
    if isinstance(event.get("uuid"), str):
        flat, red = flatten_event(event), flatten_event(redacted)
        for column in ("uuid", "published", "event_type", "country_calling_code", "phone_country", "client_city",
                       "client_country", "latitude", "as_number", "as_org", "outcome_result"):
            assert red.event[column] == flat.event[column], column
        for column in ("user_id", "actor_id"):  # Okta ids stay; an actor of type "IP address" has its IP as id
            original = flat.event[column]
            assert red.event[column] == (redactor.text(original) if original else original), column
        for column in ("phone_number", "client_ip"):
            assert (red.event[column] is None) == (flat.event[column] is None), column
        assert len(red.targets) == len(flat.targets) and len(red.ip_chain) == len(flat.ip_chain)
        assert [row[0] for row in red.debug_data] == [row[0] for row in flat.debug_data]
    assert redactor.redact_event(event) == redacted  # deterministic
    return redacted


def test_real_samples(samples_dir: Path, redactor: Redactor) -> None:
    found: set[str] = set()
    for name in LOG_EVENT_FILES:
        for event in events_in(samples_dir / name):
            check_event(redactor, event)
            found |= {kind for kind, _ in originals(event)}
    panther = json.loads((samples_dir / "panther-analysis__okta_rules_test_logs.json").read_text())
    for wrapper in panther:
        check_event(redactor, wrapper["Log"])
        found |= {kind for kind, _ in originals(wrapper["Log"])}
    fragments = json.loads((samples_dir / "okta-developer-docs__guides-oie-upgrade-event-hooks__phone-fragments.json").read_text())
    for fragment in fragments:
        redacted = redactor.redact_value(fragment)
        assert_no_original(list(originals(fragment)), json.dumps(redacted))
    assert found == {"phone", "email", "ip", "name"}  # every kind was exercised


def test_generated_events_map_one_to_one(redactor: Redactor) -> None:
    events = list(generate.generate_events(3000, seed=11))
    phones: dict[str, set[str]] = {}
    ips: dict[str, set[str]] = {}
    for event in events:
        redacted = check_event(redactor, event)
        flat, red = flatten_event(event).event, flatten_event(redacted).event
        if flat["phone_number"]:
            phones.setdefault(flat["phone_number"], set()).add(red["phone_number"])
        if flat["client_ip"]:
            ips.setdefault(flat["client_ip"], set()).add(red["client_ip"])
    for mapping in (phones, ips):
        assert all(len(tokens) == 1 for tokens in mapping.values())  # equal in, equal out
        assert len({next(iter(tokens)) for tokens in mapping.values()}) == len(mapping)  # different in, different out
    assert len(phones) > 500 and len(ips) > 500


def test_rejected_text_is_withheld_and_items_are_not_changed(redactor: Redactor) -> None:
    from okta_calls.redaction import redact_items

    line = '{"uuid": "x", "phoneNumber": "+14155550123", broken'
    event = {"uuid": "u1", "actor": {"type": "User", "alternateId": "a@example.com"}}
    items = [Incoming(None, line, "f", 1, "not JSON"), Incoming(event, None, "f", 2)]
    bad, good = redact_items(items, redactor)
    assert bad.raw is not None and "4155550123" not in bad.raw and str(len(line)) in bad.raw and bad.error == "not JSON"
    assert good.raw is not None and "a@example.com" not in good.raw and json.loads(good.raw) == good.event
    assert items[1].event == {"uuid": "u1", "actor": {"type": "User", "alternateId": "a@example.com"}}
    assert canonical(good.event) != canonical(event)
