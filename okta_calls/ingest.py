"""File ingest: read sources, hand batches to the archive, count what happened.

Sits above ``sources`` and ``archive`` and knows both; the CLI only parses options and prints.

A small input (or stdin) is read, prepared and written in this process, in batches grouped into commits at
most every ``commit_seconds``. A large one is shared out: reader processes parse, flatten and stage chunks
(``okta_calls.readers``, ``okta_calls.staging``) while this process, the only writer, copies each staged chunk
into the archive in one transaction (``Archive.write_staged``). Bounded queues keep memory flat whatever the
file size.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import IO, Any

from .archive import Archive, PreparedBatch, prepare
from .batch import fewer_gc_pauses
from .model import BatchResult, Incoming
from .readers import Readers
from .readers import Work as _Work
from .redact import Redactor
from .redaction import redact_reads, settle
from .sources.files import EnvelopeRead, Skipped, SourceError, read_source
from .staging import make_folder

log = logging.getLogger(__name__)

# A large import commits one batch (a staged chunk) at a time. Bigger ones commit less often, which matters at
# scale: every commit rewrites the pages of raw_events' uuid index that it touches, and uuids arrive in random
# order (a million events: 70 s with 5,000 a commit, 56-59 s with 20,000; README, "File ingest").
DEFAULT_BATCH = 20_000
# Smaller inputs and stdin are read in this process in batches of at most this many events, grouped into one
# commit at most every COMMIT_SECONDS: the bound is on the memory a batch holds.
IN_PROCESS_BATCH = 5000
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


def _batches(
    paths: Sequence[str], batch_size: int, stdin: IO[bytes] | None, redactor: Redactor | None = None
) -> Iterator[_Work]:
    """Prepared batches in file order; an envelope is a batch of its own; a file fault is a work item too."""
    for path in paths:
        batch: list[Incoming] = []
        try:
            for read in redact_reads(read_source(path, stdin=stdin), redactor):
                assert not isinstance(read, Skipped)
                if isinstance(read, EnvelopeRead):
                    if batch:
                        yield _Work(batch=prepare(batch))
                        batch = []
                    yield _Work(batch=prepare(read.items), delivery=read.delivery)
                    continue
                batch.append(read)
                if len(batch) >= batch_size:
                    yield _Work(batch=prepare(batch))
                    batch = []
        except SourceError as error:
            if batch:
                yield _Work(batch=prepare(batch))  # what was read before the fault is kept
                batch = []
            yield _Work(error=str(error))
        if batch:
            yield _Work(batch=prepare(batch))


PROCESS_THRESHOLD = 16 << 20  # inputs smaller than this are read in-process (a process costs ~0.3 s to start)


def default_readers() -> int:
    """Reader processes for a large import: one per core beside the writer's, at least one, at most three
    (past that the single writer is the bound)."""
    return max(1, min(3, (os.cpu_count() or 1)))


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
    expected = sum(input_bytes(path) for path in paths) // 2048
    return expected >= archive.conn.execute("SELECT count(*) FROM events").fetchone()[0]


def _use_process(paths: Sequence[str]) -> bool:
    try:
        return "-" not in paths and sum(input_bytes(path) for path in paths) >= PROCESS_THRESHOLD
    except OSError:  # a missing file: read in-process, which reports it
        return False


def input_bytes(path: str) -> int:
    """About how many bytes of JSON ``path`` holds: its size, or for a gzip file the uncompressed size its
    trailer records (modulo 4 GiB, so never taken below the compressed size times four)."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        if handle.read(2) != b"\x1f\x8b" or size < 18:
            return size
        handle.seek(-4, os.SEEK_END)
        recorded = int.from_bytes(handle.read(4), "little")
    return max(recorded, size * 4) if recorded < size else recorded


def ingest_paths(
    archive: Archive,
    paths: Sequence[str],
    *,
    batch_size: int = DEFAULT_BATCH,
    on_progress: Callable[[BatchResult], None] | None = None,
    stdin: IO[bytes] | None = None,
    commit_seconds: float = COMMIT_SECONDS,
    readers: int | None = None,
    redactor: Redactor | None = None,
) -> IngestSummary:
    """Archive every event in ``paths`` (``-`` is stdin) as one ingest run, redacted with ``redactor`` if given.

    Each batch commits on its own, so an interruption keeps everything before it and a re-run completes the
    rest without duplicates. An unreadable file is reported and the next one is read.
    """
    with fewer_gc_pauses():
        return _ingest(
            archive,
            paths,
            batch_size=batch_size,
            on_progress=on_progress,
            stdin=stdin,
            commit_seconds=commit_seconds,
            readers=readers or default_readers(),
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
    readers: int,
    redactor: Redactor | None,
) -> IngestSummary:
    settle(archive, redactor)  # refuses a missing or wrong key before anything is written
    summary = IngestSummary(run_id=archive.start_run("file", [("<stdin>" if p == "-" else p) for p in paths]))
    folder = make_folder() if _use_process(paths) else None
    reader = (
        Readers(paths, readers=readers, chunk_size=batch_size, folder=folder, redactor=redactor)
        if folder is not None
        else None
    )
    works: Iterable[_Work] = (
        reader if reader is not None else _batches(paths, min(batch_size, IN_PROCESS_BATCH), stdin, redactor)
    )
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
            if work.staged is not None:
                group.commit()  # a staged chunk is attached, and committed, on its own
                result = archive.write_staged(work.staged, run_id=summary.run_id, kind="file")
                os.unlink(work.staged.path)
            else:
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
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
        bulk.close()  # build the deferred indexes, whatever happened
    summary.status = "partial" if summary.file_errors else "ok"
    archive.finish_run(summary.run_id, summary.status, "; ".join(summary.file_errors) or None)
    archive.checkpoint()
    return summary
