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

import gc
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx

from okta_calls.jsonio import JSONError, dumps, loads
from okta_calls.model import Incoming
from okta_calls.sources.okta_errors import (
    InvalidOrgUrl,
    OktaApiError,
    OktaError,
    OktaInterrupted,
    OktaProtocolError,
    OktaRateLimited,
    OktaTransientError,
    OktaUnavailable,
)
from okta_calls.sources.okta_urls import (
    DEFAULT_LIMIT,
    LOGS_PATH,
    OKTA_DEFAULT_LIMIT,
    TELEPHONY_FILTER,
    _default_port,
    _query_value,
    build_start_url,
    choose_filter,
    default_since,
    format_okta_time,
    redact_url,
    telephony_filter,
    validate_org_url,
)
from okta_calls.sources.pacing import (
    RETRY_STATUSES,  # noqa: F401 - re-exported
    PacedRequests,
    RateLimit,
    WaitCallback,
    _parse_int,
)

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

# Okta ends a query after 30 s (HTTP 500 E0000009); a read timeout above that only catches dead connections.
DEFAULT_TIMEOUT = httpx.Timeout(60.0, connect=15.0)
_USER_AGENT = "okta-calls/0.1 (+httpx)"


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


# --------------------------------------------------------------------------------------------------- helpers


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


# --------------------------------------------------------------------------------------------------- client


class OktaClient(PacedRequests):
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
