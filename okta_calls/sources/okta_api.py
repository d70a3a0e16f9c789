"""A client for Okta's System Log API (``GET {org}/api/v1/logs``) that follows ``next`` links.

What it does, as Okta documents the API (see ``shared/OKTA.md`` section 1):

- pages by the ``Link`` header only: ``rel="next"`` is followed verbatim, never rebuilt from ``published``;
- a *polling* request (no ``until``) has a ``next`` link on every page, even an empty one, so a run that is
  not following stops after a page shorter than its ``limit``; a *bounded* request (``since`` and ``until``)
  ends when a page has no ``next``;
- reads ``X-Rate-Limit-Limit/Remaining/Reset`` on every response and waits for the bucket's reset before it
  would use more than ``max_share`` of it; the reset (UTC epoch seconds) is measured against the server's
  ``Date`` header, not the local clock;
- on HTTP 429 waits until the reset plus jitter and retries;
- retries 5xx (``E0000009`` included), timeouts and connection errors with capped exponential backoff and
  jitter within a total time budget, then raises :class:`OktaUnavailable`;
- raises :class:`OktaApiError` at once for any other error status (400, 401, 403, ...), with Okta's
  ``errorCode`` and ``errorSummary`` on one line and never the credential.

Each page becomes a :class:`Page` of :class:`~okta_calls.model.Incoming` items for the archive. The client
never prints: progress goes to the ``on_wait`` callback and the ``okta_calls.sources.okta_api`` logger.
The client is not thread-safe; use one per thread.
"""

from __future__ import annotations

import email.utils
import gc
import ipaddress
import logging
import math
import random
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

from okta_calls.jsonio import JSONError, dumps, loads
from okta_calls.model import Incoming

__all__ = [
    "DEFAULT_LIMIT",
    "DEFAULT_TIMEOUT",
    "LOGS_PATH",
    "TELEPHONY_FILTER",
    "InvalidOrgUrl",
    "OktaApiError",
    "OktaClient",
    "OktaError",
    "OktaInterrupted",
    "OktaProtocolError",
    "OktaRateLimited",
    "OktaTransientError",
    "OktaUnavailable",
    "Page",
    "RateLimit",
    "build_start_url",
    "choose_filter",
    "default_since",
    "format_okta_time",
    "redact_url",
    "telephony_filter",
    "validate_org_url",
]

log = logging.getLogger(__name__)

LOGS_PATH = "/api/v1/logs"
DEFAULT_LIMIT = 1000
OKTA_DEFAULT_LIMIT = 100
TELEPHONY_FILTER = 'eventType sw "system.voice." or eventType sw "system.sms."'
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# Okta ends a query after 30 s (HTTP 500 E0000009); a read timeout above that only catches dead connections.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=15.0)
_EVENT_TYPE_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
_USER_AGENT = "okta-calls/0.1 (+httpx)"

WaitCallback = Callable[[float, str], None]


# --------------------------------------------------------------------------------------------------- errors


class OktaError(Exception):
    """Base class of every error this client raises; ``str()`` is one line without credentials."""

    def __init__(self, error_code: str | None, summary: str, status: int | None = None) -> None:
        self.error_code = error_code
        self.summary = _one_line(summary)
        self.status = status
        super().__init__(self.summary)

    def _head(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.error_code:
            parts.append(self.error_code)
        return " ".join(parts)

    def __str__(self) -> str:
        head = self._head()
        return f"{head}: {self.summary}" if head else self.summary

    @property
    def brief(self) -> str:
        """A short label for progress lines: ``HTTP 500 E0000009``, or the start of the summary."""
        return self._head() or (self.summary if len(self.summary) <= 80 else self.summary[:77] + "...")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(error_code={self.error_code!r}, summary={self.summary!r}, "
            f"status={self.status!r})"
        )


_HINTS = {
    "E0000011": "check the API token or the OAuth app's credentials",
    "E0000006": "the credential may not read the System Log (needs an admin role or the okta.logs.read scope)",
    "E0000005": "the credential may not read the System Log (needs an admin role or the okta.logs.read scope)",
    "E0000015": "this org's plan or the credential does not allow the System Log API",
    "invalid_client": "the OAuth app's client id or private key does not match what Okta has registered",
    "invalid_scope": "grant the okta.logs.read scope to the OAuth service app",
    "invalid_dpop_proof": "the OAuth app requires DPoP: turn off 'Require DPoP header in token requests'",
    "use_dpop_nonce": "the OAuth app requires DPoP: turn off 'Require DPoP header in token requests'",
}


class OktaApiError(OktaError):
    """Okta refused the request (400, 401, 403, 404, ...): retrying the same request cannot help."""

    def __str__(self) -> str:
        text = f"Okta refused the request: {super().__str__()}"
        hint = _HINTS.get(self.error_code or "")
        return f"{text} ({hint})" if hint else text


class OktaTransientError(OktaError):
    """A fault worth retrying (5xx, timeout, dropped connection); the client retries it within its budget."""


class OktaUnavailable(OktaError):
    """Retries did not get an answer within the retry budget; nothing after the last good page was lost."""

    def __str__(self) -> str:
        return f"Okta API unavailable, gave up: {super().__str__()}"


class OktaRateLimited(OktaUnavailable):
    """Okta kept answering 429 after as many waits for the bucket's reset as the client allows."""


class OktaProtocolError(OktaError):
    """Okta answered something this client cannot use (a non-array body, a link to another host)."""


class OktaInterrupted(OktaError):
    """A stop was requested while the client was waiting (rate limit or backoff); no page was lost."""


class InvalidOrgUrl(ValueError):
    """The org URL is not ``https://host`` (or ``http://`` to a loopback address)."""


# --------------------------------------------------------------------------------------------------- values


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
class Page:
    """One page of the System Log: its events as ``Incoming`` items and the links to go on from."""

    url: str
    items: list[Incoming]
    next_url: str | None
    self_url: str | None
    status: int
    limit: int
    polling: bool
    rate_limit: RateLimit | None = None
    elapsed_s: float = 0.0

    @property
    def is_short(self) -> bool:
        """True when the page held fewer events than asked for: a polling run has caught up."""
        return len(self.items) < self.limit

    @property
    def is_last(self) -> bool:
        """True when a run that does not follow should stop after this page."""
        return self.next_url is None or (self.polling and self.is_short)


@dataclass(slots=True)
class _RetryState:
    """Bookkeeping of the retries of one request."""

    started: float
    attempts: int = 0
    waited: float = 0.0
    rate_limited: int = 0
    last_error: OktaError | None = None


# --------------------------------------------------------------------------------------------------- helpers


def _one_line(text: str) -> str:
    """Collapse whitespace so a message is one line."""
    return " ".join(str(text).split())


def _is_loopback(host: str) -> bool:
    """True for ``localhost`` and addresses in 127.0.0.0/8 or ``::1``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def validate_org_url(url: str) -> str:
    """Return the org's origin (``https://host[:port]``) or raise :class:`InvalidOrgUrl`.

    Only ``https`` is accepted, except ``http`` to a loopback address (tests and local mirrors). A path other
    than ``/``, a query, a fragment or user info are refused: the org URL is an origin, nothing more.
    """
    text = (url or "").strip()
    if not text:
        raise InvalidOrgUrl("the Okta org URL is empty (use --org or OKTA_ORG_URL)")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    try:
        host = parts.hostname
        port = parts.port
    except ValueError as error:
        raise InvalidOrgUrl(f"the Okta org URL is not valid: {_one_line(str(error))}") from None
    if scheme not in ("https", "http") or not host:
        raise InvalidOrgUrl("the Okta org URL must look like https://your-org.okta.com")
    if parts.username is not None or parts.password is not None:
        raise InvalidOrgUrl("the Okta org URL must not contain user info; pass credentials separately")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise InvalidOrgUrl("the Okta org URL must be the org's origin only, like https://your-org.okta.com")
    if scheme == "http" and not _is_loopback(host):
        raise InvalidOrgUrl("the Okta org URL must use https (http is allowed only for loopback addresses)")
    first_label = host.split(".", 1)[0]
    if first_label.endswith("-admin") and (host.endswith(".okta.com") or host.endswith(".oktapreview.com")):
        raise InvalidOrgUrl(
            f"{host} is the Admin Console domain; use the org domain without '-admin' for API calls"
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and not (scheme == "https" and port == 443) and not (scheme == "http" and port == 80):
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}"


def format_okta_time(value: datetime | str) -> str:
    """Format a time as Okta's ISO 8601 (UTC, milliseconds, ``Z``); strings are passed through as given."""
    if isinstance(value, str):
        return value
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    value = value.astimezone(timezone.utc)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def telephony_filter(event_types: list[str] | None) -> str:
    """The SCIM filter for telephony events: every voice and SMS event, or exactly ``event_types``."""
    if not event_types:
        return TELEPHONY_FILTER
    clauses = []
    for event_type in dict.fromkeys(event_types):
        if not _EVENT_TYPE_RE.match(event_type):
            raise ValueError(f"not an Okta event type: {event_type!r}")
        clauses.append(f'eventType eq "{event_type}"')
    return " or ".join(clauses)


def choose_filter(
    event_types: list[str] | None = None, filter_expr: str | None = None, all_events: bool = False
) -> str | None:
    """Resolve the CLI's ``--event-type`` / ``--filter`` / ``--all-events`` into one filter (or ``None``)."""
    chosen = sum(bool(x) for x in (event_types, filter_expr, all_events))
    if chosen > 1:
        raise ValueError("use only one of --event-type, --filter and --all-events")
    if all_events:
        return None
    if filter_expr:
        return filter_expr.strip()
    return telephony_filter(event_types)


def build_start_url(
    org: str,
    *,
    since: datetime | str | None,
    until: datetime | str | None = None,
    filter: str | None = None,  # noqa: A002 - the API's own parameter name
    limit: int = DEFAULT_LIMIT,
) -> str:
    """The first URL of a run: ascending, ``limit`` events a page, from ``since`` (and to ``until``).

    Without ``until`` this is a polling request whose ``next`` links never run out; with it, a bounded one.
    """
    if not 1 <= limit <= 1000:
        raise ValueError("limit must be between 1 and 1000")
    params: dict[str, str] = {}
    if since is not None:
        params["since"] = format_okta_time(since)
    if until is not None:
        params["until"] = format_okta_time(until)
    if filter:
        params["filter"] = filter
    params["limit"] = str(limit)
    params["sortOrder"] = "ASCENDING"
    return str(httpx.URL(validate_org_url(org) + LOGS_PATH, params=params))


def default_since(days: int = 90, *, now: datetime | None = None) -> datetime:
    """The default start of a first run: ``days`` back from now (Okta keeps 90 days)."""
    return (now or datetime.now(timezone.utc)) - timedelta(days=days)


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


def _query_value(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None


def _error_details(response: httpx.Response) -> tuple[str | None, str]:
    """Okta's ``errorCode`` and ``errorSummary`` (or OAuth's ``error``/``error_description``) of a response."""
    try:
        body = loads(response.content) if response.content else None
    except JSONError:
        body = None
    if isinstance(body, dict):
        code = body.get("errorCode") or body.get("error")
        summary = body.get("errorSummary") or body.get("error_description") or ""
        causes = body.get("errorCauses")
        if isinstance(causes, list):
            extra = [str(c["errorSummary"]) for c in causes if isinstance(c, dict) and c.get("errorSummary")]
            extra = [x for x in extra if x not in str(summary)]
            if extra:
                summary = f"{summary} ({'; '.join(extra)})"
        if code or summary:
            return (str(code) if code else None), _one_line(str(summary)) or response.reason_phrase
    return None, response.reason_phrase or "error"


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while decoding a page.

    A 1,000-event page is ~100,000 new (acyclic) containers; they trigger collections that walk every live
    object and, in a long sync, cost 3x the decoding itself. JSON values have no cycles, so nothing is lost.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def redact_url(url: str | httpx.URL) -> str:
    """The URL without user info (credentials are never put in URLs by this client, but be sure)."""
    parsed = httpx.URL(str(url))
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed)


# --------------------------------------------------------------------------------------------------- client


class OktaClient:
    """A synchronous System Log API client with Okta's paging, rate-limit pacing and retries.

    ``auth`` is an ``httpx.Auth`` (see :mod:`okta_calls.auth`) so credentials are only added on the wire.
    ``clock`` (monotonic seconds), ``sleep`` and ``rng`` are injectable for tests. ``stop_event``, when set,
    interrupts any wait with :class:`OktaInterrupted`. ``on_wait(seconds, reason)`` is called before each
    wait (pacing, 429, backoff).
    """

    def __init__(
        self,
        org_url: str,
        auth: httpx.Auth | None,
        *,
        transport: httpx.BaseTransport | None = None,
        max_share: float = 0.8,
        retry_budget_s: float = 300.0,
        backoff_base_s: float = 1.0,
        backoff_cap_s: float = 60.0,
        max_rate_limit_waits: int = 10,
        max_rate_limit_wait_s: float = 120.0,
        jitter_s: float = 1.0,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Any] | None = None,
        rng: random.Random | None = None,
        stop_event: threading.Event | None = None,
        on_wait: WaitCallback | None = None,
        user_agent: str = _USER_AGENT,
    ) -> None:
        if not 0.0 < max_share <= 1.0:
            raise ValueError("max_share must be in (0, 1]")
        if retry_budget_s < 0 or backoff_base_s <= 0 or backoff_cap_s <= 0:
            raise ValueError("retry budget and backoff times must be positive")
        self.org_url = validate_org_url(org_url)
        self._origin = urlsplit(self.org_url)
        self.max_share = max_share
        self.retry_budget_s = retry_budget_s
        self.backoff_base_s = backoff_base_s
        self.backoff_cap_s = backoff_cap_s
        self.max_rate_limit_waits = max_rate_limit_waits
        self.max_rate_limit_wait_s = max_rate_limit_wait_s
        self.jitter_s = max(0.0, jitter_s)
        self._clock = clock
        self._wall_clock = wall_clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.stop_event = stop_event or threading.Event()
        self.on_wait = on_wait
        self.rate_limit: RateLimit | None = None
        self.requests_sent = 0
        self._auth = auth
        self._http = httpx.Client(
            auth=auth,
            transport=transport,
            timeout=timeout,
            follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": user_agent},
        )

    # ----------------------------------------------------------------------------------------- lifecycle

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> OktaClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"OktaClient(org_url={self.org_url!r}, auth={self._auth!r}, max_share={self.max_share})"

    # ----------------------------------------------------------------------------------------- URLs

    def url_for(self, path_or_url: str) -> str:
        """An absolute URL on the org for a path (``/api/v1/logs?...``) or a URL on the same origin."""
        text = path_or_url.strip()
        if text.startswith("/"):
            return self.org_url + text
        if "://" not in text:
            return f"{self.org_url}/{text}"
        self._check_origin(text)
        return text

    def _check_origin(self, url: str) -> None:
        """Refuse a URL on another origin: the credential must never leave the org."""
        parts = urlsplit(url)
        origin = self._origin
        try:
            same = (
                parts.scheme.lower() == origin.scheme
                and (parts.hostname or "").lower() == (origin.hostname or "").lower()
                and (parts.port or _default_port(parts.scheme)) == (origin.port or _default_port(origin.scheme))
            )
        except ValueError:
            same = False
        if not same:
            raise OktaProtocolError(None, f"refusing to follow a URL outside the org {self.org_url}: {redact_url(url)}")

    # ----------------------------------------------------------------------------------------- requests

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

    def _scrub(self, text: str) -> str:
        """Remove any credential value from a message (defence in depth)."""
        secrets = getattr(self._auth, "secret_values", None)
        if callable(secrets):
            for secret in secrets():
                if secret and len(secret) >= 4:
                    text = text.replace(secret, "[REDACTED]")
        return text

    # ----------------------------------------------------------------------------------------- pages

    def fetch_page(self, url: str) -> Page:
        """Fetch one page of ``/api/v1/logs`` and decode it into a :class:`Page`."""
        url = self.url_for(url)
        started = self._clock()
        response = self.get(url)
        ref = redact_url(response.request.url)
        with _gc_paused():
            try:
                body = loads(response.content)
            except JSONError as error:
                raise OktaProtocolError(None, f"the page is not JSON ({error})", response.status_code) from None
            if not isinstance(body, list):
                raise OktaProtocolError(None, "the page is not a JSON array of events", response.status_code)
            items = [
                Incoming(event=value, raw=None if isinstance(value, dict) else dumps(value), ref=ref, line=position)
                for position, value in enumerate(body, start=1)
            ]
        next_url = self._link(response, "next")
        limit = _parse_int(_query_value(url, "limit")) or OKTA_DEFAULT_LIMIT
        polling = _query_value(url, "until") is None
        return Page(
            url=ref,
            items=items,
            next_url=next_url,
            self_url=self._link(response, "self"),
            status=response.status_code,
            limit=limit,
            polling=polling,
            rate_limit=self.rate_limit,
            elapsed_s=self._clock() - started,
        )

    def _link(self, response: httpx.Response, rel: str) -> str | None:
        """The absolute URL of a ``Link`` header relation, checked to be on the org."""
        link = response.links.get(rel)
        if not link or not link.get("url"):
            return None
        url = str(response.request.url.join(link["url"]))
        self._check_origin(url)
        return redact_url(url)

    def pages(self, start: str | Mapping[str, Any]) -> Iterator[Page]:
        """Yield pages from ``start`` (a URL or path, or ``build_start_url`` keyword arguments) on.

        Follows ``next`` until a page has none, or, for a polling request, until a page is shorter than its
        ``limit`` (caught up). To keep following, call again with the last page's ``next_url`` later.
        Stops before a request when ``stop_event`` is set.
        """
        url = start if isinstance(start, str) else build_start_url(self.org_url, **dict(start))
        while True:
            page = self.fetch_page(url)
            yield page
            if page.is_last or page.next_url is None:
                return
            if self.stop_event.is_set():
                return
            url = page.next_url

    def iter_raw(self, path_or_url: str, *, paginate: bool = False) -> Iterator[httpx.Response]:
        """Raw GET responses for debugging; with ``paginate``, follow ``next`` until none or a short page."""
        url: str | None = self.url_for(path_or_url)
        seen: set[str] = set()
        while url is not None:
            response = self.get(url)
            yield response
            if not paginate:
                return
            seen.add(url)
            url = self._link(response, "next")
            if url is None or url in seen:
                return
            limit = _parse_int(_query_value(str(response.request.url), "limit"))
            try:
                body = loads(response.content)
            except JSONError:
                return
            if isinstance(body, list) and (not body or (limit is not None and len(body) < limit)):
                return


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80
