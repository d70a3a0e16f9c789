"""File ingest: read sources, hand batches to the archive, count what happened.

Sits above ``sources`` and ``archive`` and knows both; the CLI only parses options and prints.

Two processes share the work of a large import (the machine has two cores): a reader process parses and
flattens batch N+1 (``batch.prepare``, pure Python) while this process writes batch N (``Archive.write``).
A bounded queue between them keeps memory flat whatever the file size.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import queue
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .archive import Archive, PreparedBatch, prepare
from .batch import fewer_gc_pauses
from .model import BatchResult, Delivery, Incoming
from .redact import Redactor
from .redaction import redact_reads, settle
from .sources.files import EnvelopeRead, SourceError, read_source

log = logging.getLogger(__name__)

DEFAULT_BATCH = 2000
# Batches are committed in groups, at most this often: at a million events most of a commit's cost is the
# random index pages it dirties, and a group dirties each page once for many more events. One second also
# bounds how long a live `okta-calls receive` waits for the write lock.
COMMIT_SECONDS = 1.0


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


def _batches(
    paths: Sequence[str], batch_size: int, stdin: IO[bytes] | None, redactor: Redactor | None = None
) -> Iterator[_Work]:
    """Prepared batches in file order; an envelope is a batch of its own; a file fault is a work item too."""
    for path in paths:
        batch: list[Incoming] = []
        try:
            for read in redact_reads(read_source(path, stdin=stdin), redactor):
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


_DONE = "done"
PROCESS_THRESHOLD = 16 << 20  # inputs smaller than this are read in-process (a process costs ~0.3 s to start)


def _reader_main(paths: Sequence[str], batch_size: int, channel: Any, redactor: Redactor | None = None) -> None:
    """The reader process: parse and prepare every batch, hand each to the writer through ``channel``.

    Ends by itself when the writer is gone (killed with -9, say) instead of waiting on a full queue forever.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the writer decides what an interrupt means
    writer = multiprocessing.parent_process()

    def send(item: object) -> None:
        while True:
            try:
                channel.put(item, timeout=1.0)
                return
            except queue.Full:
                if writer is not None and not writer.is_alive():
                    channel.cancel_join_thread()  # nobody will read what is buffered: don't wait to flush it
                    os._exit(0)

    try:
        with fewer_gc_pauses():
            for work in _batches(paths, batch_size, None, redactor):
                send(work)
        send(_DONE)
    except BaseException as error:  # noqa: BLE001 - reported to the writer, which raises it
        send(f"reader failed: {type(error).__name__}: {error}")


class _ReaderProcess:
    """Parses and flattens in a second process (the machine has two cores), so that the writer process only
    writes. Python threads cannot do this: SQLite releases the GIL for every row it steps, and a busy reader
    thread then makes the writer wait for it row after row."""

    def __init__(self, paths: Sequence[str], batch_size: int, redactor: Redactor | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._channel = context.Queue(maxsize=2)
        self._process = context.Process(
            # The redactor (its key) reaches the process through multiprocessing's pipe, never its command line.
            target=_reader_main, args=(list(paths), batch_size, self._channel, redactor), name="okta-calls-reader",
            daemon=True,
        )

    def __iter__(self) -> Iterator[_Work]:
        self._process.start()
        while True:
            try:
                item = self._channel.get(timeout=1.0)
            except queue.Empty:
                if not self._process.is_alive():
                    raise RuntimeError(f"the reader process died (exit code {self._process.exitcode})") from None
                continue
            if item == _DONE:
                return
            if isinstance(item, str):
                raise RuntimeError(item)
            yield item

    def close(self) -> None:
        if self._process.is_alive():
            self._process.terminate()
        self._process.join(timeout=5)
        self._channel.close()


class _GroupCommit:
    """Writes batches inside a transaction that commits at most every ``seconds`` (see COMMIT_SECONDS)."""

    def __init__(self, archive: Archive, seconds: float) -> None:
        self._archive = archive
        self._seconds = seconds
        self._open: contextlib.ExitStack | None = None
        self._started = 0.0

    def write(self, batch: PreparedBatch, **options: Any) -> BatchResult:
        if self._open is None:
            self._open = contextlib.ExitStack()
            self._open.enter_context(self._archive.transaction())
            self._started = time.monotonic()
        result = self._archive.write(batch, **options)
        if time.monotonic() - self._started >= self._seconds:
            self.commit()
        return result

    def commit(self) -> None:
        group, self._open = self._open, None
        if group is not None:
            group.close()

    def abandon(self, error: BaseException) -> None:
        """Roll back the open group (its batches were never acknowledged)."""
        group, self._open = self._open, None
        if group is not None:
            group.__exit__(type(error), error, error.__traceback__)


def _is_bulk_load(archive: Archive, paths: Sequence[str]) -> bool:
    """An import that at least doubles the archive (about 2 KB an event): cheaper to index afterwards."""
    if not _use_process(paths):
        return False
    expected = sum(os.path.getsize(path) for path in paths) // 2048
    return expected >= archive.conn.execute("SELECT count(*) FROM events").fetchone()[0]


def _use_process(paths: Sequence[str]) -> bool:
    try:
        return "-" not in paths and sum(os.path.getsize(path) for path in paths) >= PROCESS_THRESHOLD
    except OSError:  # a missing file: read in-process, which reports it
        return False


def ingest_paths(
    archive: Archive,
    paths: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[BatchResult], None] | None = None,
    stdin: IO[bytes] | None = None,
    commit_seconds: float = COMMIT_SECONDS,
    redactor: Redactor | None = None,
) -> IngestSummary:
    """Archive every event in ``paths`` (``-`` is stdin) as one ingest run, redacted with ``redactor`` if given.

    Each batch commits on its own, so an interruption keeps everything before it and a re-run completes the
    rest without duplicates. An unreadable file is reported and the next one is read.
    """
    with fewer_gc_pauses():
        return _ingest(
            archive, paths, batch_size=batch_size, on_progress=on_progress, stdin=stdin, commit_seconds=commit_seconds,
            redactor=redactor,
        )


def _ingest(
    archive: Archive,
    paths: Sequence[str],
    *,
    batch_size: int,
    on_progress: Callable[[BatchResult], None] | None,
    stdin: IO[bytes] | None,
    commit_seconds: float,
    redactor: Redactor | None = None,
) -> IngestSummary:
    settle(archive, redactor)  # refuses a missing or wrong key before anything is written
    summary = IngestSummary(run_id=archive.start_run("file", [("<stdin>" if p == "-" else p) for p in paths]))
    reader = _ReaderProcess(paths, batch_size, redactor) if _use_process(paths) else None
    works = reader if reader is not None else _batches(paths, batch_size, stdin, redactor)
    group = _GroupCommit(archive, commit_seconds)
    bulk = contextlib.ExitStack()
    if _is_bulk_load(archive, paths):
        bulk.enter_context(archive.bulk_load())
    try:
        for work in works:
            if work.error is not None:
                log.error("%s", work.error)
                summary.file_errors.append(work.error)
                continue
            assert work.batch is not None
            result = group.write(work.batch, run_id=summary.run_id, kind="file", delivery=work.delivery)
            summary.result.add(result)
            if on_progress is not None:
                on_progress(result)
        group.commit()
    except KeyboardInterrupt as error:
        group.abandon(error)
        summary.status = "interrupted"
        archive.finish_run(summary.run_id, "interrupted", "interrupted by the user")
        raise
    except Exception as error:
        group.abandon(error)
        summary.status = "failed"
        try:
            archive.finish_run(summary.run_id, "failed", str(error))
        except Exception:  # the archive itself may be what failed
            log.debug("could not record the failed run", exc_info=True)
        raise
    finally:
        if reader is not None:
            reader.close()
        bulk.close()  # build the deferred indexes, whatever happened
    summary.status = "partial" if summary.file_errors else "ok"
    archive.finish_run(summary.run_id, summary.status, "; ".join(summary.file_errors) or None)
    archive.checkpoint()
    return summary
