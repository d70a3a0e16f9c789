"""A seeded generator of realistic, synthetic Okta System Log telephony events.

``generate_events(count, seed=...)`` streams exactly ``count`` LogEvent dicts shaped like Okta's (see
../shared/OKTA.md sections 2 and 3): phone verification calls and SMS, their siblings (MFA challenge,
password reset, account unlock, ...), one ``system.{sms,voice}.receive_status`` per send that reached the
provider, and a few ``system.operation.rate_limit.violation`` events. It is used by ``make demo`` and the
benchmarks, so it streams in constant memory and is fast (tens of thousands of events per second).

What it models:

* An org of a few thousand users upgraded from Classic Engine to Identity Engine at ``OIE_UPGRADE_AT``
  (a fraction of the window). Before it, a send carries the phone as a ``MobilePhone`` target; after it,
  as ``debugContext.debugData.phoneNumber`` + ``countryCallingCode``. A ``User`` target is always present.
* Stable per-user data: login, name, phone, factor ids, user agents, home/office/VPN IPs. Phone numbers
  come from reserved fictional ranges where a country has one (NANP 555-01xx, UK 07700 900xxx, AU 0491
  570xxx, FR 06 39 98xxxx, IE 020 910xxxx); elsewhere they are only valid-looking. Every IP has one
  consistent city, state, country, postal code, geolocation, ASN, ISP, domain and network zone; addresses
  are synthetic hosts in ISP-like prefixes, the planted attacker's in TEST-NET-3.
* Daily and weekly traffic cycles; events come out in persistence order, so ``published`` is mostly
  ascending with small jitter and a few late arrivals, as Okta's polling API returns them.
* Quirks of real data: ``"zone": "null"`` (a string), a rare ``"ipAddress": "null"``, numeric postal codes,
  ``debugData`` values as strings (``"threatSuspected": "false"``, ``"risk": "{level=LOW}"``), targets in
  varying order, ``SystemPrincipal`` actors with an all-null client and an empty ``ipChain``.
* Three planted toll-fraud patterns (module constants below), present when ``count >= PLANT_MIN_EVENTS``
  or when asked with ``plant=True``: an SMS/voice pumping attack from ``FRAUD_IP``, a number shared by
  ``SHARED_NUMBER_USERS`` users, and a call burst by ``BURST_USER_ID``.

Modelling choices where Okta documents nothing (inferences, kept consistent so analytics can rely on them):

* The telephony provider is in ``debugData.smsProvider`` for SMS *and* voice events: it is the only
  documented key (Identity Engine SMS), and one key keeps both channels in one column.
* Every send that reached the provider (outcome ``SUCCESS`` or ``FAILURE``) has exactly one
  ``receive_status`` a few seconds later, with the same phone in the same shape, the same actor and client,
  and the provider's status in ``debugData.status``. A send Okta blocked (outcome ``DENY``) never reached a
  provider and has no status event.
* The phone shape (target vs ``debugData``) applies to every ``system.sms.*``/``system.voice.*`` send and
  status, not only the two phone-verification types.
* ``displayMessage`` and ``outcome.reason`` texts of the less documented types are plausible, not copied.
"""

from __future__ import annotations

import binascii
import bisect
import heapq
import io
import logging
import math
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import IO, Any, cast

import orjson

from .phones import calling_code

__all__ = [
    "BURST_AT",
    "BURST_CALLS",
    "BURST_DENIED",
    "BURST_EVENTS",
    "BURST_NUMBER",
    "BURST_RATE_LIMIT_EVENTS",
    "BURST_USER_ID",
    "BURST_WINDOW",
    "FRAUD_ASN",
    "FRAUD_AT",
    "FRAUD_COUNTRY",
    "FRAUD_DENIED",
    "FRAUD_DISTINCT_NUMBERS",
    "FRAUD_EVENTS",
    "FRAUD_IP",
    "FRAUD_NUMBERS",
    "FRAUD_RATE_LIMIT_EVENTS",
    "FRAUD_SENDS",
    "FRAUD_USER_IDS",
    "FRAUD_WINDOW",
    "OIE_UPGRADE_AT",
    "PLANTED_EVENTS",
    "PLANT_MIN_EVENTS",
    "PROVIDER_KEY",
    "RATE_LIMIT_TYPE",
    "RECEIVE_STATUS_TYPES",
    "SEND_TYPES",
    "SHARED_NUMBER",
    "SHARED_NUMBER_EVENTS",
    "SHARED_NUMBER_SPAN",
    "SHARED_NUMBER_USERS",
    "SHARED_NUMBER_USER_IDS",
    "SYSTEM_PRINCIPAL_ID",
    "default_start",
    "generate_events",
    "planted_window",
    "write_ndjson",
]

log = logging.getLogger(__name__)

# --------------------------------------------------------------------------------------------------------
# Public constants
# --------------------------------------------------------------------------------------------------------

#: debugData key holding the telephony provider, for SMS and voice alike (see the module docstring).
PROVIDER_KEY = "smsProvider"

#: The org moves from Classic Engine to Identity Engine at this fraction of the window.
OIE_UPGRADE_AT = 0.5

#: Sends, by channel. Each one that reaches the provider is followed by one receive_status of its channel.
SEND_TYPES: dict[str, tuple[str, ...]] = {
    "sms": (
        "system.sms.send_phone_verification_message",
        "system.sms.send_factor_verify_message",
        "system.sms.send_password_reset_message",
        "system.sms.send_account_unlock_message",
        "system.sms.send_okta_push_verify_message",
    ),
    "voice": (
        "system.voice.send_phone_verification_call",
        "system.voice.send_mfa_challenge_call",
        "system.voice.send_password_reset_call",
        "system.voice.send_account_unlock_call",
        "system.voice.send_call",
    ),
}
RECEIVE_STATUS_TYPES: dict[str, str] = {
    "sms": "system.sms.receive_status",
    "voice": "system.voice.receive_status",
}
RATE_LIMIT_TYPE = "system.operation.rate_limit.violation"

SYSTEM_PRINCIPAL_ID = "spr1k0b2qQ8xTzR4H1d7"

# (a) SMS/voice pumping (International Revenue Share Fraud) from one datacenter IP behind a proxy:
# throwaway Identity Engine users, sequential numbers in Jamaica reached through NANP "+1 876" (a
# classic toll-fraud destination that blocking by calling code misses, as it is "+1"), DENY outcomes near
# the end. FRAUD_IP is in TEST-NET-3 (RFC 5737), labelled with a datacenter ASN.
FRAUD_IP = "203.0.113.77"
FRAUD_ASN = 14061
FRAUD_COUNTRY = "JM"
FRAUD_USER_IDS: tuple[str, ...] = (
    "00uFRAUD01pmp7Qx21d7",
    "00uFRAUD02tZk4Wn81d7",
    "00uFRAUD03hq9Lc6V1d7",
    "00uFRAUD04Bv3xNs51d7",
    "00uFRAUD05gJ8rYd01d7",
    "00uFRAUD06Ke2mPw71d7",
)
FRAUD_DISTINCT_NUMBERS = 40
FRAUD_NUMBERS: tuple[str, ...] = tuple(f"+18765550{100 + i:03d}" for i in range(FRAUD_DISTINCT_NUMBERS))
FRAUD_SENDS = 52
FRAUD_DENIED = 16
FRAUD_RATE_LIMIT_EVENTS = 4
FRAUD_WINDOW = timedelta(minutes=20)
FRAUD_AT = 0.62
FRAUD_EVENTS = FRAUD_SENDS + (FRAUD_SENDS - FRAUD_DENIED) + FRAUD_RATE_LIMIT_EVENTS

# (b) One (fictional NANP) number enrolled by many different users, spread over the window; each user
# verifies it once, from their own residential IP, in whichever engine the org runs at the time.
SHARED_NUMBER = "+12025550147"
SHARED_NUMBER_USERS = 15
SHARED_NUMBER_USER_IDS: tuple[str, ...] = tuple(
    f"00uSHARED{i:02d}nQ4zX81d7" for i in range(SHARED_NUMBER_USERS)
)
SHARED_NUMBER_EVENTS = 2 * SHARED_NUMBER_USERS
SHARED_NUMBER_SPAN = (0.10, 0.90)

# (c) One Classic Engine user asking for a voice call again and again (MFA fatigue or a script).
BURST_USER_ID = "00uBURST01cLk9Tq31d7"
BURST_NUMBER = "+13125550188"
BURST_CALLS = 30
BURST_DENIED = 4
BURST_RATE_LIMIT_EVENTS = 2
BURST_WINDOW = timedelta(minutes=10)
BURST_AT = 0.30
BURST_EVENTS = BURST_CALLS + (BURST_CALLS - BURST_DENIED) + BURST_RATE_LIMIT_EVENTS

PLANTED_EVENTS = FRAUD_EVENTS + SHARED_NUMBER_EVENTS + BURST_EVENTS
#: Planted patterns are added automatically from this many events on (they stay under 2% of the total).
PLANT_MIN_EVENTS = 10_000

# --------------------------------------------------------------------------------------------------------
# Reference data
# --------------------------------------------------------------------------------------------------------

_USERS = 3000
_ID_SUFFIX = "1d7"
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_HOUR_MS = 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_UUID_EPOCH_OFFSET = 0x01B21DD213814000  # 100-ns intervals between 1582-10-15 and 1970-01-01
_UUID_TAILS = 4096
_OKTA_DASHBOARD_CLIENT = "okta.2b1959c8-bcc0-56eb-a589-cfcfb7422f26"
_EMAIL_DOMAIN = "example.com"

# Country -> (weight of users, English name, [(city, state, lat, lon, postal codes)]).
_COUNTRIES: dict[str, tuple[float, str, tuple[tuple[str, str, float, float, tuple[str, ...]], ...]]] = {
    "US": (38, "United States", (
        ("San Francisco", "California", 37.7897, -122.3972, ("94105", "94107", "94110")),
        ("New York", "New York", 40.7143, -74.006, ("10013", "10001", "10016")),
        ("Chicago", "Illinois", 41.8781, -87.6298, ("60601", "60614")),
        ("Austin", "Texas", 30.2672, -97.7431, ("78701", "78704")),
        ("Seattle", "Washington", 47.6062, -122.3321, ("98101", "98109")),
        ("Boston", "Massachusetts", 42.3601, -71.0589, ("02110", "02116")),
        ("Atlanta", "Georgia", 33.749, -84.388, ("30303", "30309")),
        ("Denver", "Colorado", 39.7392, -104.9903, ("80202",)),
        ("Los Angeles", "California", 34.0522, -118.2437, ("90012", "90028")),
        ("Miami", "Florida", 25.7617, -80.1918, ("33131",)),
        ("Dallas", "Texas", 32.7767, -96.797, ("75201",)),
    )),
    "CA": (6, "Canada", (
        ("Toronto", "Ontario", 43.6567, -79.34, ("M4M", "M5V")),
        ("Vancouver", "British Columbia", 49.2827, -123.1207, ("V6B",)),
        ("Montreal", "Quebec", 45.5017, -73.5673, ("H2Y",)),
        ("Calgary", "Alberta", 51.0447, -114.0719, ("T2P",)),
    )),
    "GB": (10, "United Kingdom", (
        ("London", "England", 51.5085, -0.1257, ("EC1A", "SW1A", "E14")),
        ("Manchester", "England", 53.4808, -2.2426, ("M1",)),
        ("Edinburgh", "Scotland", 55.9533, -3.1883, ("EH1",)),
        ("Bristol", "England", 51.4545, -2.5879, ("BS1",)),
    )),
    "DE": (8, "Germany", (
        ("Berlin", "Land Berlin", 52.52, 13.405, ("10115", "10178")),
        ("Munich", "Bavaria", 48.1351, 11.582, ("80331",)),
        ("Hamburg", "Hamburg", 53.5511, 9.9937, ("20095",)),
        ("Frankfurt am Main", "Hesse", 50.1109, 8.6821, ("60311",)),
    )),
    "FR": (6, "France", (
        ("Paris", "Île-de-France", 48.8566, 2.3522, ("75001", "75008", "75011")),
        ("Lyon", "Auvergne-Rhône-Alpes", 45.764, 4.8357, ("69001",)),
        ("Toulouse", "Occitanie", 43.6047, 1.4442, ("31000",)),
    )),
    "IN": (10, "India", (
        ("Bengaluru", "Karnataka", 12.9716, 77.5946, ("560001", "560103")),
        ("Mumbai", "Maharashtra", 19.076, 72.8777, ("400001",)),
        ("Hyderabad", "Telangana", 17.385, 78.4867, ("500081",)),
        ("Pune", "Maharashtra", 18.5204, 73.8567, ("411001",)),
    )),
    "BR": (5, "Brazil", (
        ("São Paulo", "Sao Paulo", -23.5505, -46.6333, ("01310", "04538")),
        ("Rio de Janeiro", "Rio de Janeiro", -22.9068, -43.1729, ("20040",)),
    )),
    "AU": (4, "Australia", (
        ("Sydney", "New South Wales", -33.8688, 151.2093, ("2000",)),
        ("Melbourne", "Victoria", -37.8136, 144.9631, ("3000",)),
    )),
    "JP": (3, "Japan", (
        ("Tokyo", "Tokyo", 35.6762, 139.6503, ("100-0001", "150-0002")),
        ("Osaka", "Osaka", 34.6937, 135.5023, ("530-0001",)),
    )),
    "ES": (2, "Spain", (("Madrid", "Madrid", 40.4168, -3.7038, ("28001",)),
                        ("Barcelona", "Catalonia", 41.3874, 2.1686, ("08001",)))),
    "IT": (2, "Italy", (("Milan", "Lombardy", 45.4642, 9.19, ("20121",)),
                        ("Rome", "Lazio", 41.9028, 12.4964, ("00118",)))),
    "NL": (2, "Netherlands", (("Amsterdam", "North Holland", 52.3676, 4.9041, ("1012",)),)),
    "MX": (2, "Mexico", (("Mexico City", "Mexico City", 19.4326, -99.1332, ("06000",)),)),
    "IE": (1, "Ireland", (("Dublin", "Leinster", 53.3498, -6.2603, ("D02",)),)),
    "SG": (1, "Singapore", (("Singapore", "Central Singapore", 1.2897, 103.8501, ("018989",)),)),
}

# ISPs per country: (asNumber, asOrg, isp, domain, address prefixes). Prefixes ending in ":" are IPv6.
_ISPS: dict[str, tuple[tuple[int, str, str, str, tuple[str, ...]], ...]] = {
    "US": (
        (7922, "comcast cable communications, llc", "comcast cable", "comcast.net", ("73.170", "24.4", "98.207")),
        (7018, "at&t corp.", "att services inc", "sbcglobal.net", ("99.43", "107.77", "76.201")),
        (701, "verizon business", "verizon fios", "verizon.net", ("71.178", "108.35", "96.255")),
        (20115, "charter communications", "spectrum", "spectrum.com", ("47.147", "66.91", "97.92")),
        (21928, "t-mobile usa, inc.", "t-mobile usa", "tmodns.net", ("2607:fb90:", "172.56")),
    ),
    "CA": (
        (812, "rogers communications canada inc.", "rogers", "rogers.com", ("99.230", "174.112")),
        (577, "bell canada", "bell canada", "bell.ca", ("142.126", "70.49")),
        (852, "telus communications inc.", "telus", "telus.net", ("154.20", "75.156")),
    ),
    "GB": (
        (2856, "british telecommunications plc", "bt", "btcentralplus.com", ("86.128", "81.129")),
        (5089, "virgin media limited", "virgin media", "virginm.net", ("82.14", "81.98")),
        (5607, "sky uk limited", "sky broadband", "sky.com", ("2.99", "90.216")),
    ),
    "DE": (
        (3320, "deutsche telekom ag", "deutsche telekom ag", "t-ipconnect.de", ("79.192", "87.123", "91.41")),
        (3209, "vodafone gmbh", "vodafone germany", "vodafone.de", ("88.64", "94.134")),
    ),
    "FR": (
        (3215, "orange s.a.", "orange", "orange.fr", ("90.3", "86.246")),
        (12322, "free sas", "free", "proxad.net", ("78.192", "88.160")),
        (15557, "societe francaise du radiotelephone - sfr sa", "sfr", "sfr.net", ("109.6", "93.22")),
    ),
    "IN": (
        (55836, "reliance jio infocomm limited", "reliance jio", "jio.com", ("49.36", "157.32")),
        (24560, "bharti airtel ltd.", "bharti airtel", "airtel.in", ("122.161", "182.64")),
    ),
    "BR": (
        (18881, "telefonica brasil s.a", "vivo", "telesp.net.br", ("177.103", "189.100")),
        (28573, "claro nxt telecomunicacoes ltda", "claro", "virtua.com.br", ("177.32", "179.191")),
    ),
    "AU": (
        (1221, "telstra corporation ltd", "telstra", "bigpond.net.au", ("101.160", "120.16")),
        (4804, "optus internet", "optus", "optusnet.com.au", ("49.176", "112.213")),
    ),
    "JP": (
        (4713, "ntt communications corporation", "ntt ocn", "ocn.ne.jp", ("153.140", "60.36")),
        (2516, "kddi corporation", "kddi", "au-net.ne.jp", ("106.128", "111.104")),
        (17676, "softbank corp.", "softbank", "bbtec.net", ("126.0", "126.75")),
    ),
    "ES": ((3352, "telefonica de espana", "movistar", "rima-tde.net", ("83.38", "88.0")),),
    "IT": ((3269, "telecom italia s.p.a.", "tim", "telecomitalia.it", ("79.11", "93.36")),),
    "NL": ((1136, "kpn b.v.", "kpn", "kpn.net", ("77.160", "84.104")),),
    "MX": ((8151, "uninet s.a. de c.v.", "telmex", "prod-infinitum.com.mx", ("189.146", "187.190")),),
    "IE": ((5466, "eircom limited", "eir", "eircom.net", ("86.40", "87.198")),),
    "SG": ((9506, "singtel fibre broadband", "singtel", "singnet.com.sg", ("116.86", "220.255")),),
}

# Corporate offices: several users behind one NAT address, in a named network zone.
_OFFICES: tuple[tuple[str, int, int, str, str, str, str], ...] = (
    ("US", 0, 3356, "level 3 parent, llc", "lumen", "lumen.com", "4.14.88"),
    ("GB", 0, 8220, "colt technology services group limited", "colt", "colt.net", "212.36.12"),
    ("DE", 0, 3320, "deutsche telekom ag", "deutsche telekom business", "telekom.de", "80.146.200"),
    ("IN", 0, 4755, "tata communications limited", "tata communications", "tatacommunications.com", "115.112.40"),
)
_OFFICE_ZONE = "Corporate Network"

# Commercial VPN exits some legitimate users sit behind (isProxy true): noise for proxy-based rules.
_VPNS: tuple[tuple[int, str, str, str, str, str], ...] = (
    (9009, "m247 europe srl", "m247 ltd", "m247.com", "146.70", "NL"),
    (60068, "datacamp limited", "datacamp limited", "cdn77.com", "89.187", "DE"),
)

# Real browser user agents: (raw user agent, os, browser, device, weight).
_BLINK = "AppleWebKit/537.36 (KHTML, like Gecko)"
_CHROME = "Chrome/124.0.0.0 Safari/537.36"
_SAFARI = "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1"
_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
_USER_AGENTS: tuple[tuple[str, str, str, str, float], ...] = (
    (f"{_WINDOWS} {_BLINK} {_CHROME}", "Windows 10", "CHROME", "Computer", 26),
    (f"{_WINDOWS} {_BLINK} {_CHROME} Edg/124.0.2478.80", "Windows 10", "CHROMIUM_EDGE", "Computer", 12),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", "Windows 10",
     "FIREFOX", "Computer", 4),
    (f"{_MAC} {_BLINK} {_CHROME}", "Mac OS X", "CHROME", "Computer", 18),
    (f"{_MAC} {_SAFARI} Safari/605.1.15", "Mac OS X", "SAFARI", "Computer", 7),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0", "Mac OS X",
     "FIREFOX", "Computer", 3),
    (f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) {_SAFARI} Mobile/15E148 Safari/604.1", "iOS",
     "SAFARI", "Mobile", 14),
    (f"Mozilla/5.0 (Linux; Android 10; K) {_BLINK} Chrome/124.0.0.0 Mobile Safari/537.36", "Android",
     "CHROME", "Mobile", 10),
    (f"Mozilla/5.0 (X11; Linux x86_64) {_BLINK} {_CHROME}", "Linux", "CHROME", "Computer", 3),
    (f"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) {_BLINK} {_CHROME}", "Chrome OS", "CHROME", "Computer", 3),
)
_HEADLESS_UA = (f"Mozilla/5.0 (X11; Linux x86_64) {_BLINK} HeadlessChrome/122.0.6261.94 Safari/537.36", "Linux",
                "CHROME", "Computer")

_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Sarah",
            "Daniel", "Emily", "Chris", "Jessica", "Kevin", "Laura", "Brian", "Megan", "Olivia", "Liam"),
           ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark",
            "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Murphy")),
    "de": (("Lukas", "Anna", "Jonas", "Lea", "Felix", "Lena", "Maximilian", "Hannah", "Paul", "Sophie"),
           ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann")),
    "fr": (("Louis", "Camille", "Hugo", "Chloé", "Lucas", "Manon", "Jules", "Inès", "Arthur", "Léa"),
           ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Lefèvre")),
    "in": (("Aarav", "Priya", "Vivaan", "Ananya", "Arjun", "Diya", "Rohan", "Kavya", "Rahul", "Sneha"),
           ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Kumar", "Singh", "Menon", "Rao")),
    "pt": (("João", "Maria", "Pedro", "Ana", "Lucas", "Juliana", "Gabriel", "Beatriz", "Rafael"),
           ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Ferreira")),
    "ja": (("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Yuto", "Sakura"),
           ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura")),
    "es": (("Alejandro", "Lucía", "Pablo", "Sofía", "Diego", "Valeria", "Javier", "Carmen"),
           ("García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Hernández")),
    "it": (("Francesco", "Giulia", "Alessandro", "Chiara", "Lorenzo", "Martina"),
           ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo")),
    "nl": (("Daan", "Emma", "Sem", "Julia", "Lars", "Sanne"),
           ("de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser")),
    "zh": (("Wei", "Jing", "Ming", "Li", "Hui", "Jun"), ("Tan", "Lim", "Lee", "Ng", "Wong", "Chen")),
}
_LOCALE = {"US": "en", "CA": "en", "GB": "en", "AU": "en", "IE": "en", "DE": "de", "FR": "fr", "IN": "in",
           "BR": "pt", "JP": "ja", "ES": "es", "MX": "es", "IT": "it", "NL": "nl", "SG": "zh"}
_ASCII = str.maketrans("äöüßéèêëàâçîïôûùñóíáúãõ", "aouseeeeaaciiouunoiauao")

_NANP_US_AREAS = ("212", "415", "312", "617", "206", "512", "303", "404", "305", "713", "214", "702", "602",
                  "503", "213", "646", "917", "718", "408", "650", "510", "919", "704", "615", "801", "412",
                  "614", "313", "612", "314", "816", "703", "301", "571", "215", "201", "973", "248", "925",
                  "720")
_NANP_CA_AREAS = ("416", "647", "604", "778", "514", "438", "403", "587", "613", "905", "780", "204", "902")

# Phone plans: country -> (prefixes, random digits). NANP numbers use the fictional 555-01xx block;
# GB the Ofcom drama range 07700 900xxx; AU the ACMA drama block 0491 570 xxx; FR the ARCEP fiction range
# 06 39 98 xx xx; IE the ComReg drama range 020 910 xxxx. Other countries have no reserved fiction range:
# their numbers are only valid-looking (they might be someone's real number: never dial them).
_PHONE_PLANS: dict[str, tuple[tuple[str, ...], int]] = {
    "US": (tuple(f"+1{area}55501" for area in _NANP_US_AREAS), 2),
    "CA": (tuple(f"+1{area}55501" for area in _NANP_CA_AREAS), 2),
    "GB": (("+447700900",), 3),
    "AU": (("+61491570",), 3),
    "FR": (("+3363998",), 4),
    "IE": (("+35320910",), 4),
    "DE": (("+49151", "+49160", "+49176"), 8),
    "IN": (("+9198", "+9199", "+9190"), 8),
    "BR": (("+55119", "+55219"), 8),
    "JP": (("+8190", "+8180"), 8),
    "ES": (("+346",), 8),
    "IT": (("+3934", "+3933"), 8),
    "NL": (("+316",), 8),
    "MX": (("+5255",), 8),
    "SG": (("+658", "+659"), 7),
}
# A few users have a phone abroad, some in destinations that fraud heuristics flag: realistic noise.
_FOREIGN_PHONES: tuple[tuple[str, int], ...] = (
    ("+234803", 7), ("+88017", 8), ("+92300", 7), ("+1809555", 4), ("+371200", 5), ("+37060", 6),
    ("+2547", 8), ("+971501", 6), ("+6327", 7), ("+4812", 7),
)

# Purposes of a send: (weight, sms event type, voice event type).
_PURPOSES: tuple[tuple[float, str, str], ...] = (
    (55, "system.sms.send_phone_verification_message", "system.voice.send_phone_verification_call"),
    (28, "system.sms.send_factor_verify_message", "system.voice.send_mfa_challenge_call"),
    (8, "system.sms.send_password_reset_message", "system.voice.send_password_reset_call"),
    (4, "system.sms.send_account_unlock_message", "system.voice.send_account_unlock_call"),
    (5, "system.sms.send_okta_push_verify_message", "system.voice.send_call"),
)

# Event type -> (displayMessage, legacyEventType, Classic requestUri, Identity Engine requestUri).
_KINDS: dict[str, tuple[str, str | None, str, str]] = {
    "system.sms.send_phone_verification_message": (
        "Send phone verification SMS message", "core.user.sms.message_sent.verify",
        "/api/v1/authn/factors", "/idp/idx/credential/enroll"),
    "system.voice.send_phone_verification_call": (
        "Send phone verification call", "core.user.call_to_send_otp.message_sent.verify",
        "/api/v1/authn/factors", "/idp/idx/credential/enroll"),
    "system.sms.send_factor_verify_message": (
        "Send factor verify SMS message", "core.user.sms.message_sent.factor",
        "/api/v1/authn/factors/{factor}/verify", "/idp/idx/challenge"),
    "system.voice.send_mfa_challenge_call": (
        "Send MFA challenge call", None, "/api/v1/authn/factors/{factor}/verify", "/idp/idx/challenge"),
    "system.sms.send_password_reset_message": (
        "Send password reset SMS message", "core.user.sms.message_sent.forgotpw",
        "/api/v1/authn/recovery/password", "/idp/idx/recover"),
    "system.voice.send_password_reset_call": (
        "Send password reset call", None, "/api/v1/authn/recovery/password", "/idp/idx/recover"),
    "system.sms.send_account_unlock_message": (
        "Send account unlock SMS message", None, "/api/v1/authn/recovery/unlock", "/idp/idx/unlock-account"),
    "system.voice.send_account_unlock_call": (
        "Send account unlock call", None, "/api/v1/authn/recovery/unlock", "/idp/idx/unlock-account"),
    "system.sms.send_okta_push_verify_message": (
        "Send Okta push verify SMS message", None,
        "/api/v1/users/{user}/factors/{factor}/lifecycle/activate", "/idp/idx/credential/enroll"),
    "system.voice.send_call": (
        "Send voice call", None, "/api/v1/authn/factors/{factor}/verify", "/idp/idx/challenge/resend"),
}
_STATUS_DISPLAY = {"sms": "Receive SMS status", "voice": "Receive voice call status"}
_PROVIDERS = ("TWILIO", "TELESIGN")
# Provider statuses: channel -> (values, cumulative weights) for ordinary traffic.
_STATUSES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "sms": (("delivered", "sent", "undelivered", "failed"), (93.0, 96.0, 98.5, 100.0)),
    "voice": (("completed", "no-answer", "busy", "failed"), (88.0, 94.0, 97.0, 100.0)),
}
_FAILED_STATUS = {"sms": ("failed", "undelivered"), "voice": ("failed", "busy")}
# Seconds from a send to its status: (minimum, random extra).
_STATUS_DELAY = {"delivered": (2, 10), "sent": (1, 4), "undelivered": (3, 25), "failed": (1, 5),
                 "completed": (18, 30), "no-answer": (30, 30), "busy": (4, 8)}
# Reasons of a DENY: (Okta's toll-fraud blocker, a blocked country), per channel.
_DENY_REASONS = {
    "sms": ("SMS message blocked by Okta: suspected toll fraud", "SMS to this country is not allowed"),
    "voice": ("Voice call blocked by Okta: suspected toll fraud", "Voice calls to this country are not allowed"),
}
_FAILURE_REASONS = ("Unable to deliver the message to the phone number", "Telephony provider error",
                    "Invalid phone number")
_RISKS = ("{level=LOW}", "{level=LOW}", "{level=LOW}", "{reasons=Anomalous Device, level=MEDIUM}",
          "{reasons=Anomalous Location, Anomalous Device, level=HIGH}")
_BEHAVIORS_NONE = ("{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE, New State=NEGATIVE, "
                   "New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}")
_BEHAVIORS_NEW = ("{New Geo-Location=POSITIVE, New Device=POSITIVE, New IP=POSITIVE, New State=POSITIVE, "
                  "New Country=POSITIVE, Velocity=POSITIVE, New City=POSITIVE}")


# --------------------------------------------------------------------------------------------------------
# Population
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Net:
    """One client IP address with everything Okta derives from it, consistent across events."""

    ip: str
    version: str
    city: str | None
    state: str | None
    country: str | None
    postal: str | int | None
    lat: float
    lon: float
    asn: int | None
    as_org: str | None
    isp: str | None
    domain: str | None
    proxy: bool
    zone: str | None


@dataclass(slots=True)
class _User:
    """A user with their phone, factors, devices and networks."""

    id: str
    login: str
    name: str
    phone: str
    cc: str
    mbl_id: str
    factor_id: str
    channel: str
    fingerprint: str
    nets: list[_Net]
    net_weights: list[float]
    agents: list[tuple[str, str, str, str]]
    session: str = ""
    session_ms: int = -(10**15)


_B64_ALPHABET = bytes.maketrans(b"+/", b"@-")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_B64_ALPHABET).decode("ascii")


def _okta_id(rng: random.Random, prefix: str) -> str:
    """A 20-character Okta object id: 3-character type prefix, 14 random characters, the org suffix."""
    return prefix + "".join(rng.choices(_ALNUM, k=14)) + _ID_SUFFIX


def _hex(rng: random.Random, chars: int) -> str:
    return f"{rng.getrandbits(chars * 4):0{chars}x}"


def _make_net(rng: random.Random, country: str, *, prefixes: tuple[str, ...], asn: int, as_org: str,
              isp: str, domain: str, city_index: int | None = None) -> _Net:
    """A residential or mobile address of ``country`` on the given ISP, in one of its cities."""
    _weight, country_name, cities = _COUNTRIES[country]
    city, state, lat, lon, postals = cities[city_index if city_index is not None else rng.randrange(len(cities))]
    prefix = rng.choice(prefixes)
    if prefix.endswith(":"):
        ip, version = prefix + ":".join(f"{rng.getrandbits(16):x}" for _ in range(6)), "V6"
    else:
        tail = ".".join(str(rng.randint(1, 254)) for _ in range(4 - prefix.count(".") - 1))
        ip, version = f"{prefix}.{tail}", "V4"
    code = rng.choice(postals)
    postal: str | int = code
    if code.isdigit() and code[0] != "0" and rng.random() < 0.08:
        postal = int(code)  # quirk of real data: a numeric postalCode
    zone = "null" if rng.random() < 0.9 else None
    return _Net(ip, version, city, state, country_name, postal, round(lat + rng.uniform(-0.05, 0.05), 4),
                round(lon + rng.uniform(-0.05, 0.05), 4), asn, as_org, isp, domain, False, zone)


def _residential(rng: random.Random, country: str) -> _Net:
    asn, as_org, isp, domain, prefixes = rng.choice(_ISPS[country])
    return _make_net(rng, country, prefixes=prefixes, asn=asn, as_org=as_org, isp=isp, domain=domain)


def _unique_number(rng: random.Random, prefixes: tuple[str, ...], digits: int, used: set[str]) -> str:
    """A number from the plan not used yet (falls back to a duplicate after many tries)."""
    number = ""
    for _ in range(200):
        number = rng.choice(prefixes) + f"{rng.randrange(10**digits):0{digits}d}"
        if number not in used:
            break
    used.add(number)
    return number


class _World:
    """The org: users, offices, VPN exits and user agents, all drawn from one RNG."""

    def __init__(self, rng: random.Random, n_users: int = _USERS) -> None:
        self.rng = rng
        self.offices = {office[0]: self._office(*office) for office in _OFFICES}
        self.vpns = [self._vpn(*vpn) for vpn in _VPNS]
        agents = [ua[:4] for ua in _USER_AGENTS]
        self._agents = agents
        self._agent_cum = _cumulative([ua[4] for ua in _USER_AGENTS])
        countries = list(_COUNTRIES)
        country_cum = _cumulative([_COUNTRIES[c][0] for c in countries])
        reserved = {SHARED_NUMBER, BURST_NUMBER, *FRAUD_NUMBERS}
        used: set[str] = set(reserved)
        logins: set[str] = set()
        self.users: list[_User] = []
        for _ in range(n_users):
            country = rng.choices(countries, cum_weights=country_cum)[0]
            self.users.append(self.make_user(country, used, logins))
        # A few users are much more active than others (Zipf-like).
        self.user_cum = _cumulative([1.0 / (1 + (i % 400)) ** 0.6 for i in range(n_users)])
        self.used_numbers = used
        self.logins = logins

    def _office(self, country: str, city_index: int, asn: int, as_org: str, isp: str, domain: str,
                prefix: str) -> _Net:
        net = _make_net(self.rng, country, prefixes=(prefix,), asn=asn, as_org=as_org, isp=isp, domain=domain,
                        city_index=city_index)
        net.zone = _OFFICE_ZONE
        if isinstance(net.postal, int):
            net.postal = str(net.postal)
        return net

    def _vpn(self, asn: int, as_org: str, isp: str, domain: str, prefix: str, country: str) -> _Net:
        net = _make_net(self.rng, country, prefixes=(prefix,), asn=asn, as_org=as_org, isp=isp, domain=domain)
        net.proxy = True
        return net

    def agent(self, rng: random.Random) -> tuple[str, str, str, str]:
        return rng.choices(self._agents, cum_weights=self._agent_cum)[0]

    def make_user(self, country: str, used: set[str], logins: set[str], *, user_id: str | None = None,
                  phone: str | None = None, channel: str | None = None,
                  rng: random.Random | None = None) -> _User:
        """A user living in ``country``; ``user_id``/``phone``/``channel`` fix those fields when given.

        ``rng`` defaults to the world's; planted users pass their own so that planting leaves the
        background traffic unchanged.
        """
        rng = rng or self.rng
        firsts, lasts = _NAMES[_LOCALE[country]]
        first, last = rng.choice(firsts), rng.choice(lasts)
        base = f"{first}.{last}".lower().translate(_ASCII).replace(" ", "")
        login = f"{base}@{_EMAIL_DOMAIN}"
        suffix = 1
        while login in logins:
            suffix += 1
            login = f"{base}{suffix}@{_EMAIL_DOMAIN}"
        logins.add(login)
        if phone is None:
            if rng.random() < 0.015:
                prefix, digits = rng.choice(_FOREIGN_PHONES)
                phone = _unique_number(rng, (prefix,), digits, used)
            else:
                prefixes, digits = _PHONE_PLANS[country]
                phone = _unique_number(rng, prefixes, digits, used)
        nets = [_residential(rng, country)]
        weights = [0.72]
        if country in self.offices and rng.random() < 0.5:
            nets.append(self.offices[country])
            weights.append(0.22)
        if rng.random() < 0.35:
            nets.append(_residential(rng, country))  # mobile data / second home
            weights.append(0.06)
        if rng.random() < 0.03:
            nets.append(rng.choice(self.vpns))
            weights.append(0.10)
        agents = [self.agent(rng)]
        if rng.random() < 0.4:
            agents.append(self.agent(rng))
        return _User(
            id=user_id or _okta_id(rng, "00u"),
            login=login,
            name=f"{first} {last}",
            phone=phone,
            cc=calling_code(phone) or "",
            mbl_id=_okta_id(rng, "mbl"),
            factor_id=_okta_id(rng, "sms"),
            channel=channel or ("sms" if rng.random() < 0.7 else "voice"),
            fingerprint=_hex(rng, 32),
            nets=nets,
            net_weights=_cumulative(weights),
            agents=agents,
        )


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out


# --------------------------------------------------------------------------------------------------------
# Time
# --------------------------------------------------------------------------------------------------------


@lru_cache(maxsize=8192)
def _day_prefix(day: int) -> str:
    return (_EPOCH + timedelta(days=day)).strftime("%Y-%m-%dT")


# Lookup tables that make formatting a timestamp a few string concatenations (it is done per event).
_MINUTES_OF_DAY = tuple(f"{m // 60:02d}:{m % 60:02d}:" for m in range(1440))
_SECONDS = tuple(f"{s:02d}." for s in range(60))
_MILLIS = tuple(f"{m:03d}Z" for m in range(1000))


def _iso(ms: int) -> str:
    """ISO 8601 with milliseconds and Z, as Okta writes ``published``."""
    seconds, milli = divmod(ms, 1000)
    minutes, second = divmod(seconds, 60)
    day, minute = divmod(minutes, 1440)
    return _day_prefix(day) + _MINUTES_OF_DAY[minute] + _SECONDS[second] + _MILLIS[milli]


def _to_ms(moment: datetime) -> int:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def default_start(days: int = 30, now: datetime | None = None) -> datetime:
    """Where a window of ``days`` days starts when no start is given: it ends at the current UTC hour."""
    now = now or datetime.now(UTC)
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return end - timedelta(days=days)


def planted_window(pattern: str, start: datetime | None = None, days: int = 30) -> tuple[datetime, datetime]:
    """The (start, end) of a planted pattern ("fraud", "burst" or "shared") for a generation window."""
    begin = start or default_start(days)
    if begin.tzinfo is None:
        begin = begin.replace(tzinfo=UTC)
    span = timedelta(days=days)
    if pattern == "fraud":
        first = begin + span * FRAUD_AT
        return first, first + FRAUD_WINDOW
    if pattern == "burst":
        first = begin + span * BURST_AT
        return first, first + BURST_WINDOW
    if pattern == "shared":
        low, high = SHARED_NUMBER_SPAN
        return begin + span * low, begin + span * high + timedelta(minutes=5)
    raise ValueError(f"unknown planted pattern {pattern!r} (expected fraud, burst or shared)")


def _hour_weight(hour: int, weekday: int) -> float:
    """Relative traffic in a UTC hour: business hours of the Americas, Europe, India and APAC."""

    def bump(center: float, width: float) -> float:
        distance = min(abs(hour + 0.5 - center), 24 - abs(hour + 0.5 - center))
        return math.exp(-(distance**2) / (2 * width**2))

    weight = 0.5 * bump(17, 4) + 0.3 * bump(11, 3.5) + 0.12 * bump(7, 3) + 0.08 * bump(2, 3) + 0.04
    return weight * (0.35 if weekday >= 5 else 1.0)


class _Timeline:
    """Maps "activity time" u in [0, total) to wall-clock ms so that traffic follows daily cycles."""

    def __init__(self, start_ms: int, end_ms: int) -> None:
        self.start_ms = start_ms
        self.end_ms = end_ms
        slots = max(1, math.ceil((end_ms - start_ms) / _HOUR_MS))
        self.cum = [0.0]
        self.width: list[int] = []
        for slot in range(slots):
            slot_start = start_ms + slot * _HOUR_MS
            width = min(_HOUR_MS, end_ms - slot_start)
            moment = _EPOCH + timedelta(milliseconds=slot_start)
            self.cum.append(self.cum[-1] + _hour_weight(moment.hour, moment.weekday()) * width / _HOUR_MS)
            self.width.append(width)
        self.total = self.cum[-1]

    def at(self, u: float) -> int:
        slot = min(bisect.bisect_right(self.cum, u) - 1, len(self.width) - 1)
        low, high = self.cum[slot], self.cum[slot + 1]
        fraction = (u - low) / (high - low) if high > low else 0.0
        return self.start_ms + slot * _HOUR_MS + int(fraction * self.width[slot])


# --------------------------------------------------------------------------------------------------------
# Event construction
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Send:
    """What a send decided, kept to build its receive_status."""

    channel: str
    user: _User
    phone: str
    cc: str
    ie: bool
    actor: dict[str, Any] | None
    net: _Net | None
    agent: tuple[str, str, str, str] | None
    client_id: str | None
    session: str
    provider: str


class _Factory:
    """Builds LogEvent dicts from one RNG; every random id comes from it, so output is reproducible."""

    def __init__(self, rng: random.Random, *, quirks: bool = True) -> None:
        self.rng = rng
        self.null_ip_rate = 0.002 if quirks else 0.0  # share of events with "ipAddress": "null"
        # Version-1 uuid tails ("-<variant+clock seq>-<node>"): one per simulated Okta app server, used
        # round-robin, so two events share a tail only 4096 events apart.
        self._tails = tuple(f"-{0x8000 | rng.getrandbits(14):04x}-{rng.getrandbits(48):012x}"
                            for _ in range(_UUID_TAILS))
        self._uuid_count = 0
        self._uuid_high: dict[int, str] = {}

    # ids -------------------------------------------------------------------------------------------
    def uuid(self, ms: int) -> str:
        """A version-1 uuid, as Okta's are: the event time (plus a random sub-millisecond) and a tail."""
        stamp = ms * 10_000 + _UUID_EPOCH_OFFSET + int(self.rng.random() * 10_000)
        high = stamp >> 32
        middle = self._uuid_high.get(high)
        if middle is None:
            if len(self._uuid_high) > 4096:
                self._uuid_high.clear()
            middle = self._uuid_high[high] = f"-{high & 0xFFFF:04x}-{0x1000 | (high >> 16) & 0x0FFF:04x}"
        self._uuid_count += 1
        return "%08x" % (stamp & 0xFFFFFFFF) + middle + self._tails[self._uuid_count % _UUID_TAILS]

    def request_id(self) -> str:
        """A 27-character request/transaction id in Okta's style (base64 alphabet with ``@`` and ``-``)."""
        return _b64(self.rng.randbytes(20))[:27]

    def session(self, user: _User, ms: int, ie: bool) -> str:
        """The user's session at ``ms``: kept for a few hours, Classic ``102...`` or Identity Engine ``idx...``."""
        if ms - user.session_ms > 4 * _HOUR_MS or user.session[:3] != ("idx" if ie else "102"):
            token = _b64(self.rng.randbytes(18))[:22]
            user.session = ("idx" if ie else "102") + token
        user.session_ms = ms
        return user.session

    # pieces ----------------------------------------------------------------------------------------
    @staticmethod
    def user_ref(user: _User) -> dict[str, Any]:
        return {"id": user.id, "type": "User", "alternateId": user.login, "displayName": user.name,
                "detailEntry": None}

    @staticmethod
    def system_principal() -> dict[str, Any]:
        return {"id": SYSTEM_PRINCIPAL_ID, "type": "SystemPrincipal", "alternateId": "system@okta.com",
                "displayName": "Okta System", "detailEntry": None}

    @staticmethod
    def geo(net: _Net) -> dict[str, Any]:
        return {"city": net.city, "state": net.state, "country": net.country, "postalCode": net.postal,
                "geolocation": {"lat": net.lat, "lon": net.lon}}

    def client(self, net: _Net | None, agent: tuple[str, str, str, str] | None,
               client_id: str | None) -> dict[str, Any]:
        if net is None or agent is None:  # a system-initiated send: Okta logs an all-null client
            return {"userAgent": None, "zone": None, "device": None, "id": None, "ipAddress": None,
                    "geographicalContext": None}
        ip = "null" if self.rng.random() < self.null_ip_rate else net.ip
        return {"userAgent": {"rawUserAgent": agent[0], "os": agent[1], "browser": agent[2]}, "zone": net.zone,
                "device": agent[3], "id": client_id, "ipAddress": ip, "geographicalContext": self.geo(net)}

    def request(self, net: _Net | None) -> dict[str, Any]:
        if net is None:
            return {"ipChain": []}
        return {"ipChain": [{"ip": net.ip, "geographicalContext": self.geo(net), "version": net.version,
                             "source": None}]}

    @staticmethod
    def security(net: _Net | None) -> dict[str, Any]:
        if net is None:
            return {"asNumber": None, "asOrg": None, "isp": None, "domain": None, "isProxy": None}
        return {"asNumber": net.asn, "asOrg": net.as_org, "isp": net.isp, "domain": net.domain,
                "isProxy": net.proxy}

    @staticmethod
    def auth(session: str, ie: bool) -> dict[str, Any]:
        context: dict[str, Any] = {"authenticationProvider": None, "credentialProvider": None,
                                   "credentialType": None, "issuer": None, "interface": None,
                                   "authenticationStep": 0, "externalSessionId": session}
        if ie:
            context["rootSessionId"] = session
        return context

    @staticmethod
    def phone_target(user: _User, phone: str) -> dict[str, Any]:
        return {"id": user.mbl_id, "type": "MobilePhone", "alternateId": phone, "displayName": "Mobile Phone",
                "detailEntry": None}

    def targets(self, user: _User, phone: str, ie: bool) -> list[dict[str, Any]]:
        if ie:
            return [self.user_ref(user)]
        if self.rng.random() < 0.5:  # types are not in a fixed position in real data
            return [self.user_ref(user), self.phone_target(user, phone)]
        return [self.phone_target(user, phone), self.user_ref(user)]

    def event(self, *, ms: int, event_type: str, display: str, legacy: str | None, severity: str,
              actor: dict[str, Any], client: dict[str, Any], session: str, ie: bool, result: str,
              reason: str | None, net: _Net | None, debug: dict[str, Any], transaction_id: str,
              target: list[dict[str, Any]]) -> dict[str, Any]:
        """Assemble one LogEvent in the key order of Okta's API responses."""
        return {
            "actor": actor,
            "client": client,
            "device": None,
            "authenticationContext": self.auth(session, ie),
            "displayMessage": display,
            "eventType": event_type,
            "outcome": {"result": result, "reason": reason},
            "published": _iso(ms),
            "securityContext": self.security(net),
            "severity": severity,
            "debugContext": {"debugData": debug},
            "legacyEventType": legacy,
            "transaction": {"type": "WEB" if net is not None else "JOB", "id": transaction_id, "detail": {}},
            "uuid": self.uuid(ms),
            "version": "0",
            "request": self.request(net),
            "target": target,
        }

    # events ----------------------------------------------------------------------------------------
    def send(self, *, ms: int, event_type: str, user: _User, ie: bool, result: str, reason: str | None,
             net: _Net | None, agent: tuple[str, str, str, str] | None, phone: str | None = None,
             system: bool = False, risk: str | None = None, behaviors: str | None = None,
             provider: str | None = None) -> tuple[dict[str, Any], _Send]:
        """A ``system.sms.send_*`` / ``system.voice.send_*`` event and what its status event needs."""
        rng = self.rng
        channel = "sms" if event_type.startswith("system.sms.") else "voice"
        display, legacy, classic_uri, ie_uri = _KINDS[event_type]
        phone = phone or user.phone
        cc = user.cc if phone == user.phone else (calling_code(phone) or "")
        provider = provider or (_PROVIDERS[0] if rng.random() < 0.68 else _PROVIDERS[1])
        actor = self.system_principal() if system else self.user_ref(user)
        if system:
            net = agent = None
        client_id = _OKTA_DASHBOARD_CLIENT if ie and net is not None and rng.random() < 0.3 else None
        session = self.session(user, ms, ie) if not system else "trs" + self.request_id()[:22]
        request_id = self.request_id()
        uri = ie_uri if ie else classic_uri.format(factor=user.factor_id, user=user.id)
        debug: dict[str, Any] = {"requestId": request_id, "requestUri": uri, "url": uri + "?"}
        if ie:
            debug["phoneNumber"] = phone
            debug["countryCallingCode"] = cc
        debug[PROVIDER_KEY] = provider
        debug["threatSuspected"] = "true" if risk is not None and "HIGH" in risk else "false"
        if net is not None:
            debug["deviceFingerprint"] = user.fingerprint
            if risk is not None or rng.random() < 0.3:
                debug["risk"] = risk or rng.choice(_RISKS)
                debug["behaviors"] = behaviors or _BEHAVIORS_NONE
        severity = "WARN" if result == "DENY" else "INFO"
        event = self.event(
            ms=ms, event_type=event_type, display=display, legacy=legacy, severity=severity, actor=actor,
            client=self.client(net, agent, client_id), session=session, ie=ie, result=result, reason=reason,
            net=net, debug=debug, transaction_id=request_id,
            target=self.targets(user, phone, ie))
        return event, _Send(channel, user, phone, cc, ie, actor, net, agent, client_id, session, provider)

    def status(self, send: _Send, status: str, ms: int) -> dict[str, Any]:
        """The ``receive_status`` event of ``send`` with the provider's ``status`` at ``ms``."""
        request_id = self.request_id()
        uri = f"/api/internal/v1/telephony/{send.provider.lower()}/{send.channel}/status"
        debug: dict[str, Any] = {"requestId": request_id, "requestUri": uri, "url": uri + "?"}
        if send.ie:
            debug["phoneNumber"] = send.phone
            debug["countryCallingCode"] = send.cc
        debug[PROVIDER_KEY] = send.provider
        debug["status"] = status
        debug["threatSuspected"] = "false"
        return self.event(
            ms=ms, event_type=RECEIVE_STATUS_TYPES[send.channel], display=_STATUS_DISPLAY[send.channel],
            legacy=None, severity="INFO", actor=dict(send.actor or self.user_ref(send.user)),
            client=self.client(send.net, send.agent, send.client_id), session=send.session, ie=send.ie,
            result="SUCCESS", reason=None, net=send.net, debug=debug, transaction_id=request_id,
            target=self.targets(send.user, send.phone, send.ie))

    def rate_limit(self, *, ms: int, user: _User, channel: str, net: _Net, agent: tuple[str, str, str, str],
                   ie: bool, phone: str | None = None) -> dict[str, Any]:
        """A ``system.operation.rate_limit.violation`` for SMS or voice, modelled on Okta's documented one."""
        rng = self.rng
        phone = phone or user.phone
        subtype = "SMS" if channel == "sms" else "Voice call"
        uri = "/idp/idx/challenge" if ie else "/api/v1/authn/factors"
        request_id = self.request_id()
        debug: dict[str, Any] = {
            "operationRateLimitSubtype": subtype,
            "operationRateLimitTimeUnit": "MINUTES",
            "operationRateLimitScopeType": "user",
            "operationRateLimitSecondsToReset": str(rng.randint(5, 290)),
            "operationRateLimitThreshold": "15" if channel == "sms" else "10",
            "operationRateLimitTimeSpan": "5",
            "requestUri": uri,
            "url": uri + "?",
            "phoneNumber": phone,
            "authnRequestId": self.request_id(),
            "countryCallingCode": calling_code(phone) or "",
            "requestId": request_id,
            "threatSuspected": "false",
            "operationRateLimitType": "phone_enrollment",
        }
        target = [{"id": "SMS" if channel == "sms" else "CALL", "type": "Factor Type", "alternateId": None,
                   "displayName": None, "detailEntry": None},
                  {"id": uri, "type": "URL Pattern", "alternateId": None, "displayName": None, "detailEntry": None}]
        return self.event(
            ms=ms, event_type=RATE_LIMIT_TYPE, display="Operation rate limit violation", legacy=None,
            severity="WARN", actor=self.user_ref(user), client=self.client(net, agent, None),
            session=self.session(user, ms, ie), ie=ie, result="DENY",
            reason=f"Too many enrollment attempts for {subtype} factor", net=net, debug=debug,
            transaction_id=request_id, target=target)


# --------------------------------------------------------------------------------------------------------
# Streams
# --------------------------------------------------------------------------------------------------------

_Item = tuple[int, int, dict[str, Any]]  # (persistence time ms, sequence, event)


# Calling codes of the countries most users live in; phones elsewhere meet Okta's blocker more often.
_COMMON_CODES = frozenset({"1", "44", "49", "33", "91", "55", "61", "81", "34", "39", "31", "52", "353", "65"})


def _persist_lag(rng: random.Random) -> int:
    """Milliseconds between ``published`` and when Okta persisted the event (polling order)."""
    if rng.random() < 0.005:
        return rng.randint(5_000, 120_000)  # a late event
    return 40 + int(rng.expovariate(1 / 350))


def _status_for(rng: random.Random, channel: str, result: str) -> str:
    if result == "FAILURE":
        return rng.choice(_FAILED_STATUS[channel])
    values, cum = _STATUSES[channel]
    return values[bisect.bisect(cum, rng.random() * cum[-1])]


def _status_delay(rng: random.Random, status: str) -> int:
    low, extra = _STATUS_DELAY[status]
    return int((low + rng.random() * extra) * 1000)


def _background(world: _World, factory: _Factory, budget: int, timeline: _Timeline,
                upgrade_ms: int) -> Iterator[_Item]:
    """Ordinary traffic: exactly ``budget`` events in persistence order (sequence numbers are even)."""
    rng = factory.rng
    users, user_cum = world.users, world.user_cum
    user_total = user_cum[-1]
    purpose_cum = _cumulative([p[0] for p in _PURPOSES])
    pending: list[_Item] = []
    seq = 0
    remaining = budget
    u = 0.0
    events_per_send = 1.985
    total = timeline.total
    while remaining > 0:
        expected_left = remaining / events_per_send
        gap = (total - u) / (expected_left + 1) * rng.expovariate(1.0)
        u = u + gap if u + gap < total else u + (total - u) * rng.random()
        ms = timeline.at(u)
        while pending and pending[0][0] <= ms:
            yield heapq.heappop(pending)
        user = users[bisect.bisect(user_cum, rng.random() * user_total)]
        ie = ms >= upgrade_ms
        pick = rng.random()
        net = user.nets[bisect.bisect(user.net_weights, pick * user.net_weights[-1])]
        agent = user.agents[0] if len(user.agents) == 1 or rng.random() < 0.85 else user.agents[1]
        if remaining == 1 or rng.random() < 0.004:
            event = factory.rate_limit(ms=ms, user=user, channel=user.channel, net=net, agent=agent, ie=ie)
            heapq.heappush(pending, (ms + _persist_lag(rng), seq, event))
            seq += 2
            remaining -= 1
            continue
        purpose = _PURPOSES[bisect.bisect(purpose_cum, rng.random() * purpose_cum[-1])]
        event_type = purpose[1] if user.channel == "sms" else purpose[2]
        system = rng.random() < (0.3 if "reset" in event_type or "unlock" in event_type else 0.01)
        roll = rng.random()
        risky = user.cc not in _COMMON_CODES
        if roll < (0.2 if risky else 0.008) or (net.proxy and roll < 0.1):
            result, reason = "DENY", _DENY_REASONS[user.channel][1 if risky and rng.random() < 0.5 else 0]
        elif roll > 0.985:
            result, reason = "FAILURE", rng.choice(_FAILURE_REASONS)
        else:
            result, reason = "SUCCESS", None
        risk = _RISKS[4] if net.proxy and rng.random() < 0.5 else None
        event, send = factory.send(ms=ms, event_type=event_type, user=user, ie=ie, result=result, reason=reason,
                                   net=net, agent=agent, system=system, risk=risk,
                                   behaviors=_BEHAVIORS_NEW if risk else None)
        heapq.heappush(pending, (ms + _persist_lag(rng), seq, event))
        seq += 2
        remaining -= 1
        if result != "DENY":
            status = _status_for(rng, send.channel, result)
            status_ms = ms + _status_delay(rng, status)
            heapq.heappush(pending, (status_ms + _persist_lag(rng), seq, factory.status(send, status, status_ms)))
            seq += 2
            remaining -= 1
    while pending:
        yield heapq.heappop(pending)


def _planted(world: _World, factory: _Factory, start_ms: int, end_ms: int, upgrade_ms: int) -> list[_Item]:
    """The three planted patterns, sorted by persistence time (sequence numbers are odd)."""
    rng = factory.rng
    span = end_ms - start_ms
    items: list[tuple[int, dict[str, Any]]] = []

    def add(event: dict[str, Any], ms: int) -> None:
        items.append((ms + _persist_lag(rng), event))

    # (a) Toll fraud from FRAUD_IP.
    fraud_net = _Net(FRAUD_IP, "V4", "North Bergen", "New Jersey", "United States", "07047", 40.793, -74.0247,
                     FRAUD_ASN, "digitalocean, llc", "digitalocean llc", "digitalocean.com", True, "null")
    fraud_users = [world.make_user("US", world.used_numbers, world.logins, user_id=uid, phone=FRAUD_NUMBERS[0],
                                   channel="sms", rng=rng) for uid in FRAUD_USER_IDS]
    for user in fraud_users:  # throwaway self-registered accounts: random logins, made-up names
        user.login = f"{''.join(rng.choices('abcdefghijkmnpqrstuvwxyz23456789', k=8))}@example.net"
        user.nets, user.agents = [fraud_net], [_HEADLESS_UA]
    fraud_start = start_ms + int(span * FRAUD_AT)
    window_ms = int(FRAUD_WINDOW.total_seconds() * 1000)
    times = sorted(fraud_start + rng.randrange(window_ms - 30_000) for _ in range(FRAUD_SENDS))
    repeats = sorted(rng.sample(range(FRAUD_DISTINCT_NUMBERS), FRAUD_SENDS - FRAUD_DISTINCT_NUMBERS))
    numbers = list(FRAUD_NUMBERS)
    for offset, again in enumerate(repeats):  # retry some numbers right after their first attempt
        numbers.insert(again + offset + 1, FRAUD_NUMBERS[again])
    per_user = math.ceil(FRAUD_SENDS / len(fraud_users))
    rate_limited = set(rng.sample(range(FRAUD_SENDS - FRAUD_DENIED, FRAUD_SENDS), FRAUD_RATE_LIMIT_EVENTS))
    for index, (ms, number) in enumerate(zip(times, numbers)):
        user = fraud_users[index // per_user]
        channel = "sms" if rng.random() < 0.6 else "voice"
        event_type = SEND_TYPES[channel][0]
        denied = index >= FRAUD_SENDS - FRAUD_DENIED
        event, send = factory.send(
            ms=ms, event_type=event_type, user=user, ie=True, result="DENY" if denied else "SUCCESS",
            reason=_DENY_REASONS[channel][0] if denied else None, net=fraud_net, agent=_HEADLESS_UA,
            phone=number, risk=_RISKS[4] if index > 10 else _RISKS[3], behaviors=_BEHAVIORS_NEW)
        add(event, ms)
        if not denied:
            status = rng.choices(("undelivered", "failed", "delivered") if channel == "sms"
                                 else ("no-answer", "failed", "completed"), weights=(5, 2, 3))[0]
            status_ms = ms + _status_delay(rng, status)
            add(factory.status(send, status, status_ms), status_ms)
        if index in rate_limited:
            limit_ms = ms + rng.randint(200, 900)
            add(factory.rate_limit(ms=limit_ms, user=user, channel=channel, net=fraud_net, agent=_HEADLESS_UA,
                                   ie=True, phone=number), limit_ms)

    # (b) SHARED_NUMBER enrolled by SHARED_NUMBER_USERS users.
    low, high = SHARED_NUMBER_SPAN
    for index, uid in enumerate(SHARED_NUMBER_USER_IDS):
        user = world.make_user("US", world.used_numbers, world.logins, user_id=uid, phone=SHARED_NUMBER,
                               channel="sms", rng=rng)
        fraction = low + (high - low) * index / (SHARED_NUMBER_USERS - 1)
        ms = start_ms + int(span * fraction) + rng.randrange(120_000)
        event, send = factory.send(ms=ms, event_type=SEND_TYPES["sms"][0], user=user, ie=ms >= upgrade_ms,
                                   result="SUCCESS", reason=None, net=user.nets[0], agent=user.agents[0])
        add(event, ms)
        status_ms = ms + _status_delay(rng, "delivered")
        add(factory.status(send, "delivered", status_ms), status_ms)

    # (c) BURST_USER_ID asks for BURST_CALLS voice calls within BURST_WINDOW.
    burst_user = world.make_user("US", world.used_numbers, world.logins, user_id=BURST_USER_ID,
                                 phone=BURST_NUMBER, channel="voice", rng=rng)
    burst_start = start_ms + int(span * BURST_AT)
    step = int(BURST_WINDOW.total_seconds() * 1000) // BURST_CALLS
    burst_ie = burst_start >= upgrade_ms
    for index in range(BURST_CALLS):
        ms = burst_start + index * step + rng.randrange(step // 2)
        denied = index >= BURST_CALLS - BURST_DENIED
        event, send = factory.send(
            ms=ms, event_type=SEND_TYPES["voice"][0], user=burst_user, ie=burst_ie,
            result="DENY" if denied else "SUCCESS", reason="Too many voice calls requested" if denied else None,
            net=burst_user.nets[0], agent=burst_user.agents[0])
        add(event, ms)
        if not denied:
            status = "completed" if index < 6 else rng.choice(("no-answer", "no-answer", "busy", "completed"))
            status_ms = ms + _status_delay(rng, status)
            add(factory.status(send, status, status_ms), status_ms)
        if index in (BURST_CALLS - BURST_DENIED, BURST_CALLS - 1):
            add(factory.rate_limit(ms=ms + 300, user=burst_user, channel="voice", net=burst_user.nets[0],
                                   agent=burst_user.agents[0], ie=burst_ie), ms + 300)

    items.sort(key=lambda item: item[0])
    return [(persist, 2 * index + 1, event) for index, (persist, event) in enumerate(items)]


def generate_events(count: int, *, seed: int = 0, start: datetime | None = None, days: int = 30,
                    plant: bool | None = None) -> Iterator[dict[str, Any]]:
    """Yield exactly ``count`` synthetic Okta telephony LogEvents over ``days`` days from ``start``.

    Deterministic for a given ``seed``, ``start`` and ``days`` (without ``start``, the window ends at the
    current UTC hour: see ``default_start``). Events come in persistence order, so ``published`` is mostly
    ascending. The planted fraud patterns are included when ``plant`` is true, or by default when
    ``count >= PLANT_MIN_EVENTS``; ``plant=True`` needs ``count >= PLANTED_EVENTS``. Memory stays constant.
    """
    if count < 0:
        raise ValueError("count must be >= 0")
    if days <= 0:
        raise ValueError("days must be > 0")
    if plant is None:
        plant = count >= PLANT_MIN_EVENTS
    if plant and count < PLANTED_EVENTS:
        raise ValueError(f"planting the fraud patterns needs count >= {PLANTED_EVENTS}")
    return _generate(count, seed, start or default_start(days), days, plant)


def _generate(count: int, seed: int, start: datetime, days: int, plant: bool) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    start_ms = _to_ms(start)
    end_ms = start_ms + days * 86_400_000
    upgrade_ms = start_ms + int((end_ms - start_ms) * OIE_UPGRADE_AT)
    world = _World(rng)
    planted: list[_Item] = []
    if plant:
        # Planted events have their own RNG (planting leaves the background unchanged) and no random
        # "ipAddress": "null", so that their documented sizes hold when counted by IP.
        planted_factory = _Factory(random.Random(f"okta-calls planted {seed}"), quirks=False)
        planted = _planted(world, planted_factory, start_ms, end_ms, upgrade_ms)
    log.debug("generating %d events (%d planted) from %s over %d days", count, len(planted), start, days)
    background = _background(world, _Factory(rng), count - len(planted), _Timeline(start_ms, end_ms), upgrade_ms)
    for _persist, _seq, event in heapq.merge(background, planted):
        yield event


def write_ndjson(events: Iterable[Mapping[str, Any]], fp: IO[bytes] | IO[str]) -> int:
    """Write one compact JSON object per line (orjson) to a binary or text file; return how many.

    Lines are gathered into ~1 MiB writes, which is several times faster than one write per event.
    """
    dumps, option = orjson.dumps, orjson.OPT_APPEND_NEWLINE
    text = isinstance(fp, io.TextIOBase)
    written = 0
    buffer = bytearray()
    for event in events:
        buffer += dumps(event, option=option)
        written += 1
        if len(buffer) >= _WRITE_CHUNK:
            _write(fp, buffer, text)
            buffer.clear()
    if buffer:
        _write(fp, buffer, text)
    return written


_WRITE_CHUNK = 1 << 20


def _write(fp: IO[bytes] | IO[str], data: bytearray, text: bool) -> None:
    if text:
        cast("IO[str]", fp).write(data.decode("utf-8"))
    else:
        cast("IO[bytes]", fp).write(bytes(data))
