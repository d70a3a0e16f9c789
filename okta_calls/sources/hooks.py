"""The Okta Event Hook endpoint: a plain ASGI application, no web framework.

It serves exactly two things: the hook path and ``GET /health``. On the hook path:

- ``GET`` with ``X-Okta-Verification-Challenge: V`` is Okta's one-time verification; the answer is
  ``{"verification": "V"}``. Okta sends the configured ``Authorization`` secret with it too, so it is checked.
- ``POST`` is a delivery. The ``Authorization`` header must equal the secret (compared in constant time) or the
  answer is 401 and nothing is read or stored. A body over ``max_body`` is refused with 413 before it is read
  in full; one that is not JSON, or not a delivery envelope, gets 400 with a JSON ``error`` naming the problem.
  The delivery and its events are handed to ``commit`` (the archive write); only after it returns is the answer
  200. When the archive is busy, the disk is full or ``commit`` does not return within ``deadline`` seconds,
  the answer is 503, so Okta's single retry fires (Okta gives up after 3 s, and never retries a 4xx).

``commit`` is blocking: it runs on the app's single writer thread (``okta_calls.sources.hook_writer``), which
commits the deliveries that queue up in one transaction (group commit) and runs the ``background`` work (the
archive's deferred projection) between groups, so the event loop stays free to accept and parse deliveries.
The writer is shut down, after the commits queued and the background work, when the ASGI lifespan ends or
``close()`` is called.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

import orjson

from okta_calls.jsonio import JSONError, loads
from okta_calls.model import Delivery, Incoming
from okta_calls.sources.envelope import EnvelopeError, parse_envelope
from okta_calls.sources.hook_writer import Background, Commit, Group, HookWriter, is_unavailable_error

__all__ = [
    "DEFAULT_MAX_BODY",
    "DEFAULT_PATH",
    "Background",
    "Commit",
    "Group",
    "HookApp",
    "check_options",
    "is_unavailable_error",
]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

DEFAULT_PATH = "/okta/event-hook"
DEFAULT_MAX_BODY = 10 * 1024 * 1024
DEFAULT_DEADLINE = 2.5  # seconds; Okta waits 3 s for the answer
DEFAULT_MAX_GROUP = 32  # deliveries committed in one transaction at most
CHALLENGE_HEADER = b"x-okta-verification-challenge"


@dataclass(frozen=True, slots=True)
class _Answer:
    """An HTTP answer: status, JSON body, and whether the connection must close (request body left unread)."""

    status: int
    body: dict[str, Any]
    close: bool = False
    allow: str | None = None


class _ClientGone(Exception):
    """The client disconnected before its request body was complete."""


class _BadDelivery(Exception):
    """The request body is not a usable delivery; ``str()`` is the message for the client."""


def check_options(*, secret: str, path: str, max_body: int) -> None:
    """Raise ``ValueError`` naming the problem when the receiver cannot run with these settings."""
    if not secret:
        raise ValueError("an Event Hook secret is required")
    if not path.startswith("/") or path.rstrip("/") in ("", "/health"):
        raise ValueError(f"unusable hook path {path!r}: it must start with '/' and be neither '/' nor '/health'")
    if max_body <= 0:
        raise ValueError("the body limit must be a positive number of bytes")


class HookApp:
    """ASGI application receiving Okta Event Hook deliveries and committing them through ``commit``.

    ``secret`` is the value Okta sends in the ``auth_header`` header (``Authorization`` unless configured
    otherwise in Okta). ``path`` is the hook path (a trailing slash is tolerated). ``max_body`` caps the request
    body in bytes. ``deadline`` is how long a delivery may wait for its commit (queueing included) before the
    answer is 503; ``None`` waits for ever. A delivery still queued at its deadline is withdrawn; one whose
    commit is already running completes anyway, and Okta's retry of it is then a harmless duplicate. When the
    writer's backlog would already take more than half the deadline, a new delivery gets 503 at once, before
    its body is read: under overload the receiver keeps answering the deliveries it accepts in time instead
    of spending its CPU on work whose answer would come too late.
    ``group`` makes one transaction of several commits (see the module docstring); without it each commit
    stands alone. ``max_group`` caps the deliveries in one group. ``background`` is work for the writer
    thread between groups (see the module docstring).
    """

    def __init__(
        self,
        commit: Commit,
        *,
        secret: str,
        path: str = DEFAULT_PATH,
        max_body: int = DEFAULT_MAX_BODY,
        auth_header: str = "Authorization",
        deadline: float | None = DEFAULT_DEADLINE,
        group: Group = nullcontext,
        max_group: int = DEFAULT_MAX_GROUP,
        background: Background | None = None,
    ) -> None:
        check_options(secret=secret, path=path, max_body=max_body)
        self.path = path.rstrip("/")
        self.max_body = max_body
        self.deadline = deadline
        self._secret = secret.encode("utf-8")
        self._auth_header = auth_header.lower().encode("latin-1")
        self._auth_header_name = auth_header
        self._writer = HookWriter(commit, group, max(1, max_group), background)
        self._in_flight = 0  # deliveries admitted and not yet answered (only touched on the event loop)

    def close(self) -> None:
        """Stop the writer thread after the commits already queued (idempotent)."""
        self._writer.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The ASGI entry point."""
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
        elif scope["type"] == "http":
            try:
                answer = await self._route(scope, receive)
            except _ClientGone:
                log.info("client went away before its request body was complete")
                return
            await _send_json(send, answer)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.get_running_loop().run_in_executor(None, self.close)
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _route(self, scope: Scope, receive: Receive) -> _Answer:
        method, path = scope["method"], scope["path"]
        if path == "/health":
            return _Answer(200, {"status": "ok"}) if method == "GET" else _not_allowed("GET")
        if path.rstrip("/") != self.path:
            return _Answer(404, {"error": "not found"})
        if method == "GET":
            return self._verify(scope)
        if method == "POST":
            return await self._deliver(scope, receive)
        return _not_allowed("GET, POST")

    def _authorized(self, scope: Scope) -> bool:
        """One ``auth_header`` header whose value equals the secret (constant-time comparison)."""
        values = _header_values(scope, self._auth_header)
        return len(values) == 1 and hmac.compare_digest(values[0], self._secret)

    def _unauthorized(self, scope: Scope) -> _Answer:
        client = (scope.get("client") or ("?", 0))[0]
        method, path, header = scope["method"], scope["path"], self._auth_header_name
        log.warning("refused %s %s from %s: missing or wrong %s header", method, path, client, header)
        return _Answer(401, {"error": f"missing or wrong {self._auth_header_name} header"}, close=True)

    def _verify(self, scope: Scope) -> _Answer:
        """Okta's one-time verification: echo ``X-Okta-Verification-Challenge``."""
        if not self._authorized(scope):
            return self._unauthorized(scope)
        challenges = _header_values(scope, CHALLENGE_HEADER)
        if len(challenges) != 1:
            return _Answer(400, {"error": "expected one X-Okta-Verification-Challenge header"})
        log.info("answered Okta's verification challenge")
        return _Answer(200, {"verification": challenges[0].decode("latin-1")})

    async def _deliver(self, scope: Scope, receive: Receive) -> _Answer:
        """Authorize and admit one delivery (503 at once when the writer is too far behind), then handle it."""
        started = time.perf_counter()
        if not self._authorized(scope):
            return self._unauthorized(scope)
        backlog = self._in_flight * self._writer.seconds_per_delivery
        if self.deadline is not None and backlog > self.deadline / 2:
            log.warning("refused a delivery: %d are in progress (about %.1f s of writing)", self._in_flight, backlog)
            return _Answer(503, {"error": "too many deliveries at once; retry later"}, close=True)
        self._in_flight += 1
        try:
            return await self._admitted(scope, receive, started)
        finally:
            self._in_flight -= 1

    async def _admitted(self, scope: Scope, receive: Receive, started: float) -> _Answer:
        """Read, decode, commit and acknowledge one delivery."""
        too_big = _Answer(413, {"error": f"body larger than {self.max_body} bytes"}, close=True)
        declared = _content_length(scope)
        if declared is not None and declared > self.max_body:
            log.warning("refused a delivery of %d bytes (limit %d)", declared, self.max_body)
            return too_big
        body = await _read_body(receive, self.max_body)
        if body is None:
            log.warning("refused a delivery over %d bytes (no or wrong Content-Length)", self.max_body)
            return too_big
        try:
            # Inline: orjson holds the GIL anyway (a 10 MiB body takes ~0.1 s; Okta's batches are small).
            delivery, items = self._decode(body, scope)
        except _BadDelivery as problem:
            log.warning("refused a delivery of %d bytes: %s", len(body), problem)
            return _Answer(400, {"error": str(problem)})
        return await self._commit(delivery, items, started)

    def _decode(self, body: bytes, scope: Scope) -> tuple[Delivery, list[Incoming]]:
        try:
            obj = loads(body)
        except JSONError as error:
            raise _BadDelivery(f"malformed JSON: {error}") from error
        try:
            return parse_envelope(obj, headers=_decoded_headers(scope), secret_headers=(self._auth_header_name,))
        except EnvelopeError as error:
            raise _BadDelivery(f"body is not an Okta Event Hook delivery: {error}") from error

    async def _commit(self, delivery: Delivery, items: list[Incoming], started: float) -> _Answer:
        pending = asyncio.wrap_future(self._writer.submit(delivery, items))
        try:
            result = await asyncio.wait_for(pending, self.deadline)
        except Exception as error:  # noqa: BLE001 - every failure must become a 5xx answer
            return self._failed(delivery, len(items), error, started)
        counts = {"received": result.seen, "new": result.inserted, "duplicates": result.duplicates}
        counts["rejected"] = result.rejected
        line = "delivery %s: %d events, %d new, %d duplicates, %d rejected, %.1f ms"
        log.info(line, delivery.event_id, *counts.values(), _ms_since(started))
        return _Answer(200, counts)

    def _failed(self, delivery: Delivery, events: int, error: Exception, started: float) -> _Answer:
        """The 5xx answer, and its log line, for a delivery that was not (known to be) committed."""
        ms = _ms_since(started)
        if isinstance(error, asyncio.TimeoutError):  # before OSError: TimeoutError is one
            log.warning(
                "delivery %s: %d events, no commit within %.1f s, answered 503", delivery.event_id, events, ms / 1e3
            )
            return _Answer(503, {"error": "the archive did not answer in time; retry later"})
        if is_unavailable_error(error):
            line = "delivery %s: %d events, not stored (%s: %s), answered 503 after %.1f ms"
            log.warning(line, delivery.event_id, events, type(error).__name__, error, ms)
            return _Answer(503, {"error": "the archive is unavailable; retry later"})
        log.error("delivery %s: %d events, commit failed after %.1f ms", delivery.event_id, events, ms, exc_info=error)
        return _Answer(500, {"error": "internal error while storing the delivery"})


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _not_allowed(allow: str) -> _Answer:
    return _Answer(405, {"error": "method not allowed"}, allow=allow)


def _header_values(scope: Scope, name: bytes) -> list[bytes]:
    """All values of one header (``name`` lower-case, as ASGI servers give them)."""
    return [value for key, value in scope["headers"] if key == name]


def _decoded_headers(scope: Scope) -> list[tuple[str, str]]:
    return [(key.decode("latin-1"), value.decode("latin-1")) for key, value in scope["headers"]]


def _content_length(scope: Scope) -> int | None:
    """The declared body length, or ``None`` when absent (the server has already rejected a malformed one)."""
    values = _header_values(scope, b"content-length")
    try:
        return int(values[0]) if values else None
    except ValueError:
        return None


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or ``None`` as soon as it grows past ``limit`` (the rest is never read)."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def _send_json(send: Send, answer: _Answer) -> None:
    body = orjson.dumps(answer.body)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if answer.close:
        headers.append((b"connection", b"close"))
    if answer.allow:
        headers.append((b"allow", answer.allow.encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
