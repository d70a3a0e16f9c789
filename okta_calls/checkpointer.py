"""WAL checkpoints and flushes off the receiver's writer thread.

SQLite folds the WAL back into the database file (a checkpoint) from inside the ``COMMIT`` that takes the WAL
past ``wal_autocheckpoint`` pages. For the receiver that commit is a delivery's, and copying tens of MiB
held Okta's answer for 100 ms or more. So the receiver's own connection checkpoints only as a backstop
(``BACKSTOP_PAGES``), and this thread, on a connection of its own:

- every ``flush_interval`` (0.1 s) writes the WAL's new frames to disk (``fdatasync``). When SQLite starts the
  WAL over, the connection that does so (the writer, at its next commit) syncs the WAL first; with a second's
  worth of frames unwritten that took 20-70 ms inside a delivery's commit;
- every ``interval`` (1 s) runs ``PASSIVE`` checkpoints back to back (at most ``PASSES``) until one has copied
  everything committed: the writer commits every few milliseconds, so a single one was never complete and the
  WAL never started over, until the backstop made a delivery's commit checkpoint it;
- when readers back to back (a busy Datasette) keep the writer from starting the WAL over, restarts it past
  ``content_limit`` bytes of content, with the readers held at the gate and without truncating the file
  (``okta_calls.walgate.restart_wal``); and keeps the file under ``wal_limit`` the same way, truncating it.

A passive checkpoint takes no write lock: the writer keeps committing while it copies, and SQLite releases the
GIL meanwhile. Readers (Datasette) are never blocked by it; the pages they still need are left for the next
checkpoint. On Linux the thread lowers its own CPU priority (``NICE``): copying pages can wait a little when
the machine is busy, the deliveries' threads cannot.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
import threading
import time

from .walgate import WalBound

__all__ = ["BACKSTOP_PAGES", "DEFAULT_INTERVAL", "NICE", "RESTART_RETRY", "RESTART_WAIT", "CONTENT_LIMIT", "Checkpointer"]

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 1.0  # seconds between passive checkpoints
BACKSTOP_PAGES = 16384  # the writer's own connection still checkpoints past 256 MiB of WAL (16 KiB pages)
RESTART_WAIT = 5.0  # seconds Datasette's running queries get to finish while new ones wait at the gate
RESTART_RETRY = 5.0  # seconds before another restart when readers outside the gate held on
FLUSH_INTERVAL = 0.1  # seconds between two flushes of the WAL's new frames to disk
PASSES = 6  # passive checkpoints in a row at most, until one has copied everything committed
CONTENT_LIMIT = 128 << 20  # bytes of WAL content past which the WAL is restarted: below BACKSTOP_PAGES
NICE = 10  # how much lower the checkpoint thread's CPU priority is than the receiver's other threads (Linux)


def lower_thread_priority(increment: int) -> bool:
    """Lower the calling thread's CPU priority by ``increment`` (Linux: a thread is a task); True if done."""
    if increment <= 0 or not sys.platform.startswith("linux"):
        return False
    tid = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + increment))
    except OSError as error:
        log.debug("could not lower the checkpoint thread's priority: %s", error)
        return False
    return True


class Checkpointer:
    """A daemon thread that flushes the WAL every ``flush_interval`` seconds and checkpoints it every
    ``interval`` seconds until ``stop()``, restarting it past ``content_limit`` bytes of content."""

    def __init__(
        self,
        path: str | os.PathLike[str],
        interval: float = DEFAULT_INTERVAL,
        wal_limit: int | None = None,
        nice: int = NICE,
        flush_interval: float = FLUSH_INTERVAL,
        content_limit: int | None = CONTENT_LIMIT,
    ) -> None:
        self.path = os.fspath(path)
        self.interval = interval
        self.flush_interval = flush_interval
        self.wal_limit = wal_limit
        self.content_limit = content_limit
        self._wal = WalBound(self.path, retry=RESTART_RETRY)  # the file, cut back to nothing
        self._content = WalBound(self.path, retry=RESTART_RETRY, truncate=False)  # the frames, written over
        self.nice = nice
        self.native_id: int | None = None
        self._page_size = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="okta-wal-checkpoint", daemon=True)

    def start(self) -> Checkpointer:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread (idempotent); the archive's own close checkpoints what is left."""
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join()

    def _run(self) -> None:
        self.native_id = threading.get_native_id()
        lower_thread_priority(self.nice)
        try:
            conn = sqlite3.connect(self.path, timeout=1.0, isolation_level=None, check_same_thread=False)
            self._page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        except sqlite3.Error as error:
            log.warning("%s: no background checkpoints: %s", self.path, error)
            return
        try:
            next_checkpoint = time.monotonic() + self.interval
            while not self._stop.wait(min(self.flush_interval, self.interval)):
                self.flush()
                if time.monotonic() >= next_checkpoint:
                    self.checkpoint(conn)
                    next_checkpoint = time.monotonic() + self.interval
        finally:
            conn.close()

    def flush(self) -> None:
        """Write the WAL's new frames to disk now (``fdatasync``), so that the sync the writer does when it
        starts the WAL over has little left to write (see the module docstring). Failures are ignored: the
        flush only moves work earlier."""
        try:
            fd = os.open(f"{self.path}-wal", os.O_RDONLY)
        except OSError:
            return
        try:
            getattr(os, "fdatasync", os.fsync)(fd)  # macOS has no fdatasync
        except OSError as error:
            log.debug("%s: WAL flush failed: %s", self.path, error)
        finally:
            os.close(fd)

    def checkpoint(self, conn: sqlite3.Connection) -> None:
        """Passive checkpoints until one copied everything committed (at most ``PASSES``), and a restart of
        the WAL past ``content_limit`` bytes of content or ``wal_limit`` bytes of file; a failure is logged
        (the backstop still bounds the WAL)."""
        try:
            if self._bound(conn):
                return
            for _ in range(PASSES):
                _busy, frames, copied = conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                if frames == copied:
                    break
            self._content.check(conn, self.content_limit, drain=RESTART_WAIT, size=frames * self._page_size)
        except sqlite3.Error as error:
            log.warning("%s: background checkpoint failed: %s", self.path, error)

    def _bound(self, conn: sqlite3.Connection) -> bool:
        """When the WAL is over ``wal_limit``: restart it (readers held at the gate); True when it tried."""
        return self._wal.check(conn, self.wal_limit, drain=RESTART_WAIT)

    @property
    def restarts(self) -> int:
        """How many times this thread restarted the WAL."""
        return self._wal.restarts + self._content.restarts
