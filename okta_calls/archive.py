"""The archive: one SQLite file holding the raw event log and its projections.

This is the one place that writes events. ``Archive.append`` takes a batch of ``Incoming`` items from any
source and, in ONE ``BEGIN IMMEDIATE`` transaction, appends the new raw events, derives their projection
rows, records rejects, bumps the ingest run's counters and saves the source's cursor (API) or envelope
(Event Hooks). A crash at any moment leaves either all of that or none of it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any, Callable

import sqlite_utils
from sqlite_utils.migrations import Migrations

from . import __version__
from .batch import (
    Prepared,
    PreparedBatch,
    conflict_reason,
    keying_error,
    prepare,
    safe_flatten,
)
from .flatten import PROJECTION_VERSION, Rows
from .journal import rollback_journal
from .jsonio import canonical, dumps, loads, storable
from .log_rows import (
    count_run,
    existing_payloads,
    insert_delivery,
    insert_raw,
    insert_rejects,
)
from .model import BatchResult, Cursor, Delivery, Incoming, SourceKind
from .phones import (
    CALLING_CODES,
    NANP_AREA_CODES,
)
from .projections import write_projections
from .projector import (
    DEFAULT_CHUNK,
    clear_queue,
    create_queue,
    enqueue,
    pending,
    project_flattened,
    project_queued,
)
from .schema import (
    INDEXES,
    PAGE_SIZE,
    create_indexes,
    create_projection_tables,
    create_views,
    drop_indexes,
    drop_projections,
    ensure_db_shape,
    load_calling_codes,
    view_sql,
)
from .staging import STAGE, StagedChunk, archived_twins, copy_chunk
from .walgate import WalBound, wal_limit_from_env

log = logging.getLogger(__name__)

MIGRATIONS = Migrations("okta_calls")


# The longest a checkpoint may keep other writers waiting (a hook delivery has 3 s in all).
CHECKPOINT_WAIT = 0.25
# The WAL's hard bound. Readers that overlap without a pause (a busy Datasette) keep every checkpoint from
# restarting the WAL, so it would grow without end; past this size the writer that just committed holds new
# Datasette queries back and waits for the running ones, without keeping other writers out, then restarts the
# WAL (okta_calls.walgate). Datasette's time limit bounds that wait.
WAL_LIMIT = 512 << 20  # OKTA_CALLS_WAL_LIMIT_MB overrides it (okta_calls.walgate)
WAL_LIMIT_WAIT = 5.0  # seconds readers are held at the gate, at most, for the queries running to finish
WAL_LIMIT_RETRY = 10.0  # seconds before trying again when the readers did not let go in time


class ArchiveError(Exception):
    """The archive could not do what was asked; ``str()`` is one line naming the file and the cause."""


class ArchiveBusy(ArchiveError):
    """Another writer held the database beyond the busy timeout. Nothing was written; try again."""




def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@MIGRATIONS()
def m001_archive(db: sqlite_utils.Database) -> None:
    """The first schema: the log tables, the projections, their indexes and the views."""
    ensure_db_shape(db.conn)


@MIGRATIONS()
def m002_projection_queue(db: sqlite_utils.Database) -> None:
    """Raw events whose projection is deferred (``okta-calls receive``; see ``okta_calls.projector``)."""
    create_queue(db.conn)


class Archive:
    """An okta-calls archive file. Open it, ``start_run``, ``append`` batches, ``finish_run``, ``close``.

    One ``Archive`` is one connection: use it from one thread at a time (the hook receiver funnels its
    writes through a single worker thread).
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0, catch_up: bool = True) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
        # None: this connection leaves the bound to someone else (``receive``'s checkpoint thread)
        self.wal_limit: int | None = wal_limit_from_env(WAL_LIMIT)
        # When set, BEGIN IMMEDIATE polls for the write lock every ``lock_poll`` s (up to ``timeout``) instead of
        # SQLite's busy handler, whose sleeps grow to 25-100 ms: the receiver, whose projector child takes the
        # lock for a few ms at a time, then gets it within a fraction of a millisecond of its release.
        self.lock_poll: float | None = None
        self._wal_bound = WalBound(self.path, retry=WAL_LIMIT_RETRY)
        is_new = self.path == ":memory:" or not os.path.exists(self.path) or os.path.getsize(self.path) == 0
        try:
            self.conn = sqlite3.connect(
                self.path, timeout=timeout, isolation_level=None, check_same_thread=False
            )
            if is_new:
                self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
            if self.path != ":memory:":
                self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            # Checkpoint every 64 MiB of WAL rather than 16: fewer fsyncs while ingesting, still bounded.
            self.conn.execute("PRAGMA wal_autocheckpoint = 4096")
            self.conn.execute("PRAGMA cache_size = -65536")
            self.db = sqlite_utils.Database(self.conn)
            self._migrate()
        except sqlite3.DatabaseError as error:
            raise self._error(error, "cannot open the archive") from None
        if catch_up:
            self.catch_up()

    # -- life cycle ---------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        if MIGRATIONS.pending(self.db):
            # Under our own write lock, so two processes opening a new file never both migrate it.
            with self._transaction():
                if MIGRATIONS.pending(self.db):
                    log.info("%s: applying schema migrations", self.path)
                    MIGRATIONS.apply(self.db)
        shape = self.conn.execute("SELECT type, name, sql FROM sqlite_master WHERE type IN ('view', 'index')").fetchall()
        current = {name: sql for kind, name, sql in shape if kind == "view"}
        wanted = view_sql()
        needs_views = any(name not in current or select not in current[name] for name, select in wanted.items())
        # Indexes declared since the archive was made (or dropped by hand) are created on open.
        have = {name for kind, name, _ in shape if kind == "index"}
        needs_indexes = any(index.name not in have for index in INDEXES)
        needs_codes = self.meta("calling_codes_count") != str(len(CALLING_CODES) + len(NANP_AREA_CODES))
        needs_version = self.meta("projection_version") is None
        if needs_views or needs_codes or needs_version or needs_indexes:
            with self._transaction():
                if needs_indexes:
                    log.info("%s: creating missing indexes", self.path)
                    create_indexes(self.conn)
                if needs_views:
                    create_views(self.conn)
                if needs_codes:
                    self._set_meta("calling_codes_count", str(load_calling_codes(self.conn)))
                if needs_version and self.conn.execute("SELECT count(*) FROM raw_events").fetchone()[0] == 0:
                    self._set_meta("projection_version", str(PROJECTION_VERSION))

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Archive:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM archive_meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO archive_meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def projections_stale(self) -> bool:
        """True when the projections were built by another flattening version and need ``rebuild``."""
        return self.meta("projection_version") != str(PROJECTION_VERSION)

    # -- transactions -------------------------------------------------------------------------------------

    def _error(self, error: sqlite3.Error, doing: str) -> ArchiveError:
        message = str(error)
        if "locked" in message or "busy" in message:
            return ArchiveBusy(f"{self.path}: {doing}: the database stayed locked for {self.timeout:g}s ({message})")
        if "full" in message:
            return ArchiveError(f"{self.path}: {doing}: the disk is full ({message}); nothing was written")
        if "readonly" in message or "read-only" in message:
            return ArchiveError(f"{self.path}: {doing}: the database is read-only ({message})")
        return ArchiveError(f"{self.path}: {doing}: {message}")

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Group several ``write``/``append`` calls into one commit, for bulk loads.

        At scale most of a commit's cost is the index pages it dirties, and a bigger transaction dirties each
        page once for more events. Everything inside commits together or not at all.
        """
        with self._transaction():
            yield

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; roll back on any exception; SQLite errors become ArchiveError.

        Inside ``transaction()`` it joins that transaction: a failure rolls back the whole group. (Not a
        savepoint: SQLite would then copy every page a batch touches into a statement journal.)"""
        if self.conn.in_transaction:
            try:
                yield
            except sqlite3.Error as error:
                raise self._error(error, "write failed") from None
            return
        try:
            self._begin()
        except sqlite3.Error as error:
            raise self._error(error, "cannot start a write") from None
        try:
            yield
            self._commit()
        except BaseException as error:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            if isinstance(error, sqlite3.Error):
                raise self._error(error, "write failed") from None
            raise

    def _begin(self) -> None:
        """``BEGIN IMMEDIATE``: with SQLite's busy handler, or polling every ``lock_poll`` s (see ``__init__``)."""
        if self.lock_poll is None:
            self.conn.execute("BEGIN IMMEDIATE")
            return
        deadline = time.monotonic() + self.timeout
        self.conn.execute("PRAGMA busy_timeout = 0")
        try:
            while True:
                try:
                    self.conn.execute("BEGIN IMMEDIATE")
                    return
                except sqlite3.OperationalError as error:
                    if "locked" not in str(error) and "busy" not in str(error) or time.monotonic() >= deadline:
                        raise
                time.sleep(self.lock_poll)
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")

    def _commit(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.conn.execute("COMMIT")
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._bound_wal()

    def _bound_wal(self) -> None:
        """After a commit: when the WAL has outgrown ``wal_limit``, hold Datasette's readers back at the gate
        until the queries running have finished, and restart it (``okta_calls.walgate``)."""
        if self.path != ":memory:":
            self._wal_bound.check(self.conn, self.wal_limit, drain=WAL_LIMIT_WAIT)

    # -- runs and cursors ---------------------------------------------------------------------------------

    def start_run(self, kind: SourceKind, sources: Sequence[str]) -> int:
        """Record the start of an import; returns its id for ``append`` and ``finish_run``."""
        with self._transaction():
            cursor = self.conn.execute(
                "INSERT INTO ingest_runs (started_at, source_kind, sources, tool_version) VALUES (?, ?, ?, ?)",
                (utcnow(), kind, dumps(list(sources)), __version__),
            )
        return int(cursor.lastrowid or 0)

    def finish_run(self, run_id: int, status: str = "ok", error: str | None = None) -> None:
        with self._transaction():
            self.conn.execute(
                "UPDATE ingest_runs SET finished_at = ?, status = ?, error = ? WHERE id = ?",
                (utcnow(), status, error, run_id),
            )

    def run(self, run_id: int) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM ingest_runs WHERE id = ?", (run_id,))
        names = [d[0] for d in row.description]
        values = row.fetchone()
        return dict(zip(names, values)) if values else {}

    def get_cursor(self, org: str, query: str) -> str | None:
        row = self.conn.execute("SELECT next_url FROM sync_state WHERE org = ? AND query = ?", (org, query)).fetchone()
        return row[0] if row else None

    # -- the write path -----------------------------------------------------------------------------------

    def append(
        self,
        items: Sequence[Incoming],
        *,
        run_id: int,
        kind: SourceKind,
        cursor: Cursor | None = None,
        delivery: Delivery | None = None,
        project: bool = True,
    ) -> BatchResult:
        """Archive a batch in one transaction; see the module docstring. Returns what happened.

        ``project=False`` commits the log only and queues the new events for ``project_pending`` (the
        receiver's fast path, ``okta_calls.projector``)."""
        batch = prepare(items, flatten=project)
        return self.write(batch, run_id=run_id, kind=kind, cursor=cursor, delivery=delivery, project=project)

    def write(
        self,
        batch: PreparedBatch,
        *,
        run_id: int,
        kind: SourceKind,
        cursor: Cursor | None = None,
        delivery: Delivery | None = None,
        project: bool = True,
    ) -> BatchResult:
        """Commit a batch made by ``prepare`` (which may run in another thread) in one transaction."""
        result = BatchResult(seen=batch.seen, duplicates=batch.duplicates)
        rejects = list(batch.rejects)
        now = utcnow()
        with self._transaction():
            existing = existing_payloads(self.conn, list(batch.candidates))
            new: list[Prepared] = []
            for uuid, prepared in batch.candidates.items():
                archived = existing.get(uuid)
                if archived is None:
                    new.append(prepared)
                elif canonical(loads(archived)) == canonical(loads(prepared.payload)):
                    result.duplicates += 1
                else:
                    rejects.append((prepared.as_incoming(), uuid, conflict_reason(uuid)))
            result.inserted = len(new)
            result.rejected = len(rejects)
            if new:
                self._insert_new(new, run_id=run_id, kind=kind, now=now, project=project)
            if rejects:
                insert_rejects(self.conn, rejects, run_id=run_id, kind=kind, now=now)
            if delivery is not None:
                insert_delivery(self.conn, delivery, batch.positions, run_id=run_id, kind=kind, now=now)
            if cursor is not None:
                self.conn.execute(
                    "INSERT INTO sync_state (org, query, next_url, updated_at, ingest_run) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(org, query) DO UPDATE SET next_url = excluded.next_url, "
                    "updated_at = excluded.updated_at, ingest_run = excluded.ingest_run",
                    (cursor.org, cursor.query, cursor.next_url, now, run_id),
                )
            count_run(self.conn, result, run_id)
        return result

    def write_staged(self, chunk: StagedChunk, *, run_id: int, kind: SourceKind) -> BatchResult:
        """Commit a chunk a reader process staged in a file of its own (``okta_calls.staging``), in one
        transaction: the same outcome as ``write`` of the same events, with SQLite copying the rows."""
        result = BatchResult(seen=chunk.seen, duplicates=chunk.duplicates)
        rejects = list(chunk.rejects)
        try:
            self.conn.execute(f"ATTACH DATABASE ? AS {STAGE}", (chunk.path,))
            # Only read, but BEGIN IMMEDIATE opens a write transaction on it too: without a journal, a commit in
            # rollback-journal mode (okta_calls.journal) needs no super-journal file and its extra syncs.
            self.conn.execute(f"PRAGMA {STAGE}.journal_mode = OFF")
        except sqlite3.Error as error:
            raise self._error(error, f"cannot read the staged chunk {chunk.path}") from None
        try:
            with self._transaction():
                now = utcnow()
                skip = []
                for sid, uuid, payload, archived, ref, line in archived_twins(self.conn):
                    skip.append(sid)
                    if canonical(loads(archived)) == canonical(loads(payload)):
                        result.duplicates += 1
                    else:
                        rejects.append((Incoming(loads(payload), payload, ref, line), uuid, conflict_reason(uuid)))
                result.inserted = chunk.staged - len(skip)
                result.rejected = len(rejects)
                if result.inserted:
                    base = self.conn.execute("SELECT coalesce(max(id), 0) FROM raw_events").fetchone()[0]
                    copy_chunk(self.conn, base=base, run_id=run_id, kind=kind, now=now, skip=skip)
                if rejects:
                    insert_rejects(self.conn, rejects, run_id=run_id, kind=kind, now=now)
                count_run(self.conn, result, run_id)
        finally:
            self.conn.execute(f"DETACH DATABASE {STAGE}")
        return result

    def _insert_new(self, new: list[Prepared], *, run_id: int, kind: str, now: str, project: bool = True) -> None:
        next_id = insert_raw(self.conn, new, run_id=run_id, kind=kind, now=now)
        if project:
            self._project(enumerate((prepared.rows for prepared in new), start=next_id))
        else:
            enqueue(self.conn, range(next_id, next_id + len(new)))

    def _project(self, events: Iterable[tuple[int, Rows]]) -> None:
        """Insert the projection rows of already-archived events (in raw id order)."""
        write_projections(self.conn, events)

    # -- rebuild ------------------------------------------------------------------------------------------

    def rebuild(self, *, batch_size: int = 5000, on_progress: Callable[[int], None] | None = None) -> int:
        """Drop every projection and derive it again from ``raw_events``, in one transaction.

        Returns the number of events projected. Indexes are created after the bulk insert (faster).
        """
        total = 0
        with self._transaction():
            drop_projections(self.conn)
            create_projection_tables(self.conn)
            clear_queue(self.conn)  # every raw event is projected below
            reader = self.conn.cursor()
            reader.execute("SELECT id, payload FROM raw_events ORDER BY id")
            while True:
                rows = reader.fetchmany(batch_size)
                if not rows:
                    break
                self._project((raw_id, safe_flatten(_decode_archived(payload))) for raw_id, payload in rows)
                total += len(rows)
                if on_progress is not None:
                    on_progress(len(rows))
            create_indexes(self.conn, projection=True)
            create_views(self.conn)
            self._set_meta("projection_version", str(PROJECTION_VERSION))
        return total

    @contextmanager
    def bulk_load(self) -> Iterator[None]:
        """Drop the indexes with scattered keys for the duration of a large import and build them once after.

        Maintaining them costs a page write per distinct key per commit; building them at the end is one sorted
        pass. If the process dies in between, the next ``Archive`` open builds them (missing indexes are created
        on open). Queries in the meantime are correct, only slower. When no other connection has the archive
        open, it is written through a rollback journal meanwhile (``okta_calls.journal``).
        """
        scattered = [index for index in INDEXES if index.scattered]
        with rollback_journal(self.conn, self.path):
            with self._transaction():
                drop_indexes(self.conn, scattered)
            try:
                yield
            finally:
                started = time.monotonic()
                with self._transaction():
                    create_indexes(self.conn)
                log.info("%s: built %d indexes in %.1f s", self.path, len(scattered), time.monotonic() - started)

    # -- deferred projection (okta_calls.projector) -----------------------------------------------------

    def project_pending(self, limit: int = DEFAULT_CHUNK) -> int:
        """Project up to ``limit`` queued events in one transaction; returns how many left the queue."""
        with self._transaction():
            return project_queued(self.conn, limit)

    def project_rows(self, events: Sequence[tuple[int, Rows]]) -> int:
        """Project those of ``events`` (flattened before, outside any transaction) that are still queued, in
        one transaction; returns how many left the queue (see ``projector.project_flattened``)."""
        with self._transaction():
            return project_flattened(self.conn, events)

    def pending_projections(self) -> int:
        """How many raw events are archived but not yet projected (``projection_queue``)."""
        return pending(self.conn)

    def catch_up(self, chunk: int = 5000) -> int:
        """Project whatever is queued (a receiver killed before its projector ran); returns how many.

        Run on every open. When the archive is read-only or another writer holds it, the events stay queued
        (a warning says so) and the archive opens anyway.
        """
        total = 0
        try:
            while self.pending_projections():
                total += self.project_pending(chunk)
        except (ArchiveError, sqlite3.Error) as error:
            log.warning("%s: queued events left unprojected for now: %s", self.path, error)
        if total:
            log.info("%s: projected %d queued events", self.path, total)
        return total

    def checkpoint(self, *, wait: float = CHECKPOINT_WAIT) -> bool:
        """Fold the WAL back into the database file and truncate it (call when idle; readers can starve it).

        While a TRUNCATE checkpoint waits for readers of older snapshots it keeps every other writer out, so
        it waits at most ``wait`` seconds: a live ``receive`` must not miss Okta's deadline behind it. When the
        readers do not let it finish in time it still copies what it can, as a passive checkpoint does, and
        returns False (the next idle moment tries again).
        """
        try:
            self.conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            try:
                busy = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
            finally:
                self.conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
        except sqlite3.Error as error:
            log.warning("%s: checkpoint failed: %s", self.path, error)
            return False
        return busy == 0

    def counts(self) -> dict[str, int]:
        tables = ("raw_events", "events", "rejects", "deliveries", "actors", "users", "phones")
        return {table: self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables}


def _decode_archived(payload: str) -> dict[str, Any]:
    value = loads(payload)
    return storable(value)[1]


__all__ = ["Archive", "ArchiveBusy", "ArchiveError", "PreparedBatch", "keying_error", "prepare"]
