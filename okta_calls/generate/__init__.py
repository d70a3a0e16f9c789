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
* Three planted toll-fraud patterns (constants in ``planted``), present when ``count >= PLANT_MIN_EVENTS``
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

The package is split by concern: ``population_data`` (static reference tables) and ``population`` (the
seeded org: users, IPs, user agents, phone numbers), ``clock`` (timestamps and daily cycles), ``events``
(the LogEvent builders), ``planted`` (the planted patterns and their constants) and ``stream``
(``generate_events``, ``write_ndjson``, the generation window). The public names are re-exported here.
"""

from __future__ import annotations

from .events import (
    PROVIDER_KEY,
    RATE_LIMIT_TYPE,
    RECEIVE_STATUS_TYPES,
    SEND_TYPES,
    SYSTEM_PRINCIPAL_ID,
)
from .planted import (
    BURST_AT,
    BURST_CALLS,
    BURST_DENIED,
    BURST_EVENTS,
    BURST_NUMBER,
    BURST_RATE_LIMIT_EVENTS,
    BURST_USER_ID,
    BURST_WINDOW,
    FRAUD_ASN,
    FRAUD_AT,
    FRAUD_COUNTRY,
    FRAUD_DENIED,
    FRAUD_DISTINCT_NUMBERS,
    FRAUD_EVENTS,
    FRAUD_IP,
    FRAUD_NUMBERS,
    FRAUD_RATE_LIMIT_EVENTS,
    FRAUD_SENDS,
    FRAUD_USER_IDS,
    FRAUD_WINDOW,
    PLANT_MIN_EVENTS,
    PLANTED_EVENTS,
    SHARED_NUMBER,
    SHARED_NUMBER_EVENTS,
    SHARED_NUMBER_SPAN,
    SHARED_NUMBER_USER_IDS,
    SHARED_NUMBER_USERS,
)
from .stream import (
    OIE_UPGRADE_AT,
    default_start,
    generate_events,
    planted_window,
    write_ndjson,
)

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
