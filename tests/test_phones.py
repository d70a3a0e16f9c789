"""Tests for okta_calls.phones: normalisation, calling codes, destination countries, IRSF heuristics."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from okta_calls.phones import (
    CALLING_CODES,
    HIGH_RISK_CALLING_CODES,
    HIGH_RISK_COUNTRIES,
    NANP_AREA_CODES,
    calling_code,
    country_for_calling_code,
    is_high_cost_destination,
    is_high_risk_number,
    normalize_phone,
    phone_country,
)

# --- normalize_phone ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("+14155550123", "+14155550123"),
        ("+1 (415) 555-0123", "+14155550123"),
        ("  +44 7700 900123 ", "+447700900123"),
        ("+33.6.39.98.12.34", "+33639981234"),
        ("+49 (0)151-2345 6789", "+49015123456789"),
        ("14155550123", "14155550123"),  # no plus: never invented
        ("(415) 555-0123", "4155550123"),
        ("+14xxxxxxxxx", "+14xxxxxxxxx"),  # Okta's masked form
        ("+14XXXXXXXXX", "+14xxxxxxxxx"),
        ("+1 XXX-XXX-0123", "+1xxxxxx0123"),
        ("+1\u00a0415\u2011555\u20110123", "+14155550123"),  # no-break space and non-breaking hyphens
        (14155550123, "14155550123"),
        (14155550123.0, "14155550123"),
        ("+1555555555", "+1555555555"),  # Okta's documented example, kept as is
    ],
)
def test_normalize_phone_numbers(value: object, expected: str) -> None:
    assert normalize_phone(value) == expected


@pytest.mark.parametrize("value", [None, "", "   ", "null", "NULL", " Null "])
def test_normalize_phone_nulls(value: object) -> None:
    assert normalize_phone(value) is None


@pytest.mark.parametrize(
    "value",
    [
        "unknown",
        "+1 415 555 0123 ext. 7",
        "tel:+14155550123",
        "mbl3p075rwLbODqXZ0g7",
        "+",
        "xx",
        "12",  # too short to be a phone number
        "+1-2",
        "1234567890123456789012",  # too long
    ],
)
def test_normalize_phone_keeps_what_is_not_a_number(value: str) -> None:
    assert normalize_phone(value) == value.strip()


def test_normalize_phone_trims_non_numbers_but_keeps_them() -> None:
    assert normalize_phone("  unknown  ") == "unknown"
    assert normalize_phone(True) == "True"


@given(st.text(max_size=40))
def test_normalize_phone_never_loses_digits(value: str) -> None:
    result = normalize_phone(value)
    if result is None:
        assert value.strip().lower() in {"", "null"}
    else:
        assert [c for c in result if c in "0123456789"] == [c for c in value.strip() if c in "0123456789"]


@given(st.text(alphabet="+0123456789 ()-.xX", max_size=25))
def test_normalize_phone_is_idempotent(value: str) -> None:
    once = normalize_phone(value)
    assert normalize_phone(once) == once


# --- calling_code -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("+14155550123", "1"),
        ("+14xxxxxxxxx", "1"),
        ("+1 (876) 555-0123", "1"),
        ("+447700900123", "44"),
        ("+2348012345678", "234"),
        ("+8801712345678", "880"),
        ("+79161234567", "7"),
        ("+77011234567", "7"),
        ("+33639981234", "33"),
        ("+2520612345678", "252"),
        ("+88216123456", "882"),
        ("+883510012345", "883"),
        ("+8816xxxxxxxx", "881"),
        ("+3712xxxxxxx", "371"),
        ("+370 612 34567", "370"),
        ("+5999 123 4567", "599"),
        ("+6881234", "688"),
        ("+35320910xxxx", "353"),
        ("+9725xxxxxxxx", "972"),
    ],
)
def test_calling_code(number: str, code: str) -> None:
    assert calling_code(number) == code


@pytest.mark.parametrize(
    "number",
    [None, "", "null", "14155550123", "004477009001", "+", "+0123456", "+x4155550123", "+28012345",
     "unknown", "+999123456", "+xxxxxxxxxxx"],
)
def test_calling_code_not_derivable(number: str | None) -> None:
    assert calling_code(number) is None


def test_calling_codes_are_a_prefix_code() -> None:
    codes = list(CALLING_CODES)
    assert all(code.isdigit() and 1 <= len(code) <= 3 for code in codes)
    for code in codes:
        for other in codes:
            assert code == other or not other.startswith(code)


def test_calling_code_table_is_complete_enough() -> None:
    assert len(CALLING_CODES) >= 210
    expected = {
        "1": "US", "7": "RU", "20": "EG", "27": "ZA", "44": "GB", "49": "DE", "33": "FR", "91": "IN",
        "55": "BR", "61": "AU", "81": "JP", "86": "CN", "234": "NG", "880": "BD", "252": "SO", "232": "SL",
        "224": "GN", "53": "CU", "371": "LV", "370": "LT", "676": "TO", "682": "CK", "383": "XK",
        "998": "UZ", "211": "SS", "290": "SH", "599": "CW", "672": "NF", "886": "TW", "970": "PS",
    }
    for code, iso2 in expected.items():
        assert CALLING_CODES[code].iso2 == iso2, code
    for service in ("800", "808", "870", "881", "882", "883", "979"):
        assert CALLING_CODES[service].iso2 is None
        assert CALLING_CODES[service].name
    # A row unpacks as (iso2, name), for building a SQL lookup table.
    nanp_iso2, nanp_name = CALLING_CODES["1"]
    assert (nanp_iso2, nanp_name) == ("US", "United States / NANP")


# --- country lookups ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("44", ("GB", "United Kingdom")),
        ("+44", ("GB", "United Kingdom")),
        (44, ("GB", "United Kingdom")),
        ("1", ("US", "United States / NANP")),
        ("7", ("RU", "Russia")),
        ("882", (None, "International Networks")),
        ("999", (None, None)),
        ("", (None, None)),
        (None, (None, None)),
        ("abc", (None, None)),
    ],
)
def test_country_for_calling_code(code: object, expected: tuple[str | None, str | None]) -> None:
    assert country_for_calling_code(code) == expected


@pytest.mark.parametrize(
    ("number", "iso2", "name"),
    [
        ("+18765550123", "JM", "Jamaica"),
        ("+16585550123", "JM", "Jamaica"),
        ("+18095550123", "DO", "Dominican Republic"),
        ("+18295550123", "DO", "Dominican Republic"),
        ("+18495550123", "DO", "Dominican Republic"),
        ("+12425550123", "BS", "Bahamas"),
        ("+12465550123", "BB", "Barbados"),
        ("+12685550123", "AG", "Antigua and Barbuda"),
        ("+14735550123", "GD", "Grenada"),
        ("+16645550123", "MS", "Montserrat"),
        ("+16495550123", "TC", "Turks and Caicos Islands"),
        ("+17675550123", "DM", "Dominica"),
        ("+17845550123", "VC", "Saint Vincent and the Grenadines"),
        ("+17585550123", "LC", "Saint Lucia"),
        ("+18695550123", "KN", "Saint Kitts and Nevis"),
        ("+14415550123", "BM", "Bermuda"),
        ("+13455550123", "KY", "Cayman Islands"),
        ("+12845550123", "VG", "British Virgin Islands"),
        ("+13405550123", "VI", "U.S. Virgin Islands"),
        ("+16705550123", "MP", "Northern Mariana Islands"),
        ("+16715550123", "GU", "Guam"),
        ("+16845550123", "AS", "American Samoa"),
        ("+17215550123", "SX", "Sint Maarten"),
        ("+18685550123", "TT", "Trinidad and Tobago"),
        ("+19395550123", "PR", "Puerto Rico"),
        ("+17875550123", "PR", "Puerto Rico"),
        ("+1 (416) 555-0123", "CA", "Canada"),
        ("+16045550123", "CA", "Canada"),
        ("+15145550123", "CA", "Canada"),
        ("+18675550123", "CA", "Canada"),
        ("+14155550123", "US", "United States"),
        ("+12025550147", "US", "United States"),
        ("+1876xxxxxxx", "JM", "Jamaica"),  # masked after the area code
        ("+14xxxxxxxxx", "US", "United States / NANP"),  # area code masked: only the calling code
        ("+1555555555", "US", "United States"),
        ("+447700900123", "GB", "United Kingdom"),
        ("+79161234567", "RU", "Russia"),
        ("+77011234567", "KZ", "Kazakhstan"),
        ("+76xxxxxxxxx", "KZ", "Kazakhstan"),
        ("+2348031234567", "NG", "Nigeria"),
        ("+8801712345678", "BD", "Bangladesh"),
        ("+88216123456", None, "International Networks"),
    ],
)
def test_phone_country(number: str, iso2: str | None, name: str) -> None:
    assert phone_country(number) == (iso2, name)


def test_phone_country_falls_back_to_the_calling_code() -> None:
    assert phone_country(None, "44") == ("GB", "United Kingdom")
    assert phone_country("null", "1") == ("US", "United States / NANP")
    assert phone_country("4155550123", "1") == ("US", "United States / NANP")  # bare national number
    assert phone_country("+xxxxxxxxxxx", "252") == ("SO", "Somalia")
    # The number wins over a calling code that disagrees with it.
    assert phone_country("+18765550123", "1") == ("JM", "Jamaica")
    assert phone_country("+447700900123", "33") == ("GB", "United Kingdom")
    assert phone_country(None) == (None, None)
    assert phone_country("garbage", None) == (None, None)


def test_nanp_area_codes() -> None:
    assert all(len(area) == 3 and area.isdigit() for area in NANP_AREA_CODES)
    assert NANP_AREA_CODES["876"].iso2 == "JM"
    assert NANP_AREA_CODES["416"].iso2 == "CA"
    assert "415" not in NANP_AREA_CODES  # United States codes are the default, not listed
    assert "212" not in NANP_AREA_CODES


# --- high-risk destinations ---------------------------------------------------------------------


@pytest.mark.parametrize("iso2", ["JM", "jm", " CU ", "SO", "SL", "GN", "LV", "LT", "TO", "CK", "NR", "DO"])
def test_high_cost_destinations(iso2: str) -> None:
    assert is_high_cost_destination(iso2)


@pytest.mark.parametrize("iso2", ["US", "CA", "GB", "DE", "FR", "IN", "", None, "ZZ"])
def test_not_high_cost_destinations(iso2: str | None) -> None:
    assert not is_high_cost_destination(iso2)


def test_high_risk_calling_codes() -> None:
    for code in ("881", "882", "883", "870", "979", "252", "232", "224", "53", "371", "370", "676", "682"):
        assert code in HIGH_RISK_CALLING_CODES, code
    for code in ("1", "44", "49", "33", "91", "86"):
        assert code not in HIGH_RISK_CALLING_CODES, code
    assert HIGH_RISK_COUNTRIES >= {"SO", "SL", "GN", "CU", "LV", "LT"}


@pytest.mark.parametrize(
    ("number", "calling", "expected"),
    [
        ("+18765550123", None, True),  # Jamaica behind +1
        ("+14155550123", None, False),
        ("+88216123456", None, True),  # satellite / international networks, no country
        ("+2520612345678", None, True),
        ("+447700900123", None, False),
        (None, "882", True),
        (None, "44", False),
        ("+14xxxxxxxxx", "1", False),
        (None, None, False),
    ],
)
def test_is_high_risk_number(number: str | None, calling: str | None, expected: bool) -> None:
    assert is_high_risk_number(number, calling) is expected
