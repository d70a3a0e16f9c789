"""Deferred projection: raw events committed now, their projection rows written a little later, in bulk.

``okta-calls receive`` acknowledges a delivery as soon as its raw events, the delivery, its links and its
rejects are committed (``Archive.append(..., project=False)``): that is the source of truth, and it is cheap
to write (a handful of pages per commit). The same transaction puts the new raw ids in ``projection_queue``.
The projection rows (``events`` and its fourteen indexes, the dimensions, ``targets``, ``debug_data``,
``ip_chain``, ``events_fts``) follow a few hundred milliseconds later, many deliveries per transaction, which
dirties each index page once for many events instead of once per delivery.

The guarantee: a queue row is deleted in the same transaction that writes its event's projection rows, and
the queue is read inside that (``BEGIN IMMEDIATE``) transaction. So whatever crashes, and whichever process
projects (the receiver's background projector, any command that opens the archive and catches up, a
``rebuild`` which empties the queue), every raw event is projected exactly once. Writers that project in line
(file ingest, API sync) never touch the queue and cannot conflict with it: their raw ids are new.

``project_queued`` and friends work inside the caller's transaction (``Archive.project_pending`` opens it);
``Projector`` is a scheduling policy for them on the hook app's writer thread, between delivery groups
(``okta_calls.sources.hooks.Background``): the receiver's fallback while its projector child
(``okta_calls.projector_process``, which flattens outside the transaction: ``queued_payloads``,
``flatten_payloads``, ``project_flattened``) is down.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

from .batch import safe_flatten
from .flatten import Rows
from .jsonio import loads, storable
from .projections import write_projections

__all__ = [
    "DEFAULT_CHUNK",
    "DEFAULT_INTERVAL",
    "QUEUE_DDL",
    "Projector",
    "clear_queue",
    "create_queue",
    "enqueue",
    "flatten_payloads",
    "pending",
    "project_flattened",
    "project_queued",
    "queued_payloads",
]

log = logging.getLogger(__name__)

QUEUE_DDL = """
    CREATE TABLE IF NOT EXISTS projection_queue (
        raw_id INTEGER PRIMARY KEY
    )"""
DEFAULT_INTERVAL = 0.25  # seconds a new event waits at most (when idle) before the projector runs
DEFAULT_CHUNK = 100  # events projected per transaction: ~15 ms on an idle core, the longest a delivery waits behind it
MAX_BACKOFF = 30.0  # seconds between attempts while projection keeps failing


def create_queue(conn: sqlite3.Connection) -> None:
    """Create ``projection_queue`` if it is missing (idempotent)."""
    conn.execute(QUEUE_DDL)


def enqueue(conn: sqlite3.Connection, raw_ids: Sequence[int]) -> None:
    """Queue ``raw_ids`` for projection, inside the transaction that appends those raw events."""
    conn.executemany("INSERT OR IGNORE INTO projection_queue (raw_id) VALUES (?)", [(raw_id,) for raw_id in raw_ids])


def pending(conn: sqlite3.Connection) -> int:
    """How many raw events await projection."""
    return int(conn.execute("SELECT count(*) FROM projection_queue").fetchone()[0])


def clear_queue(conn: sqlite3.Connection) -> None:
    """Empty the queue, inside a transaction that projects every raw event (``Archive.rebuild``)."""
    conn.execute("DELETE FROM projection_queue")


def project_queued(conn: sqlite3.Connection, limit: int) -> int:
    """Project up to ``limit`` queued raw events (oldest first) and dequeue them; returns how many were dequeued.

    Must run inside a write transaction (``BEGIN IMMEDIATE``): the queue is read there, so two projectors in
    two processes never project the same event. An id whose event is already projected (the queue and
    ``events`` disagree, which the archive never does itself) is dequeued with a warning, not projected twice.
    """
    ids = [row[0] for row in conn.execute("SELECT raw_id FROM projection_queue ORDER BY raw_id LIMIT ?", (limit,))]
    if not ids:
        return 0
    marks = ", ".join("?" * len(ids))
    done = {row[0] for row in conn.execute(f"SELECT id FROM events WHERE id IN ({marks})", ids)}
    if done:
        log.warning("%d queued events were already projected; dequeuing them", len(done))
    rows = conn.execute(f"SELECT id, payload FROM raw_events WHERE id IN ({marks}) ORDER BY id", ids).fetchall()
    write_projections(conn, ((raw_id, safe_flatten(_decoded(payload))) for raw_id, payload in rows
                             if raw_id not in done))
    conn.executemany("DELETE FROM projection_queue WHERE raw_id = ?", [(raw_id,) for raw_id in ids])
    return len(ids)


def queued_payloads(conn: sqlite3.Connection, limit: int, *, after: int = 0) -> list[tuple[int, str]]:
    """The oldest ``limit`` queued raw events after raw id ``after``, as ``(raw_id, payload)``, read without
    any write lock.

    For flattening outside the write transaction (``okta_calls.projector_process``): what is read here is only
    a proposal; ``project_flattened`` decides inside the transaction which of them are still queued."""
    return conn.execute(
        "SELECT q.raw_id, r.payload FROM projection_queue AS q JOIN raw_events AS r ON r.id = q.raw_id "
        "WHERE q.raw_id > ? ORDER BY q.raw_id LIMIT ?",
        (after, limit),
    ).fetchall()


def flatten_payloads(rows: Sequence[tuple[int, str]]) -> list[tuple[int, Rows]]:
    """The projection rows of archived ``(raw_id, payload)`` pairs (pure CPU, no database)."""
    return [(raw_id, safe_flatten(_decoded(payload))) for raw_id, payload in rows]


def project_flattened(conn: sqlite3.Connection, events: Sequence[tuple[int, Rows]]) -> int:
    """Write the rows of those ``events`` that are still queued, and dequeue them; returns how many.

    Must run inside a write transaction. ``events`` were flattened from a read made before it (raw events
    never change, so the rows are still right); the queue is read again here, so an event another projector
    (or ``rebuild``) handled meanwhile is skipped, and every event is still projected exactly once.
    """
    ids = [raw_id for raw_id, _ in events]
    if not ids:
        return 0
    marks = ", ".join("?" * len(ids))
    queued = {row[0] for row in conn.execute(f"SELECT raw_id FROM projection_queue WHERE raw_id IN ({marks})", ids)}
    if not queued:
        return 0
    done = {row[0] for row in conn.execute(f"SELECT id FROM events WHERE id IN ({marks})", ids)} & queued
    if done:
        log.warning("%d queued events were already projected; dequeuing them", len(done))
    write_projections(conn, ((raw_id, rows) for raw_id, rows in events if raw_id in queued and raw_id not in done))
    conn.executemany("DELETE FROM projection_queue WHERE raw_id = ?", [(raw_id,) for raw_id in sorted(queued)])
    return len(queued)


def _decoded(payload: str) -> dict[str, Any]:
    """An archived payload as the event dict ``flatten`` takes (exact, surrogate-safe: see ``jsonio``)."""
    return storable(loads(payload))[1]


class Projector:
    """When the receiver projects: ``interval`` after the first unprojected delivery, ``chunk`` events at a time.

    ``project`` is ``Archive.project_pending`` (one transaction, returns the events dequeued). The hook app's
    writer thread asks ``due()`` between delivery groups and calls ``run()`` when it is time; ``queued(n)`` is
    told about each delivery committed with ``n`` new events. A backlog bigger than one chunk is worked off one
    chunk after each delivery group, so a delivery never waits behind more than one chunk. Failures (the
    database locked by another writer for the whole busy timeout, ...) are logged and retried after a growing
    pause; the queue is in the database, so nothing is lost meanwhile.
    """

    def __init__(
        self,
        project: Callable[[int], int],
        *,
        interval: float = DEFAULT_INTERVAL,
        chunk: int = DEFAULT_CHUNK,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._project = project
        self.interval = interval
        self.chunk = max(1, chunk)
        self._clock = clock
        self._next_run: float | None = None  # what a previous run left queued, opening the archive projected
        self._failures = 0

    def queued(self, events: int) -> None:
        """``events`` new raw events were committed to the queue (called on the writer thread)."""
        if events > 0 and self._next_run is None:
            self._next_run = self._clock() + self.interval

    def due(self) -> float | None:
        """Seconds until ``run`` wants to run (0 or less: now), or ``None`` when nothing is queued."""
        return None if self._next_run is None else self._next_run - self._clock()

    def run(self) -> bool:
        """Project one chunk; True when more may be queued (a full chunk was projected)."""
        try:
            done = self._project(self.chunk)
        except Exception as error:  # noqa: BLE001 - logged and retried; the queue keeps the work
            self._failures += 1
            pause = min(MAX_BACKOFF, self.interval * 2**self._failures)
            log.warning("projection deferred by %.1f s: %s", pause, error)
            self._next_run = self._clock() + pause
            return False
        self._failures = 0
        more = done >= self.chunk
        self._next_run = self._clock() if more else None
        return more

    def finish(self) -> None:
        """Project everything queued, chunk after chunk (when the receiver closes)."""
        while self.due() is not None and self.run():
            pass
