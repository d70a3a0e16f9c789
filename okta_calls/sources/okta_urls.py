"""The System Log API's URLs and filters: the org origin, the first request of a run, SCIM filters.

Pure functions (no requests) shared by the client (``okta_api``), the sync and the CLI.
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import parse_qs, urlsplit

import httpx

from okta_calls.sources.okta_errors import InvalidOrgUrl, _one_line

LOGS_PATH = "/api/v1/logs"
DEFAULT_LIMIT = 1000
OKTA_DEFAULT_LIMIT = 100
TELEPHONY_FILTER = 'eventType sw "system.voice." or eventType sw "system.sms."'
_EVENT_TYPE_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")


# --------------------------------------------------------------------------------------------------- values


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

def _query_value(url: str, name: str) -> str | None:
    values = parse_qs(urlsplit(url).query).get(name)
    return values[0] if values else None

def redact_url(url: str | httpx.URL) -> str:
    """The URL without user info (credentials are never put in URLs by this client, but be sure)."""
    parsed = httpx.URL(str(url))
    if parsed.userinfo:
        parsed = parsed.copy_with(username=None, password=None)
    return str(parsed)


def _default_port(scheme: str) -> int:
    return 443 if scheme.lower() == "https" else 80