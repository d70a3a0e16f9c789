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

``commit`` is blocking. It runs on ONE writer thread owned by the app (SQLite has a single writer), so the
event loop stays free to accept and parse other deliveries meanwhile. The writer thread is shut down, after the
commits in flight, when the ASGI lifespan ends or ``close()`` is called.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, MutableMapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import orjson

from okta_calls.jsonio import JSONError, loads
from okta_calls.model import BatchResult, Delivery, Incoming
from okta_calls.sources.envelope import EnvelopeError, parse_envelope

__all__ = ["DEFAULT_MAX_BODY", "DEFAULT_PATH", "Commit", "HookApp", "check_options", "is_unavailable_error"]

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Commit = Callable[[Delivery, list[Incoming]], BatchResult]

DEFAULT_PATH = "/okta/event-hook"
DEFAULT_MAX_BODY = 10 * 1024 * 1024
DEFAULT_DEADLINE = 2.5  # seconds; Okta waits 3 s for the answer
CHALLENGE_HEADER = b"x-okta-verification-challenge"
# Bodies bigger than this are decoded on a worker thread so one big delivery does not stall the others.
_DECODE_INLINE_LIMIT = 256 * 1024


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


def is_unavailable_error(exc: BaseException) -> bool:
    """True for a fault of ours that a retry may cure: the archive busy, the database locked, the disk full.

    Matches, anywhere in the exception's cause/context chain, a class named ``ArchiveBusy`` (matched by name
    so that sources stay independent of ``okta_calls.archive``), ``sqlite3.OperationalError`` or ``OSError``.
    """
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (sqlite3.OperationalError, OSError)):
            return True
        if any(cls.__name__ == "ArchiveBusy" for cls in type(current).__mro__):
            return True
        current = current.__cause__ or current.__context__
    return False


class HookApp:
    """ASGI application receiving Okta Event Hook deliveries and committing them through ``commit``.

    ``secret`` is the value Okta sends in the ``auth_header`` header (``Authorization`` unless configured
    otherwise in Okta). ``path`` is the hook path (a trailing slash is tolerated). ``max_body`` caps the request
    body in bytes. ``deadline`` is how long a delivery may wait for its commit (queueing included) before the
    answer is 503; ``None`` waits for ever. A commit still running at the deadline completes anyway, and
    Okta's retry of that delivery is then a harmless duplicate.
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
    ) -> None:
        check_options(secret=secret, path=path, max_body=max_body)
        self.commit = commit
        self.path = path.rstrip("/")
        self.max_body = max_body
        self.deadline = deadline
        self._secret = secret.encode("utf-8")
        self._auth_header = auth_header.lower().encode("latin-1")
        self._auth_header_name = auth_header
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="okta-hook-writer")

    def close(self) -> None:
        """Stop the writer thread after the commits already queued (idempotent)."""
        self._writer.shutdown(wait=True)

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
        client = scope.get("client") or ("?", 0)
        log.warning(
            "refused %s %s from %s: missing or wrong %s header",
            scope["method"],
            scope["path"],
            client[0],
            self._auth_header_name,
        )
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
        """Read, decode, commit and acknowledge one delivery."""
        started = time.perf_counter()
        if not self._authorized(scope):
            return self._unauthorized(scope)
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
            if len(body) > _DECODE_INLINE_LIMIT:
                delivery, items = await asyncio.to_thread(self._decode, body, scope)
            else:
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
        loop = asyncio.get_running_loop()
        pending = loop.run_in_executor(self._writer, self.commit, delivery, items)
        try:
            result = await asyncio.wait_for(pending, self.deadline)
        except asyncio.TimeoutError:
            log.warning(
                "delivery %s: %d events, no commit within %.1f s, answered 503 (a late commit makes the retry "
                "a duplicate)",
                delivery.event_id,
                len(items),
                self.deadline,
            )
            return _Answer(503, {"error": "the archive did not answer in time; retry later"})
        except Exception as error:  # noqa: BLE001 - every failure must become a 5xx answer
            ms = (time.perf_counter() - started) * 1000
            if is_unavailable_error(error):
                log.warning(
                    "delivery %s: %d events, not stored (%s: %s), answered 503 after %.1f ms",
                    delivery.event_id,
                    len(items),
                    type(error).__name__,
                    error,
                    ms,
                )
                return _Answer(503, {"error": "the archive is unavailable; retry later"})
            log.exception("delivery %s: %d events, commit failed after %.1f ms", delivery.event_id, len(items), ms)
            return _Answer(500, {"error": "internal error while storing the delivery"})
        ms = (time.perf_counter() - started) * 1000
        log.info(
            "delivery %s: %d events, %d new, %d duplicates, %d rejected, %.1f ms",
            delivery.event_id,
            result.seen,
            result.inserted,
            result.duplicates,
            result.rejected,
            ms,
        )
        return _Answer(
            200,
            {
                "received": result.seen,
                "new": result.inserted,
                "duplicates": result.duplicates,
                "rejected": result.rejected,
            },
        )


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
