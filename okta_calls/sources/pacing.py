"""Okta's rate limits and retries: how each System Log request is paced, retried, and given up on.

- :class:`RateLimit` holds a response's ``X-Rate-Limit-Limit/Remaining/Reset`` with its server ``Date``, so the
  reset (UTC epoch seconds) is measured against the server's clock, not the local one;
- before a request, the client waits for the bucket's reset when it would use more than ``max_share`` of it;
- on HTTP 429 it waits until the reset plus jitter and retries;
- 5xx (``E0000009`` included), timeouts and connection errors are retried with capped exponential backoff and
  jitter within a total time budget, then :class:`~okta_calls.sources.okta_errors.OktaUnavailable` is raised;
- any other error status raises :class:`~okta_calls.sources.okta_errors.OktaApiError` at once.

:class:`PacedRequests` is the part of :class:`~okta_calls.sources.okta_api.OktaClient` that does this (its
``get``); it logs to the ``okta_calls.sources.okta_api`` logger, as the client always has.
"""

from __future__ import annotations

import email.utils
import logging
import math
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from okta_calls.sources.okta_errors import (
    OktaApiError,
    OktaError,
    OktaInterrupted,
    OktaRateLimited,
    OktaTransientError,
    OktaUnavailable,
    _error_details,
)

__all__ = ["RETRY_STATUSES", "PacedRequests", "RateLimit", "WaitCallback"]

# Pacing and retries are reported under the client's logger name, as before the split.
log = logging.getLogger("okta_calls.sources.okta_api")

RETRY_STATUSES = frozenset({500, 502, 503, 504})

WaitCallback = Callable[[float, str], None]


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The ``X-Rate-Limit-*`` headers of one response, with the server's ``Date`` to measure ``reset`` by.

    ``received_at`` is the client's monotonic clock when the response arrived, so the server's current time
    can be estimated later as ``server_date + (clock() - received_at)``.
    """

    limit: int
    remaining: int
    reset: float
    server_date: float
    received_at: float

    @property
    def used(self) -> int:
        """Requests already counted against the bucket in its current window."""
        return max(0, self.limit - self.remaining)

    def seconds_until_reset(self, now_monotonic: float) -> float:
        """Seconds from now until the bucket resets, by the server's clock (0 when already past)."""
        server_now = self.server_date + (now_monotonic - self.received_at)
        return max(0.0, self.reset - server_now)


@dataclass(slots=True)
class _RetryState:
    """Bookkeeping of the retries of one request."""

    started: float
    attempts: int = 0
    waited: float = 0.0
    rate_limited: int = 0
    last_error: OktaError | None = None



def _parse_int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


def _parse_http_date(value: str | None) -> float | None:
    """Parse an HTTP ``Date`` header into epoch seconds."""
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError):
        return None


class PacedRequests:
    """The paced, retried GET of :class:`~okta_calls.sources.okta_api.OktaClient`.

    The client sets these attributes in its ``__init__`` and provides ``url_for`` and ``_scrub``. ``_clock``
    is monotonic seconds, ``_wall_clock`` epoch seconds; ``_sleep`` (``None`` to wait on ``stop_event``) and
    ``_rng`` are injectable for tests.
    """

    max_share: float
    retry_budget_s: float
    backoff_base_s: float
    backoff_cap_s: float
    max_rate_limit_waits: int
    max_rate_limit_wait_s: float
    jitter_s: float
    requests_sent: int
    rate_limit: RateLimit | None
    stop_event: threading.Event
    on_wait: WaitCallback | None
    _clock: Callable[[], float]
    _wall_clock: Callable[[], float]
    _sleep: Callable[[float], Any] | None
    _rng: random.Random
    _http: httpx.Client
    url_for: Callable[[str], str]
    _scrub: Callable[[str], str]

    def get(self, path_or_url: str, params: Mapping[str, str] | None = None) -> httpx.Response:
        """One authenticated GET with pacing and retries; returns a 2xx response or raises an ``OktaError``."""
        url = self.url_for(path_or_url)
        if params:
            url = str(httpx.URL(url).copy_merge_params(dict(params)))
        state = _RetryState(started=self._clock())
        while True:
            state.waited += self._pace()
            self._check_stop()
            try:
                response = self._send(url)
            except OktaTransientError as error:
                self._retry_or_raise(state, error, None)
                continue
            if response.is_success:
                return response
            self._handle_failure(state, response)

    def _send(self, url: str) -> httpx.Response:
        """Send the GET; map transport failures to :class:`OktaTransientError`."""
        self.requests_sent += 1
        try:
            response = self._http.get(url)
        except httpx.TimeoutException as error:
            raise OktaTransientError(None, f"timeout ({type(error).__name__})") from None
        except httpx.TransportError as error:
            detail = self._scrub(str(error))
            raise OktaTransientError(None, f"connection error ({type(error).__name__}: {detail})") from None
        # OktaError from the auth flow (token endpoint refused or failed) propagates as it is.
        self._record_rate_limit(response)
        return response

    def _handle_failure(self, state: _RetryState, response: httpx.Response) -> None:
        """Decide what a non-2xx response means: wait and retry, or raise."""
        code, summary = _error_details(response)
        summary = self._scrub(summary)
        status = response.status_code
        if status == 429:
            state.rate_limited += 1
            error = OktaRateLimited(code or "E0000047", summary, status)
            if state.rate_limited > self.max_rate_limit_waits:
                raise error
            info = self.rate_limit
            if info is not None and info.reset > 0:
                # Date has a resolution of one second: add it, then jitter so clients don't stampede.
                wait = self._until_reset(info) + 1.0 + self._jitter()
                log.warning("Okta rate limit hit (%s); waiting %.1f s for the reset", error.brief, wait)
                self._wait(wait, f"rate limited ({error.brief}), waiting for the bucket to reset")
                state.waited += wait
                self.rate_limit = None
                return
            self._retry_or_raise(state, error, response)
            return
        if status in RETRY_STATUSES:
            self._retry_or_raise(state, OktaTransientError(code, summary, status), response)
            return
        raise OktaApiError(code, summary, status)

    def _retry_or_raise(self, state: _RetryState, error: OktaError, response: httpx.Response | None) -> None:
        """Sleep a capped, jittered exponential backoff, or raise ``OktaUnavailable`` past the budget."""
        state.attempts += 1
        state.last_error = error
        # Capped exponential backoff with "equal jitter" (half fixed, half random); jitter_s=0 turns it off.
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * (2 ** (state.attempts - 1)))
        delay = ceiling / 2 + self._rng.uniform(0, ceiling / 2) if self.jitter_s else ceiling
        retry_after = _parse_int(response.headers.get("Retry-After")) if response is not None else None
        if retry_after is not None and 0 <= retry_after <= self.backoff_cap_s:
            delay = max(delay, float(retry_after))
        spent = self._clock() - state.started - state.waited
        if spent + delay > self.retry_budget_s:
            raise OktaUnavailable(
                error.error_code,
                f"{error} - still failing after {state.attempts} attempts in {spent:.0f} s "
                f"(retry budget {self.retry_budget_s:.0f} s)",
                error.status,
            )
        log.warning("Okta request failed (%s); retry %d in %.1f s", error, state.attempts, delay)
        self._wait(delay, f"{error.brief}; retry {state.attempts} in {delay:.1f} s")

    def _record_rate_limit(self, response: httpx.Response) -> None:
        """Remember the ``X-Rate-Limit-*`` headers of a response, with its ``Date``."""
        headers = response.headers
        limit = _parse_int(headers.get("X-Rate-Limit-Limit"))
        remaining = _parse_int(headers.get("X-Rate-Limit-Remaining"))
        reset = _parse_int(headers.get("X-Rate-Limit-Reset"))
        if limit is None or remaining is None or reset is None:
            return
        server_date = _parse_http_date(headers.get("Date"))
        if server_date is None:
            server_date = self._wall_clock()
        self.rate_limit = RateLimit(limit, remaining, float(reset), server_date, self._clock())

    def _pace(self) -> float:
        """Wait for the bucket's reset when the next request would use more than ``max_share`` of it.

        Returns the seconds waited (0 when the share allows the request now).
        """
        info = self.rate_limit
        if info is None or info.limit <= 0:
            return 0.0
        allowed = max(1, math.floor(info.limit * self.max_share))
        if info.used < allowed:
            return 0.0
        wait = self._until_reset(info)
        if wait <= 0:
            return 0.0
        wait += 1.0 + self._jitter()
        log.info("pacing: %d/%d of the rate limit used, waiting %.1f s for the reset", info.used, info.limit, wait)
        self._wait(
            wait,
            f"pacing: {info.used}/{info.limit} requests of this minute's rate limit used "
            f"(keeping under {self.max_share:.0%}), waiting for the reset",
        )
        # The bucket has reset; forget the old numbers so the next response's headers rule.
        self.rate_limit = None
        return wait

    def _until_reset(self, info: RateLimit) -> float:
        """Seconds until the bucket resets, capped: Okta's buckets are per minute, so a far reset is bogus."""
        wait = info.seconds_until_reset(self._clock())
        if wait > self.max_rate_limit_wait_s:
            log.warning("X-Rate-Limit-Reset is %.0f s away; waiting %.0f s instead", wait, self.max_rate_limit_wait_s)
            return self.max_rate_limit_wait_s
        return wait

    def _jitter(self) -> float:
        return self._rng.uniform(0, self.jitter_s) if self.jitter_s else 0.0

    def _wait(self, seconds: float, reason: str) -> None:
        """Report and sleep; raise :class:`OktaInterrupted` when a stop is requested."""
        seconds = max(0.0, seconds)
        log.debug("waiting %.1f s: %s", seconds, reason)
        if self.on_wait is not None:
            self.on_wait(seconds, reason)
        if self._sleep is None:
            interrupted = self.stop_event.wait(seconds)
        else:
            self._sleep(seconds)
            interrupted = self.stop_event.is_set()
        if interrupted:
            raise OktaInterrupted(None, "stopped while waiting; the cursor is unchanged")

    def _check_stop(self) -> None:
        if self.stop_event.is_set():
            raise OktaInterrupted(None, "stopped before the next request; the cursor is unchanged")
