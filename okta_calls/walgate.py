"""Bounding the WAL without keeping writers out: readers wait at a gate, not Okta's deliveries.

SQLite can only restart (truncate) the WAL once no reader is still on an older snapshot. With readers back
to back (a busy Datasette) there always is one, so the WAL grows without end. A ``TRUNCATE`` checkpoint waits
for them, but it holds the write lock while it waits, up to a whole Datasette query (4 s): every hook
delivery behind it misses Okta's 3 s deadline and gets 503.

So the wait happens *before* the write lock is taken, and it is the readers that wait:

1. the writer that found the WAL over its limit closes the gate (an exclusive ``flock`` on ``DB-readgate``);
   Datasette's queries (``okta-calls serve``, see ``gate_reads``) pass the gate before each query, so no new
   query starts; the writers keep committing meanwhile;
2. ``PASSIVE`` checkpoints (no write lock) copy the WAL into the database file until the queries already
   running have finished and the copy is complete;
3. a ``TRUNCATE`` (or, for a live receiver, ``RESTART``) checkpoint then has only the last few frames to copy
   and no reader to wait for: it keeps the other writers out for milliseconds (at most ``HOLD_WAIT``), plus,
   for ``TRUNCATE``, the time to cut the file (200-500 ms for 550 MiB: why the receiver restarts without it);
4. the gate opens. A query waited at most ``drain`` seconds (plus a page), once per ``wal_limit`` of WAL.

Readers that do not use the gate (a report, the sqlite3 shell) still delay a restart, as before; the writer
then gives up after ``drain`` seconds and tries again later. Without ``fcntl`` (Windows) the gate is open.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["ENV_WAL_LIMIT", "HOLD_WAIT", "ReadGate", "gate_reads", "restart_wal", "wal_limit_from_env"]

log = logging.getLogger(__name__)

T = TypeVar("T")

ENV_WAL_LIMIT = "OKTA_CALLS_WAL_LIMIT_MB"  # overrides the WAL's limit (MiB) for every okta-calls writer
HOLD_WAIT = 0.2  # seconds the final TRUNCATE may keep other writers out (there is nothing left to wait for)
READER_MAX_WAIT = 10.0  # a query never waits at the gate longer than this, whatever the writer does
POLL = 0.02  # seconds between looks at the gate / between passive checkpoints


def wal_limit_from_env(default: int, environ: dict[str, str] | None = None) -> int:
    """The WAL limit in bytes: ``OKTA_CALLS_WAL_LIMIT_MB`` (a positive number of MiB) or ``default``."""
    text = (os.environ if environ is None else environ).get(ENV_WAL_LIMIT, "").strip()
    if not text:
        return default
    try:
        mib = float(text)
    except ValueError:
        mib = 0.0
    if mib <= 0:
        log.warning("ignoring %s=%r: not a positive number of MiB", ENV_WAL_LIMIT, text)
        return default
    return int(mib * (1 << 20))


class ReadGate:
    """The gate file ``DB-readgate``: readers pass it (``enter``), a restarting writer closes it (``closed``).

    Each thread has its own open file (``flock`` locks belong to an open file), so Datasette's threads and
    processes are independent. A missing gate file (no writer has ever needed it) means an open gate.
    """

    def __init__(self, db_path: str | os.PathLike[str]) -> None:
        self.path = f"{os.fspath(db_path)}-readgate"
        self._local = threading.local()

    def _fd(self, create: bool) -> int | None:
        fd: int | None = getattr(self._local, "fd", None)
        if fd is None and fcntl is not None:
            try:
                fd = os.open(self.path, os.O_RDONLY | (os.O_CREAT if create else 0), 0o644)
            except OSError:
                return None
            self._local.fd = fd
        return fd

    def enter(self, max_wait: float = READER_MAX_WAIT) -> float:
        """Wait (at most ``max_wait`` s) while a writer holds the gate closed; the seconds waited."""
        fd = self._fd(create=False)
        if fd is None:
            return 0.0
        started = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                break
            except BlockingIOError:
                if time.monotonic() - started > max_wait:
                    break
                time.sleep(POLL)
        return time.monotonic() - started

    @contextlib.contextmanager
    def closed(self) -> Iterator[bool]:
        """Hold the gate closed inside; yields False (and closes nothing) when another writer holds it."""
        fd = self._fd(create=True)
        if fd is None:
            yield True  # no gate here: the restart still works, readers just are not held back
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


def _final_checkpoint(conn: sqlite3.Connection, mode: str, hold: float) -> bool:
    """One TRUNCATE or RESTART checkpoint that keeps other writers out at most ``hold`` seconds; True when the
    WAL was restarted."""
    previous = conn.execute("PRAGMA busy_timeout").fetchone()[0]
    conn.execute(f"PRAGMA busy_timeout = {int(hold * 1000)}")
    try:
        return bool(conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()[0] == 0)
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(previous)}")


def restart_wal(conn: sqlite3.Connection, db_path: str | os.PathLike[str], *, drain: float,
                truncate: bool = True) -> bool:
    """Close the gate, let the running queries finish (``drain`` s at most, no lock held), restart the WAL.

    ``truncate`` cuts the WAL file to nothing (a ``TRUNCATE`` checkpoint); without it (``RESTART``) the next
    commit writes the file over from its start and it keeps its size. A live receiver does not truncate:
    cutting a WAL of 500 MiB took 200-500 ms, with the write lock held (``benchmarks/bench_hooks.py``).
    True when the WAL was restarted. False when readers outside the gate held on past ``drain``, or another
    writer is restarting it right now. Raises ``sqlite3.Error`` (the caller logs it).
    """
    mode = "TRUNCATE" if truncate else "RESTART"
    with ReadGate(db_path).closed() as closed:
        if not closed:
            return False
        deadline = time.monotonic() + drain
        while True:
            _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            if frames == copied and _final_checkpoint(conn, mode, HOLD_WAIT):
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(POLL)


class WalBound:
    """Keeps one database's WAL under a limit: ``check`` restarts a WAL that has outgrown it (``restart_wal``)
    and, when readers outside the gate held on, waits ``retry`` seconds before trying again, so that a stuck
    reader does not cost every commit a wait. Used after each commit (``Archive``) and by ``receive``'s
    checkpoint thread."""

    def __init__(self, db_path: str | os.PathLike[str], *, retry: float, truncate: bool = True) -> None:
        self.path = os.fspath(db_path)
        self.retry = retry
        self.truncate = truncate  # see ``restart_wal``
        self.restarts = 0
        self._retry_at = 0.0

    def check(self, conn: sqlite3.Connection, limit: int | None, *, drain: float, size: int | None = None) -> bool:
        """Restart the WAL if it is over ``limit`` bytes (``None``: no limit); True when it tried.

        ``size`` is the WAL's size to compare: its file's by default, or what the caller measured (the bytes of
        content since it last started over, for a bound that does not truncate the file)."""
        if limit is None or time.monotonic() < self._retry_at:
            return False
        if size is None:
            try:
                size = os.stat(f"{self.path}-wal").st_size
            except OSError:
                return False
        if size <= limit:
            return False
        started = time.monotonic()
        try:
            done = restart_wal(conn, self.path, drain=drain, truncate=self.truncate)
        except sqlite3.Error as error:
            log.warning("%s: checkpoint failed: %s", self.path, error)
            done = False
        self.restarts += done
        log.info("%s: the WAL reached %d MiB; %s in %.1f s", self.path, size >> 20,
                 "restarted it" if done else "readers kept it, trying again later", time.monotonic() - started)
        if not done:
            self._retry_at = time.monotonic() + self.retry
        return True


def gate_reads(database: Any, db_path: str | os.PathLike[str]) -> None:
    """Make a Datasette ``Database`` pass the read gate of ``db_path`` before each query it runs."""
    gate = ReadGate(db_path)
    execute_fn: Callable[[Callable[[Any], T]], Awaitable[T]] = database.execute_fn

    async def gated_execute_fn(fn: Callable[[Any], T]) -> T:
        def gated(conn: Any) -> T:
            gate.enter()
            return fn(conn)

        return await execute_fn(gated)

    database.execute_fn = gated_execute_fn
