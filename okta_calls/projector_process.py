"""The receiver's deferred projection in a process of its own.

Flattening events and writing their projection rows is Python work that holds the GIL. Done on the receiver's
writer thread, it held every delivery that arrived meanwhile (a step of 100 events took 15-45 ms), and it
slowed the HTTP event loop, which needs the same GIL to accept and parse deliveries. Here it runs in a child
process (``python -m okta_calls.projector_process DB``), so the receiver's process only parses deliveries
and commits their log rows.

The child reads a batch of queued events without any lock (``projector.queued_payloads``), flattens them,
then writes them ``step`` events per ``BEGIN IMMEDIATE`` transaction (``Archive.project_rows``), pausing
between two transactions so that a delivery waiting for the write lock gets it. Each transaction reads the
queue again and dequeues what it projects, so every event is still projected exactly once, whoever else
projects (a receiver's in-thread fallback, ``catch_up`` in another command, ``rebuild``).

The parent holds the write end of the child's stdin. Closing it (or the parent dying, even by ``kill -9``)
gives the child end-of-file: it projects what is left and exits. ``ProcessProjector`` is the parent's side,
the ``Background`` of the hook writer: it restarts a child that died, and projects on the writer thread
(``Projector``) while there is none.
"""

from __future__ import annotations

import argparse
import logging
import os
import select
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from .archive import Archive, ArchiveError
from .projector import DEFAULT_INTERVAL, Projector, flatten_payloads, queued_payloads

__all__ = ["DEFAULT_BATCH", "DEFAULT_STEP", "ProcessProjector", "main", "project_batch"]

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500  # events read and flattened at once (outside any transaction)
DEFAULT_STEP = 25  # events per projection transaction: the longest a delivery waits for the write lock
DEFAULT_PAUSE = 0.002  # seconds between two projection transactions, for a delivery waiting for the lock
BUSY_TIMEOUT = 10.0  # the child's busy timeout: it is never in a hurry
CHECK_EVERY = 1.0  # seconds between the parent's looks at the child
MAX_RESTART_DELAY = 30.0
STOP_TIMEOUT = 60.0  # seconds the parent waits for the child to project what is left when closing
DEFAULT_NICE = 10  # the child's CPU priority below the receiver's: projections can wait, Okta's answers cannot


def project_batch(archive: Archive, *, batch: int = DEFAULT_BATCH, step: int = DEFAULT_STEP,
                  pause: float = DEFAULT_PAUSE) -> int:
    """Read up to ``batch`` queued events, flatten them, project them ``step`` per transaction; returns how
    many were read (``batch`` means more may be queued)."""
    rows = queued_payloads(archive.conn, batch)
    events = flatten_payloads(rows)
    for start in range(0, len(events), max(1, step)):
        if start:
            time.sleep(pause)
        archive.project_rows(events[start : start + step])
    return len(rows)


def _wait(fd: int, timeout: float) -> bool:
    """Wait up to ``timeout`` s for a byte (a nudge) or end-of-file on ``fd``; True at end-of-file (stop)."""
    readable, _, _ = select.select([fd], [], [], timeout)
    return bool(readable) and os.read(fd, 4096) == b""


def serve(db: str, *, interval: float, batch: int, step: int, pause: float, wake_fd: int) -> int:
    """The child's loop: project every ``interval`` s until end-of-file on ``wake_fd``, then drain; exit code."""
    archive = Archive(db, timeout=BUSY_TIMEOUT, catch_up=False)
    stopping, failures, started = False, 0, False
    try:
        while True:
            try:
                read = project_batch(archive, batch=batch, step=step, pause=pause)
                failures = 0
            except (ArchiveError, sqlite3.Error) as error:
                failures += 1
                if stopping and failures >= 3:
                    log.warning("projector: giving up, the queue is left for the next open: %s", error)
                    return 1
                delay = min(MAX_RESTART_DELAY, interval * 2**failures)
                log.warning("projector: projection deferred by %.1f s: %s", delay, error)
                stopping = _wait(wake_fd, delay) or stopping
                continue
            if read >= batch:
                continue
            if stopping:
                return 0
            if not started:
                started = True
                log.info("projector process %d: caught up; projecting every %g s", os.getpid(), interval)
            stopping = _wait(wake_fd, interval)
    finally:
        archive.close()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m okta_calls.projector_process DB``: the child that ``ProcessProjector`` starts."""
    parser = argparse.ArgumentParser(description="okta-calls receive: project queued events (internal)")
    parser.add_argument("db")
    parser.add_argument("--interval", type=float, default=DEFAULT_INTERVAL)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--step", type=int, default=DEFAULT_STEP)
    parser.add_argument("--pause", type=float, default=DEFAULT_PAUSE)
    parser.add_argument("--nice", type=int, default=DEFAULT_NICE)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    _lower_priority(args.nice)
    # Ctrl-C and systemd's SIGTERM reach the whole group: the parent decides when this child stops.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    logging.basicConfig(level=args.log_level.upper(), format="okta-calls: %(levelname)s: %(message)s")
    return serve(args.db, interval=args.interval, batch=args.batch, step=args.step, pause=args.pause,
                 wake_fd=sys.stdin.fileno())


def _lower_priority(increment: int) -> None:
    """Let the receiver's threads have the CPU first when the machine is busy (a failure is only logged)."""
    if increment <= 0 or not hasattr(os, "nice"):
        return
    try:
        os.nice(increment)
    except OSError as error:
        log.warning("projector: could not lower its priority: %s", error)


def child_command(db: str, *, interval: float, step: int, log_level: str) -> list[str]:
    """The command line of the projector child."""
    return [sys.executable, "-m", "okta_calls.projector_process", db, "--interval", str(interval),
            "--step", str(step), "--log-level", log_level]


class ProcessProjector:
    """The receiver's side of the projector child: start it, restart it when it dies, stop it at the end.

    ``fallback`` (the in-thread ``Projector``) projects on the writer thread while no child is running, so a
    dead child only costs latency, never projections. ``finish()`` closes the child's stdin, waits for it to
    project what is queued, and projects on the calling thread whatever it left.
    """

    def __init__(
        self,
        db: str,
        fallback: Projector,
        *,
        interval: float = DEFAULT_INTERVAL,
        step: int = DEFAULT_STEP,
        log_level: str = "info",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._command = child_command(db, interval=interval, step=step, log_level=log_level)
        self._fallback = fallback
        self._clock = clock
        self._child: subprocess.Popen[bytes] | None = None
        self._deaths = 0
        self._restart_at = 0.0
        self._finished = False

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        return self._child.pid if self._running() else None

    def start(self) -> ProcessProjector:
        """Start the child (a failure to start leaves the projection to the fallback; logged)."""
        env = dict(os.environ)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        try:
            self._child = subprocess.Popen(self._command, stdin=subprocess.PIPE, env=env)
        except OSError as error:
            log.warning("cannot start the projector process (%s); projecting on the writer thread", error)
            self._child = None
            self._schedule_restart()
            return self
        log.info("projector process %d started", self._child.pid)
        return self

    def _running(self) -> bool:
        return self._child is not None and self._child.poll() is None

    def _schedule_restart(self) -> None:
        self._deaths += 1
        self._restart_at = self._clock() + min(MAX_RESTART_DELAY, 2.0 ** (self._deaths - 1))
        self._fallback.queued(1)  # whatever the child left queued: the fallback projects it meanwhile

    def queued(self, events: int) -> None:
        """``events`` new events were queued: only the fallback needs telling (the child polls)."""
        if not self._running():
            self._fallback.queued(events)

    def due(self) -> float | None:
        """When the writer thread should call ``run``: to look at the child, or for the fallback's work."""
        if self._finished:
            return None
        if self._running():
            return CHECK_EVERY
        fallback = self._fallback.due()
        restart = self._restart_at - self._clock()
        return restart if fallback is None else min(restart, fallback)

    def run(self) -> bool:
        """Restart a dead child when it is time; meanwhile one in-thread step. True when more remains."""
        if self._finished or self._running():
            return False
        if self._child is not None:
            log.warning("the projector process exited (%s); projecting on the writer thread until it is back",
                        self._child.returncode)
            self._child = None
            self._schedule_restart()
        if self._clock() >= self._restart_at:
            self.start()
            if self._running():
                return False
        due = self._fallback.due()
        return due is not None and due <= 0 and self._fallback.run()

    def finish(self) -> None:
        """Stop the child once it has projected what is queued, then project what it left (idempotent)."""
        if self._finished:
            return
        self._finished = True
        child, self._child = self._child, None
        if child is not None:
            assert child.stdin is not None
            child.stdin.close()
            try:
                child.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("the projector process did not finish in %.0f s; stopping it", STOP_TIMEOUT)
                child.kill()
                child.wait()
        self._fallback.queued(1)
        self._fallback.finish()


if __name__ == "__main__":
    sys.exit(main())
