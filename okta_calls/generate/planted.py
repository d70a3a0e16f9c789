"""The three planted toll-fraud patterns and their constants: an SMS/voice pumping attack from
``FRAUD_IP``, a number shared by ``SHARED_NUMBER_USERS`` users, and a voice-call burst by ``BURST_USER_ID``.
"""

from __future__ import annotations

import math
from datetime import timedelta
from typing import Any

from .events import (
    _BEHAVIORS_NEW,
    _DENY_REASONS,
    _RISKS,
    SEND_TYPES,
    _Factory,
    _Item,
    _persist_lag,
    _status_delay,
)
from .population import _Net, _World
from .population_data import _HEADLESS_UA

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

# Numbers the planted patterns use: ordinary users never get one of them.
_RESERVED_NUMBERS: tuple[str, ...] = (SHARED_NUMBER, BURST_NUMBER, *FRAUD_NUMBERS)


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
