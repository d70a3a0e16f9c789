"""The receiver's deferred projection: flattened in a child process, written by the receiver's writer thread.

Flattening events is Python work that holds the GIL. Done on the receiver's writer thread, it held every
delivery that arrived meanwhile and slowed the HTTP event loop, which needs the same GIL. So a child process
(``python -m okta_calls.projector_process DB``) reads queued events without any lock
(``projector.queued_payloads``) and flattens them (``projector.flatten_payloads``); it hands the rows back over
a pipe, and the receiver's writer thread writes them, ``step`` events per transaction, between delivery
groups (``Archive.project_rows``).

Why the writing stays in the receiver (measured with ``benchmarks/bench_hooks.py`` and a Datasette reader on
the same file): when the child wrote the rows itself, its 25-event transactions held the write lock for 25-60
ms, up to 450 ms, while deliveries waited for it (p99 190-220 ms). Its SQLite page cache was thrown away each
time the receiver committed a delivery, so it re-read its index pages every transaction (25-90 ms of CPU for
25 events, 3 ms on a warm cache); on a busy machine it was also descheduled with the lock held. Written by
the writer thread on the receiver's own connection, the same 25 events take ~3 ms on a warm cache, nobody
else holds the lock, and a delivery waits behind at most one step. Steps are 200 events (20-30 ms): each
insert into a random-key index of ``events`` dirties its own 16 KiB page, and a 200-event step writes 3.6 WAL
frames per event where a 50-event step wrote 5.8 (see docs/receive.md).

Each transaction reads the queue again and dequeues what it projects (``projector.project_flattened``), so
every event is projected exactly once, whoever else projects (the in-thread fallback, ``catch_up`` in another
command, ``rebuild``).

The protocol. The receiver asks for a batch by writing the highest raw id it has been sent so far (8 bytes)
to the child's stdin; the child answers on its stdout with the ``[(raw_id, Rows), ...]`` of up to ``batch``
queued events after that id, pickled in frames of ``step`` events (8-byte length, a last-frame flag, the
pickle; one empty frame when nothing is queued), so the receiver unpickles a step at a time.
End-of-file on the child's stdin (the receiver closing it, or dying, even by ``kill -9``) means stop: the
child then projects what is left itself (nobody else is writing deliveries any more) and exits.
``ProcessProjector`` is the receiver's side, the ``Background`` of the hook writer: it asks, writes, restarts
a child that died, and projects on the writer thread (``Projector``) while there is none.
"""

from __future__ import annotations

import argparse
import logging
import os
import pickle
import signal
import sqlite3
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from typing import IO, BinaryIO

from .archive import Archive, ArchiveError
from .flatten import Rows
from .projector import DEFAULT_INTERVAL, MAX_BACKOFF, Projector, flatten_payloads, queued_payloads

__all__ = ["DEFAULT_BATCH", "DEFAULT_STEP", "ProcessProjector", "main", "project_batch"]

log = logging.getLogger(__name__)

DEFAULT_BATCH = 500  # events read and flattened at once by the child (outside any transaction)
DEFAULT_STEP = 200  # events per projection transaction (~20-30 ms): bigger steps write fewer WAL frames per event
DEFAULT_PAUSE = 0.002  # seconds between two transactions of the child's final drain
BUSY_TIMEOUT = 10.0  # the child's busy timeout for its final drain: it is never in a hurry
CHECK_EVERY = 1.0  # seconds between the writer thread's looks at the child
MAX_RESTART_DELAY = 30.0
ANSWER_TIMEOUT = 30.0  # seconds a request may wait for the child's answer before the child is replaced
STOP_TIMEOUT = 60.0  # seconds the receiver waits for the child to project what is left when closing
DEFAULT_NICE = 10  # the child's CPU priority below the receiver's: projections can wait, Okta's answers cannot
_ID = struct.Struct("<q")  # a request: the highest raw id the receiver was sent
_HEADER = struct.Struct("<Q?")  # a frame's length, and whether it is the last one of an answer

Flattened = list[tuple[int, Rows]]


def project_batch(archive: Archive, *, batch: int = DEFAULT_BATCH, step: int = DEFAULT_STEP,
                  pause: float = DEFAULT_PAUSE) -> int:
    """Read up to ``batch`` queued events, flatten them, project them ``step`` per transaction; returns how
    many were read (``batch`` means more may be queued). The child's final drain, and the tests'."""
    rows = queued_payloads(archive.conn, batch)
    events = flatten_payloads(rows)
    for start in range(0, len(events), max(1, step)):
        if start:
            time.sleep(pause)
        archive.project_rows(events[start : start + step])
    return len(rows)


# -- the child ------------------------------------------------------------------------------------------------


def send_frames(out: IO[bytes], events: Flattened, step: int) -> None:
    """Answer a request: the events in frames of ``step`` (a length, a last-frame flag, the pickled events),
    so that the receiver unpickles a few at a time (unpickling holds its GIL); flushed at the end."""
    starts = range(0, len(events), max(1, step)) if events else range(1)
    for start in starts:
        data = pickle.dumps(events[start : start + step], protocol=pickle.HIGHEST_PROTOCOL)
        out.write(_HEADER.pack(len(data), start + step >= len(events)))
        out.write(data)
    out.flush()


def read_frame(stream: BinaryIO) -> tuple[Flattened, bool] | None:
    """Read one frame: its events and whether it ends the answer; ``None`` at end-of-file (or a frame cut
    short by the child's death)."""
    header = stream.read(_HEADER.size)
    if len(header) < _HEADER.size:
        return None
    size, last = _HEADER.unpack(header)
    data = stream.read(size)
    if len(data) < size:
        return None
    events: Flattened = pickle.loads(data)  # noqa: S301 - our own child, over a private pipe
    return events, bool(last)


def serve(db: str, *, batch: int, step: int, pause: float, requests: BinaryIO, out: IO[bytes]) -> int:
    """The child's loop: answer each request with a frame until end-of-file, then drain; the exit code."""
    archive = Archive(db, timeout=BUSY_TIMEOUT, catch_up=False)
    try:
        log.info("projector process %d: ready", os.getpid())
        while True:
            request = requests.read(_ID.size)
            if len(request) < _ID.size:
                break
            (after,) = _ID.unpack(request)
            try:
                events = flatten_payloads(queued_payloads(archive.conn, batch, after=after))
            except sqlite3.Error as error:  # the receiver sees an empty frame and asks again later
                log.warning("projector: could not read the queue: %s", error)
                events = []
            try:
                send_frames(out, events, step)
            except BrokenPipeError:  # the receiver is gone: drain
                break
        return drain(archive, batch=batch, step=step, pause=pause)
    finally:
        archive.close()


def drain(archive: Archive, *, batch: int, step: int, pause: float) -> int:
    """Project everything queued, in the child, when the receiver stops (or died); the exit code."""
    failures = 0
    while True:
        try:
            if project_batch(archive, batch=batch, step=step, pause=pause) < batch:
                return 0
            failures = 0
        except (ArchiveError, sqlite3.Error) as error:
            failures += 1
            if failures >= 3:
                log.warning("projector: giving up, the queue is left for the next open: %s", error)
                return 1
            log.warning("projector: projection deferred by %.1f s: %s", failures, error)
            time.sleep(failures)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m okta_calls.projector_process DB``: the child that ``ProcessProjector`` starts."""
    parser = argparse.ArgumentParser(description="okta-calls receive: flatten queued events (internal)")
    parser.add_argument("db")
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    parser.add_argument("--step", type=int, default=DEFAULT_STEP)
    parser.add_argument("--pause", type=float, default=DEFAULT_PAUSE)
    parser.add_argument("--nice", type=int, default=DEFAULT_NICE)
    parser.add_argument("--log-level", default="info")
    args = parser.parse_args(argv)
    # Frames go to the real stdout; anything else that prints goes to stderr, never into a frame.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    _lower_priority(args.nice)
    # Ctrl-C and systemd's SIGTERM reach the whole group: the parent decides when this child stops.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    logging.basicConfig(level=args.log_level.upper(), format="okta-calls: %(levelname)s: %(message)s")
    return serve(args.db, batch=args.batch, step=args.step, pause=args.pause, requests=sys.stdin.buffer, out=out)


def _lower_priority(increment: int) -> None:
    """Let the receiver's threads have the CPU first when the machine is busy (a failure is only logged)."""
    if increment <= 0 or not hasattr(os, "nice"):
        return
    try:
        os.nice(increment)
    except OSError as error:
        log.warning("projector: could not lower its priority: %s", error)


def child_command(db: str, *, batch: int, step: int, log_level: str) -> list[str]:
    """The command line of the projector child."""
    return [sys.executable, "-m", "okta_calls.projector_process", db, "--batch", str(batch), "--step", str(step),
            "--log-level", log_level]


# -- the receiver's side ----------------------------------------------------------------------------------------


class ProcessProjector:
    """The receiver's side of the projector child: ask it for flattened events, write them, restart it.

    Runs on the hook writer's thread (``due``/``run``/``queued``/``finish``, the ``Background`` protocol);
    a thread of its own reads the child's frames and wakes the writer (``bind``). ``write`` is
    ``Archive.project_rows`` (one transaction). ``fallback`` (the in-thread ``Projector``) projects on the
    writer thread while no child is running, so a dead child only costs latency, never projections.
    ``finish()`` closes the child's stdin, waits for it to project what is queued, and projects on the
    calling thread whatever it left.
    """

    def __init__(
        self,
        db: str,
        fallback: Projector,
        write: Callable[[Flattened], int],
        *,
        interval: float = DEFAULT_INTERVAL,
        batch: int = DEFAULT_BATCH,
        step: int = DEFAULT_STEP,
        log_level: str = "info",
        answer_timeout: float = ANSWER_TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._command = child_command(db, batch=batch, step=step, log_level=log_level)
        self._fallback = fallback
        self._write = write
        self.interval = interval
        self._batch = max(1, batch)
        self._step = max(1, step)
        self._clock = clock
        self._lock = threading.Lock()  # guards the fields below, shared with the frame reader thread
        self._child: subprocess.Popen[bytes] | None = None
        self._buffer: deque[tuple[int, Rows]] = deque()  # flattened events received, not yet written
        self._after = 0  # the highest raw id received: the next request asks for later ones
        self._asked = False  # a request is out, its frame not yet received
        self._discard = False  # a write failed while that request was out: drop the rest of its answer
        self._asked_at = 0.0
        self.answer_timeout = answer_timeout
        self._ask_at: float | None = None  # when to ask next (None: when ``queued`` says there is work)
        self._failures = 0
        self._wake: Callable[[], None] = lambda: None
        self._deaths = 0
        self._restart_at = 0.0
        self._finished = False

    # -- the child's life ---------------------------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The running child's process id."""
        child = self._child
        return child.pid if child is not None and child.poll() is None else None

    def bind(self, wake: Callable[[], None]) -> None:
        """``wake`` makes the writer thread look at ``due`` now (called when a frame arrives)."""
        self._wake = wake

    def start(self) -> ProcessProjector:
        """Start the child (a failure to start leaves the projection to the fallback; logged)."""
        env = dict(os.environ)
        package_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [package_root, env.get("PYTHONPATH")]))
        try:
            child = subprocess.Popen(self._command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        except OSError as error:
            log.warning("cannot start the projector process (%s); projecting on the writer thread", error)
            self._schedule_restart()
            return self
        with self._lock:
            self._child, self._asked, self._discard = child, False, False
            self._ask_at = self._clock()  # look at once: events may be queued already
        threading.Thread(target=self._receive, args=(child,), name="okta-projector-frames", daemon=True).start()
        log.info("projector process %d started", child.pid)
        return self

    def _running(self) -> bool:
        return self._child is not None and self._child.poll() is None

    def _schedule_restart(self) -> None:
        self._deaths += 1
        self._restart_at = self._clock() + min(MAX_RESTART_DELAY, 2.0 ** (self._deaths - 1))
        self._fallback.queued(1)  # whatever is still queued: the fallback projects it meanwhile

    def _receive(self, child: subprocess.Popen[bytes]) -> None:
        """The frame reader thread of one child: buffer each frame's events, wake the writer."""
        assert child.stdout is not None
        received = 0
        while (frame := read_frame(child.stdout)) is not None:
            events, last = frame
            received += len(events)
            with self._lock:
                current = child is self._child
                if not (current and self._discard):
                    self._buffer.extend(events)
                    if events:
                        self._after = max(self._after, events[-1][0])
                if last and current:
                    self._asked = False
                    if self._discard:  # the failed write's pause decides when to ask again
                        self._discard = False
                    else:
                        self._ask_at = self._clock() if received >= self._batch else None
            if last:
                received = 0
            self._wake()
        self._wake()  # end-of-file: the child died or was told to stop; ``run`` finds out which

    # -- the Background protocol (the writer thread) ------------------------------------------------------------

    def queued(self, events: int) -> None:
        """``events`` new events were queued: ask the child within ``interval`` (or tell the fallback)."""
        if events <= 0:
            return
        if not self._running():
            self._fallback.queued(events)
            return
        with self._lock:
            if self._ask_at is None:
                self._ask_at = self._clock() + self.interval

    def due(self) -> float | None:
        """When the writer thread should call ``run``: rows to write, a request to send, a child to look at."""
        if self._finished:
            return None
        with self._lock:
            if self._buffer:
                return 0.0
            ask_at, asked = self._ask_at, self._asked
        if self._running():
            if asked:  # a frame wakes the writer; the deadline is for a child that never answers
                return min(CHECK_EVERY, self._asked_at + self.answer_timeout - self._clock())
            if ask_at is None:
                return CHECK_EVERY
            return min(CHECK_EVERY, ask_at - self._clock())
        fallback = self._fallback.due()
        restart = self._restart_at - self._clock()
        return restart if fallback is None else min(restart, fallback)

    def run(self) -> bool:
        """One step: write ``step`` received events, ask for more when it is time, look after the child.
        True when more is ready to write."""
        if self._finished:
            return False
        with self._lock:
            step = [self._buffer.popleft() for _ in range(min(self._step, len(self._buffer)))]
        if step:
            self._write_step(step)
        self._stop_if_silent()
        if self._running():
            self._ask()
            with self._lock:
                return bool(self._buffer)
        return self._without_child()

    def _stop_if_silent(self) -> None:
        """Kill a child that has not answered a request in ``answer_timeout`` seconds (hung, or stopped): it is
        then replaced like a child that died."""
        with self._lock:
            silent = self._asked and self._clock() - self._asked_at > self.answer_timeout
        child = self._child
        if silent and child is not None and child.poll() is None:
            log.warning("the projector process %d has not answered in %.0f s; stopping it", child.pid,
                        self.answer_timeout)
            child.kill()
            child.wait()

    def _write_step(self, step: Flattened) -> None:
        try:
            self._write(step)
        except Exception as error:  # noqa: BLE001 - logged and retried; the queue keeps the work
            self._failures += 1
            pause = min(MAX_BACKOFF, self.interval * 2**self._failures)
            log.warning("projection deferred by %.1f s: %s", pause, error)
            with self._lock:  # what was received is read again from the queue later
                self._buffer.clear()
                self._after = 0
                self._discard = self._asked  # and so is what is still on its way
                self._ask_at = self._clock() + pause
            return
        self._failures = 0

    def _ask(self) -> None:
        """Send a request when none is out, the buffer is low, and it is time."""
        with self._lock:
            if self._asked or len(self._buffer) >= self._batch:
                return
            if self._ask_at is None or self._ask_at > self._clock():
                return
            self._asked, self._asked_at, after, child = True, self._clock(), self._after, self._child
        assert child is not None and child.stdin is not None
        try:
            child.stdin.write(_ID.pack(after))
            child.stdin.flush()
        except (BrokenPipeError, ValueError):  # it just died: ``run`` sees it next time
            pass

    def _without_child(self) -> bool:
        """A dead child: log it, schedule its restart, let the fallback project meanwhile."""
        if self._child is not None:
            log.warning("the projector process exited (%s); projecting on the writer thread until it is back",
                        self._child.returncode)
            self._child = None
            with self._lock:
                self._asked = False
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
            try:
                child.stdin.close()
            except BrokenPipeError:
                pass
            try:
                child.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.warning("the projector process did not finish in %.0f s; stopping it", STOP_TIMEOUT)
                child.kill()
                child.wait()
        with self._lock:
            self._buffer.clear()  # the child's drain projected these; the fallback takes what is left
        self._fallback.queued(1)
        self._fallback.finish()


if __name__ == "__main__":
    sys.exit(main())
