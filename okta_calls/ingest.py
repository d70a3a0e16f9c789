"""File ingest: read sources, hand batches to the archive, count what happened.

Sits above ``sources`` and ``archive`` and knows both; the CLI only parses options and prints.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import IO

from .archive import Archive
from .model import BatchResult, Incoming
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
    summary = IngestSummary(run_id=archive.start_run("file", [("<stdin>" if p == "-" else p) for p in paths]))

    def commit(items: list[Incoming], envelope: EnvelopeRead | None = None) -> None:
        if not items and envelope is None:
            return
        result = archive.append(
            items,
            run_id=summary.run_id,
            kind="file",
            delivery=envelope.delivery if envelope is not None else None,
        )
        summary.result.add(result)
        if on_progress is not None:
            on_progress(result)

    try:
        for path in paths:
            batch: list[Incoming] = []
            try:
                for read in read_source(path, stdin=stdin):
                    if isinstance(read, EnvelopeRead):
                        commit(batch)
                        batch = []
                        commit(read.items, read)
                        continue
                    batch.append(read)
                    if len(batch) >= batch_size:
                        commit(batch)
                        batch = []
            except SourceError as error:
                log.error("%s", error)
                summary.file_errors.append(str(error))
            commit(batch)  # what was read before a fault is kept
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
    summary.status = "partial" if summary.file_errors else "ok"
    archive.finish_run(summary.run_id, summary.status, "; ".join(summary.file_errors) or None)
    return summary
