"""Time for the generator: ``published`` timestamps in Okta's format and the daily/weekly traffic cycle."""

from __future__ import annotations

import bisect
import math
from datetime import UTC, datetime, timedelta
from functools import lru_cache

_HOUR_MS = 3_600_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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

