"""The event stream: ``generate_events`` merges ordinary traffic with the planted patterns in persistence
order, and ``write_ndjson`` writes it out; plus the generation window (``default_start``,
``planted_window``).
"""

from __future__ import annotations

import bisect
import heapq
import io
import logging
import random
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import IO, Any, cast

import orjson

from .clock import _Timeline, _to_ms
from .events import (
    _BEHAVIORS_NEW,
    _DENY_REASONS,
    _FAILURE_REASONS,
    _RISKS,
    _Factory,
    _Item,
    _persist_lag,
    _status_delay,
    _status_for,
)
from .planted import (
    _RESERVED_NUMBERS,
    BURST_AT,
    BURST_WINDOW,
    FRAUD_AT,
    FRAUD_WINDOW,
    PLANT_MIN_EVENTS,
    PLANTED_EVENTS,
    SHARED_NUMBER_SPAN,
    _planted,
)
from .population import _cumulative, _World

# The package's logger ("okta_calls.generate"), as before the module became a package.
log = logging.getLogger(__package__)

#: The org moves from Classic Engine to Identity Engine at this fraction of the window.
OIE_UPGRADE_AT = 0.5

# Purposes of a send: (weight, sms event type, voice event type).
_PURPOSES: tuple[tuple[float, str, str], ...] = (
    (55, "system.sms.send_phone_verification_message", "system.voice.send_phone_verification_call"),
    (28, "system.sms.send_factor_verify_message", "system.voice.send_mfa_challenge_call"),
    (8, "system.sms.send_password_reset_message", "system.voice.send_password_reset_call"),
    (4, "system.sms.send_account_unlock_message", "system.voice.send_account_unlock_call"),
    (5, "system.sms.send_okta_push_verify_message", "system.voice.send_call"),
)

# Calling codes of the countries most users live in; phones elsewhere meet Okta's blocker more often.
_COMMON_CODES = frozenset({"1", "44", "49", "33", "91", "55", "61", "81", "34", "39", "31", "52", "353", "65"})


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
    world = _World(rng, reserved=_RESERVED_NUMBERS)
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
