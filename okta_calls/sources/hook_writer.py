"""The single writer thread of the Event Hook receiver: deliveries committed in groups, background work between.

``commit`` is blocking. It runs on ONE thread (SQLite has a single writer), so the event loop stays free to
accept and parse other deliveries meanwhile. Deliveries that queue up while the writer is busy are committed
together: the writer runs each one's ``commit`` inside one ``group()`` (for the archive,
``Archive.transaction``: one ``BEGIN IMMEDIATE`` ... ``COMMIT``), and answers them all once that has committed.
If the group fails because of one delivery, it is rolled back whole and its deliveries are committed one by
one, so only the bad one fails; if the archive is unavailable, every delivery in it gets the error.

Between groups the thread runs ``background`` work when it is due (for the archive, the deferred projection
of the events just acknowledged, ``okta_calls.projector.Projector``), one bounded step at a time, so a
delivery never waits behind more than one step. Closing commits what is queued, then works the background off.
"""

from __future__ import annotations

import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Protocol

from okta_calls.model import BatchResult, Delivery, Incoming

__all__ = ["Background", "Commit", "Group", "HookWriter", "is_unavailable_error"]

log = logging.getLogger(__name__)

Commit = Callable[[Delivery, list[Incoming]], BatchResult]
Group = Callable[[], AbstractContextManager[object]]


class Background(Protocol):
    """Work the writer thread does between delivery groups (the archive's deferred projection)."""

    def due(self) -> float | None:
        """Seconds until ``run`` wants to run (0 or less: now), or ``None`` when there is nothing to do."""

    def run(self) -> bool:
        """One bounded step of the work; True when more remains."""

    def finish(self) -> None:
        """Do what is left, when the writer closes."""


_WAKE = object()  # queued by ``HookWriter.wake``: not a delivery, only a reason to look at the background again


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

@dataclass(slots=True)
class _Job:
    """One delivery waiting for the writer, and the future its request awaits."""

    delivery: Delivery
    items: list[Incoming]
    future: Future[BatchResult]


class HookWriter:
    """The single thread that runs ``commit``, a group of queued deliveries per transaction."""

    def __init__(self, commit: Commit, group: Group, max_group: int, background: Background | None = None) -> None:
        self._commit = commit
        self._group = group
        self._max_group = max_group
        self._background = background
        self._queue: queue.SimpleQueue[_Job | object | None] = queue.SimpleQueue()
        # A daemon: an app never closed must not keep the interpreter alive. A commit cut short by the exit is
        # rolled back by SQLite, and its delivery was never acknowledged.
        self._thread = threading.Thread(target=self._run, name="okta-hook-writer", daemon=True)
        self._lock = threading.Lock()
        self._closed = False
        self._seconds_per_delivery = 0.0  # moving average of the writer's time per delivery
        bind = getattr(background, "bind", None)
        if bind is not None:  # background work that gets ready on another thread wakes this one
            bind(self.wake)

    def submit(self, delivery: Delivery, items: list[Incoming]) -> Future[BatchResult]:
        """Queue a delivery; the future resolves once it is committed (or fails). Cancel it to withdraw it."""
        job = _Job(delivery, items, Future())
        with self._lock:
            if self._closed:
                raise RuntimeError("the hook writer is closed")
            if self._thread.ident is None:
                self._thread.start()
            self._queue.put(job)
        return job.future

    def wake(self) -> None:
        """Make the writer thread ask the background work whether it is due (from any thread)."""
        self._queue.put(_WAKE)

    @property
    def seconds_per_delivery(self) -> float:
        """The writer's recent time per delivery (a moving average; 0 until it has written one)."""
        with self._lock:
            return self._seconds_per_delivery

    def _measured(self, seconds: float, deliveries: int) -> None:
        per_delivery = seconds / deliveries
        with self._lock:
            previous = self._seconds_per_delivery
            self._seconds_per_delivery = per_delivery if previous == 0 else 0.8 * previous + 0.2 * per_delivery

    def close(self) -> None:
        """Commit what is queued, then stop the thread (idempotent)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._queue.put(None)
        if self._thread.ident is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            jobs, stop = self._next_group(self._background_wait())
            live = [job for job in jobs if job.future.set_running_or_notify_cancel()]
            if live:
                started = time.perf_counter()
                waited = self._commit_group(live)
                # Waiting for another writer's lock (an API sync's page, a checkpoint) is not the cost of
                # these deliveries: counted in, one stall would have new deliveries refused for seconds.
                self._measured(time.perf_counter() - started - waited, len(live))
            if stop:
                self._finish_background()
                return
            self._background_step()

    def _background_wait(self) -> float | None:
        """How long to wait for a delivery before the background work is due (``None``: as long as it takes)."""
        due = self._background.due() if self._background is not None else None
        return None if due is None else max(0.0, due)

    def _background_step(self) -> None:
        """One step of the background work if it is due; its failures are logged, never raised."""
        if self._background is None:
            return
        due = self._background.due()
        if due is not None and due <= 0:
            try:
                self._background.run()
            except Exception:  # noqa: BLE001 - the writer must keep committing deliveries
                log.exception("background work failed")

    def _finish_background(self) -> None:
        """Work off the background before the thread ends (what it cannot do stays for the next open)."""
        if self._background is None:
            return
        try:
            self._background.finish()
        except Exception:  # noqa: BLE001 - closing anyway
            log.exception("background work failed while closing")

    def _next_group(self, timeout: float | None = None) -> tuple[list[_Job], bool]:
        """Wait for one job (at most ``timeout`` s), then take whatever else is queued (up to ``max_group``);
        True when closing."""
        try:
            first = self._queue.get(timeout=timeout)
        except queue.Empty:
            return [], False
        if first is None:
            return [], True
        jobs = [first] if isinstance(first, _Job) else []
        while len(jobs) < self._max_group:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return jobs, True
            if isinstance(job, _Job):
                jobs.append(job)
        return jobs, False

    def _commit_group(self, jobs: list[_Job]) -> float:
        """Commit ``jobs`` in one ``group()``; if that fails for a reason of one delivery, one by one.

        A failure inside the group rolls all of it back, so a bad delivery must not sink the others: they are
        then committed alone. When the archive itself is unavailable (busy, disk full) they all fail at once.
        Returns the seconds spent waiting to enter the group (the write lock), which is not writing.
        """
        waited = 0.0
        try:
            if len(jobs) > 1 or self._group is not nullcontext:
                try:
                    entering = time.perf_counter()
                    with self._group():
                        waited = time.perf_counter() - entering
                        results = [self._commit(job.delivery, job.items) for job in jobs]
                except Exception as error:  # noqa: BLE001 - decided below
                    if is_unavailable_error(error):
                        for job in jobs:
                            job.future.set_exception(error)
                        return waited
                    log.info("a group of %d deliveries failed (%s); committing them one by one", len(jobs), error)
                else:
                    for job, result in zip(jobs, results):
                        job.future.set_result(result)
                    return waited
            for job in jobs:
                try:
                    job.future.set_result(self._commit(job.delivery, job.items))
                except Exception as error:  # noqa: BLE001 - that delivery alone fails
                    job.future.set_exception(error)
        except BaseException as error:  # not an Exception: fail what is left, then let it end the thread
            for job in jobs:
                if not job.future.done():
                    job.future.set_exception(error)
            raise
        return waited
