"""Reader processes for large file imports: parse, flatten and stage in parallel, hand chunks to the writer.

The machine this was built for has two cores and SQLite allows one writer, so a large import runs as a writer
(the main process, which owns the archive) and ``readers`` reader processes. Each input file is cut into
chunks of ``chunk_size`` items (events, bad lines, envelopes: every item counts; the first few chunks are
smaller, see ``ChunkPlan``); chunk ``k`` belongs to
reader ``k % readers``. Every reader reads the whole file but decodes only its own chunks (an NDJSON line that
is not its own is skipped undecoded), prepares them (``okta_calls.batch.prepare``) and writes them into staged
files (``okta_calls.staging``). It sends, in file order, a ``Work`` for every staged part of a chunk (an
envelope in the middle of a chunk travels as a prepared batch of its own, keeping its place), then
``ChunkEnd``; after the file, ``FileEnd`` with the file's chunk count and the error that ended it, if any.
``merge`` takes chunk 0 from reader 0, chunk 1 from reader 1 and so on, so the writer sees every item in
file order, exactly as an in-process import would.

Each reader reads at most the number of bytes the file had when the import started, so all of them see the
same items even while the file grows. Readers exit by themselves when the writer dies (kill -9).
"""

from __future__ import annotations

import bisect
import logging
import multiprocessing
import os
import queue
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .batch import PreparedBatch, fewer_gc_pauses, prepare
from .model import Delivery, Incoming
from .redact import Redactor
from .redaction import redact_reads
from .sources.files import SKIPPED, EnvelopeRead, SourceError, read_source
from .staging import ChunkBuilder, StagedChunk

log = logging.getLogger(__name__)

# Items decoded, then flattened and staged, at a time: a hundred parsed events (~5 KB each in memory) are still
# in the CPU cache when they are flattened and staged. With 2,000 at a time a reader took 1.5x the CPU.
PREPARE_BATCH = 100
QUEUE_DEPTH = 2  # staged parts waiting for the writer, per reader


@dataclass(slots=True)
class Work:
    """One unit for the writer: a staged part of a chunk, an envelope's prepared batch, or a file's fault."""

    staged: StagedChunk | None = None
    batch: PreparedBatch | None = None
    delivery: Delivery | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ChunkEnd:
    file: int
    chunk: int


@dataclass(frozen=True, slots=True)
class FileEnd:
    file: int
    chunks: int
    error: str | None


_DONE = "done"


class _Sender:
    """Puts items on the queue to the writer; ends the process if the writer is gone."""

    def __init__(self, channel: Any) -> None:
        self._channel = channel
        self._writer = multiprocessing.parent_process()

    def __call__(self, item: object) -> None:
        while True:
            try:
                self._channel.put(item, timeout=1.0)
                return
            except queue.Full:
                if self._writer is not None and not self._writer.is_alive():
                    self._channel.cancel_join_thread()  # nobody will read what is buffered: don't wait to flush it
                    os._exit(0)


class _ChunkWriter:
    """Collects one reader's items of the current chunk into staged files and sends them."""

    def __init__(self, send: _Sender, folder: str, reader: int) -> None:
        self._send = send
        self._folder = folder
        self._reader = reader
        self._parts = 0
        self._pending: list[Incoming] = []
        self._builder: ChunkBuilder | None = None

    def add(self, item: Incoming) -> None:
        self._pending.append(item)
        if len(self._pending) >= PREPARE_BATCH:
            self._prepare_pending()

    def envelope(self, read: EnvelopeRead) -> None:
        self.flush()
        self._send(Work(batch=prepare(read.items), delivery=read.delivery))

    def flush(self) -> None:
        """Send what the current chunk holds so far as a staged part."""
        self._prepare_pending()
        if self._builder is not None:
            builder, self._builder = self._builder, None
            self._send(Work(staged=builder.finish()))

    def _prepare_pending(self) -> None:
        if not self._pending:
            return
        if self._builder is None:
            self._parts += 1
            self._builder = ChunkBuilder(str(Path(self._folder) / f"r{self._reader}-{self._parts}.db"))
        self._builder.add(prepare(self._pending))
        self._pending = []


class ChunkPlan:
    """Where a file's chunks start: small ones first, doubling up to ``size``, so the writer has its first chunk
    to write a fraction of a second after the readers start; then ``size`` items each. Every reader computes
    the same plan, which is what lets them share a file without talking to each other."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ramp: list[int] = []  # start index of each ramp chunk
        start, length = 0, max(1, size // 8)
        while length < size:
            self._ramp.append(start)
            start, length = start + length, length * 2
        self._ramp_end = start

    def chunk_of(self, item: int) -> int:
        """The chunk holding item number ``item`` (0-based)."""
        if item >= self._ramp_end:
            return len(self._ramp) + (item - self._ramp_end) // self.size
        return bisect.bisect_right(self._ramp, item) - 1

    def chunks(self, items: int) -> int:
        """How many chunks ``items`` items make."""
        return self.chunk_of(items - 1) + 1 if items else 0


def _read_file(index: int, path: str, limit: int, reader: int, readers: int, chunk_size: int,
               send: _Sender, chunks: _ChunkWriter, redactor: Redactor | None = None) -> None:
    """Send this reader's chunks of one file, then its ``FileEnd``."""
    count = 0
    current: int | None = None
    error: str | None = None
    plan = ChunkPlan(chunk_size)
    mine = (lambda item: plan.chunk_of(item) % readers != reader) if readers > 1 else None
    try:
        for read in redact_reads(read_source(path, skip=mine, limit=limit), redactor):
            chunk = plan.chunk_of(count)
            count += 1
            if current is not None and chunk != current:
                chunks.flush()  # as soon as it is whole: the writer may be waiting for it
                send(ChunkEnd(index, current))
                current = None
            if read is SKIPPED:
                continue
            current = chunk
            if isinstance(read, EnvelopeRead):
                chunks.envelope(read)
            else:
                chunks.add(read)  # type: ignore[arg-type]
    except SourceError as fault:
        error = str(fault)
    if current is not None:
        chunks.flush()
        send(ChunkEnd(index, current))
    send(FileEnd(index, plan.chunks(count), error))


def _reader_main(paths: Sequence[str], limits: Sequence[int], reader: int, readers: int, chunk_size: int,
                 folder: str, channel: Any, redactor: Redactor | None) -> None:
    """A reader process: every file, this reader's chunks, in order."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the writer decides what an interrupt means
    send = _Sender(channel)
    try:
        with fewer_gc_pauses():
            chunks = _ChunkWriter(send, folder, reader)
            for index, (path, limit) in enumerate(zip(paths, limits)):
                _read_file(index, path, limit, reader, readers, chunk_size, send, chunks, redactor)
        send(_DONE)
    except BaseException as error:  # noqa: BLE001 - reported to the writer, which raises it
        send(f"reader {reader} failed: {type(error).__name__}: {error}")


class Readers:
    """Starts the reader processes and yields their work in file order (``merge``)."""

    def __init__(self, paths: Sequence[str], *, readers: int, chunk_size: int, folder: str,
                 redactor: Redactor | None = None) -> None:
        context = multiprocessing.get_context("spawn")
        self._paths = list(paths)
        limits = [os.path.getsize(path) for path in self._paths]
        self._channels = [context.Queue(maxsize=QUEUE_DEPTH) for _ in range(readers)]
        self._processes = [
            context.Process(
                target=_reader_main,
                # The redactor (its key) reaches the process through multiprocessing's pipe, never its command line.
                args=(self._paths, limits, reader, readers, chunk_size, folder, channel, redactor),
                name=f"okta-calls-reader-{reader}",
                daemon=True,
            )
            for reader, channel in enumerate(self._channels)
        ]

    def _get(self, reader: int) -> object:
        while True:
            try:
                item = self._channels[reader].get(timeout=1.0)
            except queue.Empty:
                process = self._processes[reader]
                if not process.is_alive():
                    raise RuntimeError(f"reader process {reader} died (exit code {process.exitcode})") from None
                continue
            if isinstance(item, str) and item != _DONE:
                raise RuntimeError(item)
            return item

    def __iter__(self) -> Iterator[Work]:
        for process in self._processes:
            process.start()
        count = len(self._processes)
        for index in range(len(self._paths)):
            chunk = 0
            while True:
                owner = chunk % count
                item = self._get(owner)
                if isinstance(item, FileEnd):
                    error = self._file_ended(index, owner, item)
                    if error is not None:
                        yield Work(error=error)
                    break
                while not isinstance(item, ChunkEnd):
                    assert isinstance(item, Work), item
                    yield item
                    item = self._get(owner)
                if item != ChunkEnd(index, chunk):
                    raise RuntimeError(f"reader {owner} sent {item}, expected the end of chunk {chunk} of file {index}")
                chunk += 1
        for reader in range(count):
            if self._get(reader) != _DONE:
                raise RuntimeError(f"reader {reader} sent more than its files")

    def _file_ended(self, index: int, owner: int, end: FileEnd) -> str | None:
        """Every reader ends a file at the same chunk; collect their ``FileEnd``s and the file's error."""
        ends = [end] + [self._get(reader) for reader in range(len(self._processes)) if reader != owner]
        for other in ends:
            if not isinstance(other, FileEnd) or (other.file, other.chunks) != (index, end.chunks):
                raise RuntimeError(f"the readers disagree about the end of {self._paths[index]}: {other} vs {end}")
        return next((other.error for other in ends if other.error is not None), None)

    def close(self) -> None:
        started = [process for process in self._processes if process.pid is not None]
        for process in started:
            if process.is_alive():
                process.terminate()
        for process in started:
            process.join(timeout=5)
        for channel in self._channels:
            channel.close()
