"""File ingest: read sources, hand batches to the archive, count what happened.

Sits above ``sources`` and ``archive`` and knows both; the CLI only parses options and prints.

Two threads share the work (the machine has two cores): a reader thread parses and flattens batch N+1
(``archive.prepare``, pure Python) while the calling thread writes batch N (``Archive.write``, SQLite, which
releases the GIL while it works). A bounded queue keeps memory flat whatever the file size.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO

from .archive import Archive, PreparedBatch, prepare
from .batch import fewer_gc_pauses
from .model import BatchResult, Delivery, Incoming
from .sources.files import EnvelopeRead, SourceError, read_source

log = logging.getLogger(__name__)

DEFAULT_BATCH = 2000


@dataclass(slots=True)
class IngestSummary:
    """What an ingest run did: its id, the counts, and the files that could not be read."""

    run_id: int
    result: BatchResult = field(default_factory=BatchResult)
    file_errors: list[str] = field(default_factory=list)
    status: str = "running"


@dataclass(slots=True)
class _Work:
    batch: PreparedBatch | None = None
    delivery: Delivery | None = None
    error: str | None = None


def _batches(paths: Sequence[str], batch_size: int, stdin: IO[bytes] | None) -> Iterator[_Work]:
    """Prepared batches in file order; an envelope is a batch of its own; a file fault is a work item too."""
    for path in paths:
        batch: list[Incoming] = []
        try:
            for read in read_source(path, stdin=stdin):
                if isinstance(read, EnvelopeRead):
                    if batch:
                        yield _Work(prepare(batch))
                        batch = []
                    yield _Work(prepare(read.items), read.delivery)
                    continue
                batch.append(read)
                if len(batch) >= batch_size:
                    yield _Work(prepare(batch))
                    batch = []
        except SourceError as error:
            if batch:
                yield _Work(prepare(batch))  # what was read before the fault is kept
                batch = []
            yield _Work(error=str(error))
        if batch:
            yield _Work(prepare(batch))


class _Reader(threading.Thread):
    """Runs ``_batches`` in a thread and hands the results over through a bounded queue."""

    _DONE = object()

    def __init__(self, work: Iterator[_Work]) -> None:
        super().__init__(name="okta-calls-reader", daemon=True)
        self._work = work
        self._queue: queue.Queue[object] = queue.Queue(maxsize=2)
        self._stop = threading.Event()

    def run(self) -> None:
        try:
            for item in self._work:
                if not self._put(item):
                    return
            self._put(self._DONE)
        except BaseException as error:  # handed to the consumer, which re-raises it
            self._put(error)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[_Work]:
        while True:
            item = self._queue.get()
            if item is self._DONE:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, _Work)
            yield item

    def stop(self) -> None:
        self._stop.set()


def ingest_paths(
    archive: Archive,
    paths: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[BatchResult], None] | None = None,
    stdin: IO[bytes] | None = None,
) -> IngestSummary:
    """Archive every event in ``paths`` (``-`` is stdin) as one ingest run.

    Each batch commits on its own, so an interruption keeps everything before it and a re-run completes the
    rest without duplicates. An unreadable file is reported and the next one is read.
    """
    with fewer_gc_pauses():
        return _ingest(archive, paths, batch_size=batch_size, on_progress=on_progress, stdin=stdin)


def _ingest(
    archive: Archive,
    paths: Sequence[str],
    *,
    batch_size: int,
    on_progress: Callable[[BatchResult], None] | None,
    stdin: IO[bytes] | None,
) -> IngestSummary:
    summary = IngestSummary(run_id=archive.start_run("file", [("<stdin>" if p == "-" else p) for p in paths]))
    reader = _Reader(_batches(paths, batch_size, stdin))
    reader.start()
    try:
        for work in reader:
            if work.error is not None:
                log.error("%s", work.error)
                summary.file_errors.append(work.error)
                continue
            assert work.batch is not None
            result = archive.write(work.batch, run_id=summary.run_id, kind="file", delivery=work.delivery)
            summary.result.add(result)
            if on_progress is not None:
                on_progress(result)
    except KeyboardInterrupt:
        summary.status = "interrupted"
        archive.finish_run(summary.run_id, "interrupted", "interrupted by the user")
        raise
    except Exception as error:
        summary.status = "failed"
        try:
            archive.finish_run(summary.run_id, "failed", str(error))
        except Exception:  # the archive itself may be what failed
            log.debug("could not record the failed run", exc_info=True)
        raise
    finally:
        reader.stop()
    summary.status = "partial" if summary.file_errors else "ok"
    archive.finish_run(summary.run_id, summary.status, "; ".join(summary.file_errors) or None)
    archive.checkpoint()
    return summary
