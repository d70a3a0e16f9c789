"""A real HTTP server on loopback that behaves as Okta documents ``GET /api/v1/logs`` (and its token endpoint).

Tests point ``OktaClient`` (and the CLI) at ``FakeOkta.base_url`` (``http://127.0.0.1:PORT``). What it does:

- ``/api/v1/logs`` with ``since``, ``until``, ``after`` (an opaque cursor), ``filter`` (SCIM: ``eq``, ``sw``,
  ``co``, ``pr``, ``gt/ge/lt/le``, ``and``, ``or``, parentheses), ``q``, ``limit`` (0..1000, default 100) and
  ``sortOrder``;
- a *polling* request (no ``until``) returns events in insertion ("persistence") order, which need not be
  ``published`` order, and has a ``rel="next"`` link on every page, even an empty one; events added with
  :meth:`FakeOkta.add_events` while it runs appear at the next poll;
- a *bounded* request (``since`` + ``until``) returns events by ``published`` and has no ``next`` on its last
  page;
- ``Link`` ``rel="self"`` on every page; ``X-Rate-Limit-Limit/Remaining/Reset`` and ``Date`` on every response,
  from a real per-minute bucket (HTTP 429 ``E0000047`` when it is empty);
- authentication: ``SSWS <api_token>`` or ``Bearer <token>`` issued by ``POST /oauth2/v1/token`` after
  verifying the ``private_key_jwt`` client assertion against the configured public key; otherwise 401
  ``E0000011``;
- injectable faults (:class:`Fault`, a queue consumed one per request): 429 with a reset, 500 ``E0000009``,
  401 ``E0000011``, 503, a dropped connection, a truncated body, a page that repeats the previous page's last
  event; optional latency per page;
- it records every request (:attr:`FakeOkta.requests`) so tests can assert paths and headers.
"""

from __future__ import annotations

import base64
import contextlib
import email.utils
import hashlib
import itertools
import math
import re
import secrets
import threading
import time
import uuid as uuid_module
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
import orjson
from cryptography.hazmat.primitives import serialization

LOGS_PATH = "/api/v1/logs"
TOKEN_PATH = "/oauth2/v1/token"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

# --------------------------------------------------------------------------------------------------- events

PHONE_EVENT_TYPES = (
    "system.voice.send_phone_verification_call",
    "system.sms.send_phone_verification_message",
    "system.voice.receive_status",
    "system.sms.receive_status",
)


def okta_time(epoch: float) -> str:
    """Okta's ``published`` format: ISO 8601, UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(epoch, tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_time(text: str) -> float:
    """Parse an ISO 8601 time (``Z`` or offset; naive means UTC) to epoch seconds."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()


def make_event(
    n: int,
    *,
    event_type: str = "system.voice.send_phone_verification_call",
    published: float | str | None = None,
    uuid: str | None = None,
    phone: str | None = None,
) -> dict[str, Any]:
    """A realistic Classic Engine telephony LogEvent, number ``n`` (deterministic uuid unless given)."""
    if published is None:
        published = time.time() - 3600 + n * 0.001
    published_text = published if isinstance(published, str) else okta_time(published)
    phone = phone or f"+1415555{n % 10000:04d}"
    return {
        "uuid": uuid or str(uuid_module.UUID(int=n + 1)),
        "published": published_text,
        "eventType": event_type,
        "version": "0",
        "severity": "INFO",
        "legacyEventType": "core.user.call_to_send_otp.message_sent.verify",
        "displayMessage": "Send phone verification call",
        "actor": {"id": f"00u{n:017d}", "type": "User", "alternateId": f"user{n}@example.com",
                  "displayName": f"User {n}", "detailEntry": None},
        "client": {"userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Mac OS X", "browser": "CHROME"},
                   "zone": "null", "device": "Computer", "id": None, "ipAddress": "198.51.100.7",
                   "geographicalContext": {"city": "San Francisco", "state": "California",
                                           "country": "United States", "postalCode": "94107",
                                           "geolocation": {"lat": 37.7697, "lon": -122.3933}}},
        "outcome": {"result": "SUCCESS", "reason": None},
        "target": [
            {"id": f"00u{n:017d}", "type": "User", "alternateId": f"user{n}@example.com",
             "displayName": f"User {n}", "detailEntry": None},
            {"id": f"mbl{n:017d}", "type": "MobilePhone", "alternateId": phone, "displayName": phone,
             "detailEntry": None},
        ],
        "transaction": {"type": "WEB", "id": f"tx{n}", "detail": {}},
        "debugContext": {"debugData": {"requestId": f"req{n}", "requestUri": "/api/v1/authn/factors/verify"}},
        "authenticationContext": {"externalSessionId": f"sess{n}", "authenticationStep": 0},
        "securityContext": {"asNumber": 64496, "asOrg": "example", "isp": "example", "domain": "example.com",
                            "isProxy": False},
        "request": {"ipChain": []},
    }


def make_events(count: int, *, start: int = 0, **kwargs: Any) -> list[dict[str, Any]]:
    """``count`` events numbered from ``start``."""
    return [make_event(n, **kwargs) for n in range(start, start + count)]


# --------------------------------------------------------------------------------------------------- filter


class FilterError(ValueError):
    """An invalid SCIM filter (answered with 400 E0000053, as Okta does)."""


_TOKEN_RE = re.compile(r'\s*(\(|\)|"(?:[^"\\]|\\.)*"|[^\s()"]+)')
_OPERATORS = {"eq", "co", "sw", "pr", "gt", "ge", "lt", "le"}
Predicate = Callable[[Mapping[str, Any]], bool]


def _lookup(event: Mapping[str, Any], path: str) -> Any:
    value: Any = event
    for part in path.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _comparison(attr: str, op: str, literal: str | None) -> Predicate:
    if attr == "published":
        raise FilterError("field is not valid: published")
    if op == "pr":
        return lambda e: _lookup(e, attr) is not None
    assert literal is not None

    def text(e: Mapping[str, Any]) -> str | None:
        value = _lookup(e, attr)
        return None if value is None else (value if isinstance(value, str) else str(value))

    tests: dict[str, Callable[[str, str], bool]] = {
        "eq": lambda a, b: a == b,
        "co": lambda a, b: b.lower() in a.lower(),
        "sw": lambda a, b: a.startswith(b),
        "gt": lambda a, b: a > b,
        "ge": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "le": lambda a, b: a <= b,
    }
    check = tests[op]

    def predicate(e: Mapping[str, Any]) -> bool:
        value = text(e)
        return value is not None and check(value, literal)

    return predicate


@lru_cache(maxsize=128)
def compile_filter(expression: str) -> Predicate:
    """Compile a SCIM filter into a predicate over a LogEvent; raise :class:`FilterError` when invalid."""
    tokens = _TOKEN_RE.findall(expression)
    if "".join(t for t in tokens).replace(" ", "") != re.sub(r"\s+", "", expression):
        raise FilterError(f"Invalid filter '{expression}'")
    position = 0

    def peek() -> str | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> str:
        nonlocal position
        if position >= len(tokens):
            raise FilterError(f"Invalid filter '{expression}': unexpected end")
        position += 1
        return str(tokens[position - 1])

    def parse_or() -> Predicate:
        parts = [parse_and()]
        while (peek() or "").lower() == "or":
            take()
            parts.append(parse_and())
        return parts[0] if len(parts) == 1 else (lambda e: any(p(e) for p in parts))

    def parse_and() -> Predicate:
        parts = [parse_factor()]
        while (peek() or "").lower() == "and":
            take()
            parts.append(parse_factor())
        return parts[0] if len(parts) == 1 else (lambda e: all(p(e) for p in parts))

    def parse_factor() -> Predicate:
        token = take()
        if token == "(":
            inner = parse_or()
            if take() != ")":
                raise FilterError(f"Invalid filter '{expression}': missing )")
            return inner
        attr = token
        op = take().lower()
        if op not in _OPERATORS:
            raise FilterError(
                f"Invalid filter '{expression}': Unrecognized attribute operator '{op}'. "
                "Expected: eq,co,sw,pr,gt,ge,lt,le"
            )
        if op == "pr":
            return _comparison(attr, op, None)
        literal = take()
        if not (literal.startswith('"') and literal.endswith('"') and len(literal) >= 2):
            raise FilterError(f"Invalid filter '{expression}': expected a quoted value after {op}")
        return _comparison(attr, op, literal[1:-1].replace('\\"', '"').replace("\\\\", "\\"))

    predicate = parse_or()
    if position != len(tokens):
        raise FilterError(f"Invalid filter '{expression}': unexpected '{tokens[position]}'")
    return predicate


# --------------------------------------------------------------------------------------------------- faults


@dataclass(slots=True)
class Fault:
    """One injected misbehaviour, used by the next request to ``path``.

    ``kind``: ``"status"`` (answer ``status`` with an Okta error body), ``"rate_limit"`` (429, reset in
    ``reset_in`` seconds), ``"drop"`` (close the connection without answering), ``"truncate"`` (promise a
    body and close half-way), ``"overlap"`` (serve the page normally, but repeat the last event of the
    previous page first), ``"delay"`` (sleep ``seconds`` before answering normally).
    """

    kind: str
    status: int = 500
    error_code: str | None = None
    summary: str = ""
    reset_in: float = 30.0
    seconds: float = 0.0
    path: str = LOGS_PATH
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limited(cls, reset_in: float = 30.0) -> Fault:
        return cls("rate_limit", status=429, error_code="E0000047",
                   summary="API call exceeded rate limit due to too many requests.", reset_in=reset_in)

    @classmethod
    def query_timeout(cls) -> Fault:
        return cls("status", status=500, error_code="E0000009",
                   summary="Your last request took too long to complete. This is likely due to a load issue "
                           "on our side. We've logged this and will work to address it. Please either "
                           "simplify your query or wait a few minutes and try again.")

    @classmethod
    def invalid_token(cls) -> Fault:
        return cls("status", status=401, error_code="E0000011", summary="Invalid token provided")

    @classmethod
    def forbidden(cls) -> Fault:
        return cls("status", status=403, error_code="E0000006",
                   summary="You do not have permission to perform the requested action")

    @classmethod
    def unavailable(cls) -> Fault:
        return cls("status", status=503, error_code=None, summary="Service Unavailable")

    @classmethod
    def drop(cls) -> Fault:
        return cls("drop")

    @classmethod
    def truncate(cls) -> Fault:
        return cls("truncate")

    @classmethod
    def overlap(cls) -> Fault:
        return cls("overlap")

    @classmethod
    def delay(cls, seconds: float) -> Fault:
        return cls("delay", seconds=seconds)


@dataclass(frozen=True, slots=True)
class Recorded:
    """A request the server received."""

    method: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    target: str
    form: dict[str, list[str]] | None = None
    status: int | None = None
    at: float = 0.0


@dataclass(slots=True)
class _Stored:
    body: bytes
    event: dict[str, Any]
    published: float
    persisted: float


@dataclass(slots=True)
class _Response:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    links: list[tuple[str, str]] = field(default_factory=list)
    drop: bool = False
    truncate: bool = False


# --------------------------------------------------------------------------------------------------- server


class FakeOkta:
    """The server. Use as a context manager, or ``start()`` / ``stop()``."""

    def __init__(
        self,
        events: Iterable[Any] = (),
        *,
        api_token: str | None = "test-api-token-0123456789",
        client_id: str | None = None,
        public_key: Any = None,
        allowed_scopes: Iterable[str] = ("okta.logs.read",),
        token_lifetime_s: int = 3600,
        rate_limit: int = 10_000,
        latency_s: float = 0.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self._lock = threading.RLock()
        self._events: list[_Stored] = []
        self._faults: deque[Fault] = deque()
        self._cursor_key = secrets.token_bytes(8)
        self._last_served: int | None = None
        self.api_token = api_token
        self.client_id = client_id
        self.public_key = _load_public_key(public_key) if public_key is not None else None
        self.allowed_scopes = set(allowed_scopes)
        self.token_lifetime_s = token_lifetime_s
        self.rate_limit = rate_limit
        self.latency_s = latency_s
        self.now = now
        self.requests: list[Recorded] = []
        self.issued_tokens: dict[str, float] = {}
        self._used_jti: set[str] = set()
        self._window: int | None = None
        self._window_count = 0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add_events(events)

    # ----------------------------------------------------------------------------------------- lifecycle

    def start(self) -> FakeOkta:
        handler = _make_handler(self)
        self._server = _QuietServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-okta", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> FakeOkta:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start the server first"
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def token_url(self) -> str:
        return self.base_url + TOKEN_PATH

    # ----------------------------------------------------------------------------------------- data

    def add_events(self, events: Iterable[Any], *, persisted: float | None = None) -> None:
        """Append events in persistence order (they appear at the next poll)."""
        with self._lock:
            for event in events:
                # Anything JSON can be stored, so tests can serve pages holding non-objects.
                fields = dict(event) if isinstance(event, Mapping) else {}
                try:
                    published = parse_time(str(fields.get("published")))
                except ValueError:
                    published = self.now()
                last = self._events[-1].persisted if self._events else 0.0
                stamp = persisted if persisted is not None else max(published, last)
                self._events.append(_Stored(orjson.dumps(event), fields, published, stamp))

    @property
    def event_count(self) -> int:
        with self._lock:
            return len(self._events)

    def events_before(self, next_url: str) -> list[dict[str, Any]]:
        """Every stored event (filter or not) that a polling ``next`` link of this server has moved past.

        A client that committed a page with that link has been served every matching one of them.
        """
        after = parse_qs(urlsplit(next_url).query).get("after", [""])[0]
        cursor = self._decode_cursor(after)
        if cursor.get("m") != "p":
            raise ValueError(f"not a polling cursor: {next_url}")
        with self._lock:
            return [stored.event for stored in self._events[: int(cursor.get("i", 0))]]

    def inject(self, *faults: Fault) -> None:
        """Queue faults; each is used by the next request to its path."""
        with self._lock:
            self._faults.extend(faults)

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def log_requests(self) -> list[Recorded]:
        """The recorded requests to ``/api/v1/logs``."""
        with self._lock:
            return [r for r in self.requests if r.path == LOGS_PATH]

    def token_requests(self) -> list[Recorded]:
        with self._lock:
            return [r for r in self.requests if r.path == TOKEN_PATH]

    # ----------------------------------------------------------------------------------------- cursor

    def _encode_cursor(self, payload: dict[str, Any]) -> str:
        raw = orjson.dumps(payload)
        tag = hashlib.blake2b(raw, key=self._cursor_key, digest_size=6).digest()
        return base64.urlsafe_b64encode(tag + raw).decode().rstrip("=")

    def _decode_cursor(self, text: str) -> dict[str, Any]:
        try:
            data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
            tag, raw = data[:6], data[6:]
            if hashlib.blake2b(raw, key=self._cursor_key, digest_size=6).digest() != tag:
                raise ValueError("bad tag")
            payload = orjson.loads(raw)
            if not isinstance(payload, dict):
                raise ValueError("bad payload")
            return payload
        except (ValueError, orjson.JSONDecodeError):
            raise _ClientError(400, "E0000001", "Api validation failed: after: invalid cursor") from None

    # ----------------------------------------------------------------------------------------- handling

    def _rate_headers(self, now: float) -> tuple[dict[str, str], bool]:
        """Count a request against the per-minute bucket; return its headers and whether it is over."""
        window = int(now // 60)
        with self._lock:
            if window != self._window:
                self._window = window
                self._window_count = 0
            self._window_count += 1
            over = self._window_count > self.rate_limit
            remaining = max(0, self.rate_limit - self._window_count)
        headers = {
            "X-Rate-Limit-Limit": str(self.rate_limit),
            "X-Rate-Limit-Remaining": str(remaining),
            "X-Rate-Limit-Reset": str((window + 1) * 60),
        }
        return headers, over

    def _next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for fault in self._faults:
                if fault.path == path:
                    self._faults.remove(fault)
                    return fault
        return None

    def handle(self, method: str, target: str, headers: Mapping[str, str], body: bytes) -> _Response:
        """Answer one request (called by the handler thread); ``headers`` has lower-case names."""
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        form = parse_qs(body.decode("utf-8", "replace")) if method == "POST" else None
        authorization = headers.get("authorization")
        at = self.now()
        response = self._dispatch(method, parts.path, query, authorization, form, target)
        with self._lock:
            self.requests.append(
                Recorded(method, parts.path, query, authorization, target, form, response.status, at)
            )
        return response

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        authorization: str | None,
        form: dict[str, list[str]] | None,
        target: str,
    ) -> _Response:
        now = self.now()
        fault = self._next_fault(path)
        if fault is not None and fault.kind == "delay":
            time.sleep(fault.seconds)
            fault = None
        if fault is not None and fault.kind in ("drop", "truncate"):
            if fault.kind == "drop":
                return _Response(0, drop=True)
            return _Response(200, b"[" + b'{"uuid": "x"},' * 50, truncate=True)
        if path == TOKEN_PATH and method == "POST":
            if fault is not None and fault.kind == "status":
                return _json_response(fault.status, {"error": fault.error_code or "server_error",
                                                     "error_description": fault.summary})
            return self._token(form or {}, now)
        if path != LOGS_PATH or method != "GET":
            return _error(404, "E0000022", "The endpoint does not support the provided HTTP method", {})
        rate_headers, over = self._rate_headers(now)
        if fault is not None and fault.kind == "rate_limit":
            rate_headers = dict(rate_headers, **{
                "X-Rate-Limit-Remaining": "0",
                "X-Rate-Limit-Reset": str(math.ceil(now + fault.reset_in)),
            })
            return _error(429, fault.error_code or "E0000047", fault.summary, rate_headers)
        if not self._authorized(authorization, now):
            return _error(401, "E0000011", "Invalid token provided", rate_headers)
        if over:
            return _error(429, "E0000047", "API call exceeded rate limit due to too many requests.", rate_headers)
        if fault is not None and fault.kind == "status":
            return _error(fault.status, fault.error_code, fault.summary, dict(rate_headers, **fault.headers))
        if self.latency_s:
            time.sleep(self.latency_s)
        try:
            return self._logs(query, target, now, rate_headers, overlap=fault is not None and fault.kind == "overlap")
        except _ClientError as error:
            return _error(error.status, error.code, error.summary, rate_headers)

    def _authorized(self, authorization: str | None, now: float) -> bool:
        if not authorization:
            return False
        scheme, _, credential = authorization.partition(" ")
        if scheme == "SSWS" and self.api_token is not None:
            return secrets.compare_digest(credential, self.api_token)
        if scheme == "Bearer":
            with self._lock:
                expires = self.issued_tokens.get(credential)
            return expires is not None and now < expires
        return False

    def _logs(
        self, query: dict[str, list[str]], target: str, now: float, headers: dict[str, str], *, overlap: bool
    ) -> _Response:
        def one(name: str) -> str | None:
            values = query.get(name)
            return values[0] if values else None

        limit_text = one("limit")
        try:
            limit = int(limit_text) if limit_text is not None else 100
        except ValueError:
            raise _ClientError(400, "E0000001", "Api validation failed: limit") from None
        if not 0 <= limit <= 1000:
            raise _ClientError(400, "E0000001", "Api validation failed: limit: must be between 0 and 1000")
        since_text, until_text, after = one("since"), one("until"), one("after")
        if since_text and after:
            raise _ClientError(400, "E0000001", "Api validation failed: since and after are mutually exclusive")
        try:
            since = parse_time(since_text) if since_text else None
            until = parse_time(until_text) if until_text else None
        except ValueError:
            raise _ClientError(
                400, "E0000001",
                "Api validation failed: 'since': The date format in your query is not recognized. "
                "Please enter dates using ISO8601 string format.",
            ) from None
        if since is not None and since < now - 180 * 86400:
            raise _ClientError(400, "E0000053",
                               "Invalid parameter: The since parameter is over 180 days prior to the current day.")
        filter_text = one("filter")
        try:
            predicate = compile_filter(filter_text) if filter_text else None
        except FilterError as error:
            raise _ClientError(400, "E0000053", str(error)) from None
        keywords = [k.lower() for k in (one("q") or "").split()]
        descending = (one("sortOrder") or "ASCENDING").upper() == "DESCENDING"

        def matches(stored: _Stored) -> bool:
            if predicate is not None and not predicate(stored.event):
                return False
            if keywords:
                text = stored.body.decode().lower()
                return all(k in text for k in keywords)
            return True

        keep = {k: v[0] for k, v in query.items() if k not in ("since", "after") and v}
        if until is None and not (after and self._decode_cursor(after).get("m") == "b"):
            bodies, next_after = self._poll(after, since, limit, matches, overlap, now)
            next_params = dict(keep, after=self._encode_cursor({"m": "p", "i": next_after}))
            links = [("self", target), ("next", LOGS_PATH + "?" + urlencode(next_params))]
        else:
            bodies, next_cursor = self._bounded(after, since, until, limit, matches, descending, now)
            links = [("self", target)]
            if next_cursor is not None:
                cursor = self._encode_cursor(next_cursor)
                links.append(("next", LOGS_PATH + "?" + urlencode(dict(keep, after=cursor))))
        body = b"[" + b",".join(bodies) + b"]"
        return _Response(200, body, dict(headers, **{"Content-Type": "application/json"}), links)

    def _poll(
        self,
        after: str | None,
        since: float | None,
        limit: int,
        matches: Callable[[_Stored], bool],
        overlap: bool,
        now: float,
    ) -> tuple[list[bytes], int]:
        """A polling page: matching events in insertion order from the cursor; the index to go on from."""
        with self._lock:
            events = self._events
            if after:
                start = int(self._decode_cursor(after).get("i", 0))
            else:
                lower = since if since is not None else now - 7 * 86400
                start = next((i for i, s in enumerate(events) if s.persisted >= lower), len(events))
            bodies: list[bytes] = []
            if overlap and self._last_served is not None:
                bodies.append(events[self._last_served].body)
            index = start
            last_match: int | None = None
            while index < len(events) and len(bodies) < limit:
                if matches(events[index]):
                    bodies.append(events[index].body)
                    last_match = index
                index += 1
            if last_match is not None:
                self._last_served = last_match
            return bodies, index

    def _bounded(
        self,
        after: str | None,
        since: float | None,
        until: float | None,
        limit: int,
        matches: Callable[[_Stored], bool],
        descending: bool,
        now: float,
    ) -> tuple[list[bytes], dict[str, Any] | None]:
        """A bounded page by ``published``; the cursor of the next page, or None at the end."""
        offset = 0
        if after:
            cursor = self._decode_cursor(after)
            offset, since, until = int(cursor.get("o", 0)), cursor.get("s"), cursor.get("u")
        if until is None:
            until = now
        if since is None:
            since = until - 7 * 86400
        with self._lock:
            order = [
                i for i, s in enumerate(self._events) if since <= s.published < until and matches(s)
            ]
            order.sort(key=lambda i: self._events[i].published, reverse=descending)
            chunk = order[offset:offset + limit]
            bodies = [self._events[i].body for i in chunk]
        end = offset + len(chunk)
        if end >= len(order) or limit == 0:
            return bodies, None
        return bodies, {"m": "b", "o": end, "s": since, "u": until}

    def _token(self, form: dict[str, list[str]], now: float) -> _Response:
        """The client-credentials grant with a ``private_key_jwt`` assertion, checked as Okta does."""

        def one(name: str) -> str:
            values = form.get(name)
            return values[0] if values else ""

        def refuse(status: int, error: str, description: str) -> _Response:
            return _json_response(status, {"error": error, "error_description": description})

        if one("grant_type") != "client_credentials":
            return refuse(400, "unsupported_grant_type", "The authorization grant type is not supported.")
        if one("client_assertion_type") != ASSERTION_TYPE or not one("client_assertion"):
            return refuse(401, "invalid_client", "Client authentication failed.")
        if self.client_id is None or self.public_key is None:
            return refuse(401, "invalid_client", "No OAuth client is configured.")
        try:
            claims = jwt.decode(
                one("client_assertion"),
                self.public_key,
                algorithms=["RS256", "ES256"],
                audience=self.token_url,
                issuer=self.client_id,
                options={"require": ["iss", "sub", "aud", "exp", "iat", "jti"]},
            )
        except jwt.InvalidSignatureError:
            return refuse(401, "invalid_client", "The client_assertion signature is invalid.")
        except jwt.InvalidAudienceError:
            return refuse(401, "invalid_client", "The audience [aud] claim in the JWT token is invalid.")
        except jwt.PyJWTError as error:
            return refuse(401, "invalid_client", f"The client_assertion token is invalid: {error}")
        if claims.get("sub") != self.client_id:
            return refuse(401, "invalid_client", "The sub claim must be the client_id.")
        if int(claims["exp"]) - int(claims["iat"]) > 3600:
            return refuse(401, "invalid_client", "The client_assertion token lifetime is too long.")
        with self._lock:
            if claims["jti"] in self._used_jti:
                return refuse(401, "invalid_client", "The client_assertion token has already been used.")
            self._used_jti.add(claims["jti"])
        scopes = one("scope").split()
        if not scopes or not set(scopes) <= self.allowed_scopes:
            return refuse(400, "invalid_scope", "The authorization server resource does not have any configured "
                                                "default scopes, 'scope' must be provided.")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self.issued_tokens[token] = now + self.token_lifetime_s
        return _json_response(200, {"token_type": "Bearer", "expires_in": self.token_lifetime_s,
                                    "access_token": token, "scope": " ".join(scopes)})

    def revoke_tokens(self) -> None:
        """Invalidate every issued access token (the next API call with one gets 401)."""
        with self._lock:
            self.issued_tokens.clear()


class _QuietServer(ThreadingHTTPServer):
    """A threading server that does not print a traceback when a client hangs up (tests do that on purpose)."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError, OSError)):
            return
        super().handle_error(request, client_address)


class _ClientError(Exception):
    def __init__(self, status: int, code: str, summary: str) -> None:
        super().__init__(summary)
        self.status, self.code, self.summary = status, code, summary


_error_ids = itertools.count(1)


def _error(status: int, code: str | None, summary: str, headers: dict[str, str]) -> _Response:
    if code is None:
        return _Response(status, summary.encode(), dict(headers, **{"Content-Type": "text/plain"}))
    body = {"errorCode": code, "errorSummary": summary, "errorLink": code,
            "errorId": f"oae{next(_error_ids):020d}", "errorCauses": []}
    return _Response(status, orjson.dumps(body), dict(headers, **{"Content-Type": "application/json"}))


def _json_response(status: int, body: Mapping[str, Any]) -> _Response:
    return _Response(status, orjson.dumps(dict(body)), {"Content-Type": "application/json",
                                                        "Cache-Control": "no-store"})


def _load_public_key(key: Any) -> Any:
    if isinstance(key, (bytes, str)):
        return serialization.load_pem_public_key(key.encode() if isinstance(key, str) else key)
    return key


def _make_handler(app: FakeOkta) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "FakeOkta/1.0"
        disable_nagle_algorithm = True  # headers and body are two writes: don't let Nagle delay the second

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            return

        def date_time_string(self, timestamp: float | None = None) -> str:
            return email.utils.formatdate(app.now() if timestamp is None else timestamp, usegmt=True)

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {name.lower(): value for name, value in self.headers.items()}
            response = app.handle(method, self.path, headers, body)
            if response.drop:
                self.close_connection = True
                return
            self.send_response(response.status)  # adds Date from date_time_string(): the server's clock
            for name, value in response.headers.items():
                self.send_header(name, value)
            for rel, url in response.links:
                self.send_header("Link", f'<{app.base_url}{url if url.startswith("/") else "/" + url}>; rel="{rel}"')
            if response.truncate:
                self.send_header("Content-Length", str(len(response.body) * 2))
                self.end_headers()
                self.wfile.write(response.body)
                self.close_connection = True
                return
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)

        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self._serve("GET")

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            self._serve("POST")

    return Handler


def iso_days_ago(days: float, *, now: float | None = None) -> str:
    """``days`` before now, in Okta's format."""
    return okta_time((now if now is not None else time.time()) - days * 86400)


__all__ = [
    "FakeOkta",
    "Fault",
    "Producer",
    "FilterError",
    "Recorded",
    "compile_filter",
    "iso_days_ago",
    "make_event",
    "make_events",
    "okta_time",
    "parse_time",
]


class Producer:
    """Adds ``per_second`` new telephony events to ``server`` continuously (numbered on from ``start``), as a
    live org logs them, on a thread of its own, until :meth:`stop`, which returns how many events exist."""

    def __init__(self, server: FakeOkta, per_second: float, start: int) -> None:
        self._server = server
        self._interval = 1.0 / per_second if per_second > 0 else 0.0
        self.count = start
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fake-okta-producer", daemon=True)
        if per_second > 0:
            self._thread.start()

    def _run(self) -> None:
        began, made = time.monotonic(), 0
        while not self._stop.is_set():
            due = int((time.monotonic() - began) / self._interval) - made  # on schedule, whatever the delays
            if due > 0:
                now = time.time()
                self._server.add_events(
                    make_event(self.count + k, published=now,
                               event_type=PHONE_EVENT_TYPES[(self.count + k) % 2]) for k in range(due)
                )
                self.count += due
                made += due
            self._stop.wait(self._interval)

    def stop(self) -> int:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()
        return self.count


def main(argv: list[str] | None = None) -> None:
    """Serve ``--events`` synthetic telephony events until stdin closes or the process is stopped.

    For benchmarks and manual runs, the server in its own process (so its heap and GIL are not the client's):
    ``python -m tests.fake_okta --events 100000 --latency 0.2`` prints its base URL on the first line.
    ``--produce N`` adds N new events per second, continuously (uuids ``UUID(int=n + 1)`` for event ``n``);
    the line ``stop`` on stdin stops that and prints how many events the server holds.
    """
    import argparse
    import sys

    parser = argparse.ArgumentParser(prog="python -m tests.fake_okta", description=main.__doc__)
    parser.add_argument("--events", type=int, default=10_000, help="how many events to serve")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds of delay for each page")
    parser.add_argument("--rate-limit", type=int, default=10_000, help="requests per minute")
    parser.add_argument("--token", default="test-api-token-0123456789", help="the accepted SSWS token")
    parser.add_argument("--produce", type=float, default=0.0, help="new events per second, continuously")
    args = parser.parse_args(argv)
    base = time.time() - 86400
    events = [make_event(n, published=base + n * 0.001) for n in range(args.events)]
    server = FakeOkta(events, api_token=args.token, rate_limit=args.rate_limit, latency_s=args.latency)
    del events
    with server:
        producer = Producer(server, args.produce, args.events)
        print(server.base_url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            for line in sys.stdin:
                if line.strip() == "stop":
                    print(producer.stop(), flush=True)
        producer.stop()


if __name__ == "__main__":
    main()
