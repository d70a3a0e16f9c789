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
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

import sqlite_utils
from sqlite_utils.migrations import Migrations

from . import __version__
from .flatten import (
    DEBUG_COLUMNS,
    EVENT_COLUMNS,
    IP_CHAIN_COLUMNS,
    PROJECTION_VERSION,
    SEARCH_COLUMNS,
    TARGET_COLUMNS,
    Entity,
    FlatEvent,
    flatten_event,
    normalize_published,
)
from .jsonio import JSONError, canonical, dumps, loads, storable
from .model import BatchResult, Cursor, Delivery, Incoming, SourceKind
from .phones import CALLING_CODES, is_high_cost_destination
from .schema import (
    PAGE_SIZE,
    create_indexes,
    create_log_tables,
    create_projection_tables,
    create_views,
    drop_projections,
    view_sql,
)

log = logging.getLogger(__name__)

MIGRATIONS = Migrations("okta_calls")
MAX_REJECT_RAW = 1 << 20  # keep at most 1 MiB of a rejected item's text


class ArchiveError(Exception):
    """The archive could not do what was asked; ``str()`` is one line naming the file and the cause."""


class ArchiveBusy(ArchiveError):
    """Another writer held the database beyond the busy timeout. Nothing was written; try again."""


def utcnow() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@MIGRATIONS()
def m001_archive(db: sqlite_utils.Database) -> None:
    """The first schema: the log tables, the projections and their indexes."""
    create_log_tables(db.conn)
    create_projection_tables(db.conn)
    create_indexes(db.conn)


def keying_error(item: Incoming) -> str | None:
    """Why ``item`` cannot be archived (it cannot be keyed by a uuid), or ``None`` when it can."""
    if item.error is not None:
        return f"not JSON: {item.error}"
    event = item.event
    if not isinstance(event, dict):
        return f"not a JSON object (got {_json_kind(event)})"
    uuid = event.get("uuid", _MISSING)
    if uuid is _MISSING:
        return "no uuid field"
    if not isinstance(uuid, str):
        return f"uuid is not a string (got {_json_kind(uuid)})"
    if not uuid.strip():
        return "uuid is empty"
    return None


_MISSING = object()


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


@dataclass(slots=True)
class _Seen:
    """An entity merged over several events: newest fields win, first/last seen, count."""

    entity: Entity
    first_seen: str | None
    count: int

    def merge(self, other: Entity) -> None:
        if other.seen is not None and (self.first_seen is None or other.seen < self.first_seen):
            self.first_seen = other.seen
        if ((other.seen or ""), other.uuid) > ((self.entity.seen or ""), self.entity.uuid):
            self.entity = other
        self.count += 1


@dataclass(slots=True)
class Prepared:
    """A keyed event ready to write: its payload text, provenance and projection rows (not the parsed event,
    which would double the memory a batch holds)."""

    payload: str
    ref: str
    line: int | None
    event_type: str | None
    flat: FlatEvent

    def as_incoming(self) -> Incoming:
        return Incoming(loads(self.payload), self.payload, self.ref, self.line)


@dataclass(slots=True)
class PreparedBatch:
    """The CPU half of ``Archive.append``: keyed, serialised and flattened, not yet checked against the DB."""

    seen: int
    duplicates: int
    rejects: list[tuple[Incoming, str | None, str]]
    candidates: dict[str, Prepared]
    positions: list[tuple[int, str]]


def prepare(items: Sequence[Incoming]) -> PreparedBatch:
    """Key, serialise and flatten a batch. Pure: no database, so it can run in a worker thread while the
    previous batch is being written."""
    rejects: list[tuple[Incoming, str | None, str]] = []
    candidates: dict[str, Prepared] = {}
    positions: list[tuple[int, str]] = []
    duplicates = 0
    for position, item in enumerate(items, start=1):
        reason = keying_error(item)
        if reason is not None:
            rejects.append((item, None, reason))
            continue
        uuid = item.event["uuid"]
        positions.append((item.line or position, uuid))
        earlier = candidates.get(uuid)
        if earlier is None:
            payload, safe_event = storable(item.event)
            event_type = _scalar_text(safe_event.get("eventType"))
            candidates[uuid] = Prepared(payload, item.ref, item.line, event_type, safe_flatten(safe_event))
        elif canonical(loads(earlier.payload)) == canonical(item.event):
            duplicates += 1
        else:
            rejects.append((item, uuid, _conflict(uuid)))
    return PreparedBatch(len(items), duplicates, rejects, candidates, positions)


def safe_flatten(event: dict[str, Any]) -> FlatEvent:
    """``flatten_event``, except that a flattening bug gives a minimal row instead of losing the event."""
    try:
        return flatten_event(event)
    except Exception:
        log.exception("could not flatten event %s; it is archived, its projection is minimal", event.get("uuid"))
        return _minimal(event)


def _upsert_sql(table: str, key: str, extra: Sequence[str]) -> str:
    newer = (
        f"(coalesce(excluded.last_seen, ''), excluded.last_uuid) > "
        f"(coalesce({table}.last_seen, ''), {table}.last_uuid)"
    )
    latest = ["type", "alternate_id", "display_name", *extra]
    columns = [key, *latest, "first_seen", "last_seen", "event_count", "last_uuid"]
    sets = [f"{c} = CASE WHEN {newer} THEN excluded.{c} ELSE {table}.{c} END" for c in latest]
    sets.append(
        f"first_seen = CASE WHEN {table}.first_seen IS NULL OR excluded.first_seen < {table}.first_seen "
        f"THEN excluded.first_seen ELSE {table}.first_seen END"
    )
    sets.append(f"event_count = {table}.event_count + excluded.event_count")
    # last_seen/last_uuid last: the CASEs above compare against the old values.
    sets.append(f"last_seen = CASE WHEN {newer} THEN excluded.last_seen ELSE {table}.last_seen END")
    sets.append(f"last_uuid = CASE WHEN {newer} THEN excluded.last_uuid ELSE {table}.last_uuid END")
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}) "
        f"ON CONFLICT({key}) DO UPDATE SET {', '.join(sets)}"
    )


_PHONE_EXTRA = ("phone_id", "country_calling_code", "phone_country")
_SQL = {
    "events": f"INSERT INTO events (id, {', '.join(EVENT_COLUMNS)}) VALUES (?{', ?' * len(EVENT_COLUMNS)})",
    "targets": f"INSERT INTO targets (event_id, {', '.join(TARGET_COLUMNS)}) VALUES (?{', ?' * len(TARGET_COLUMNS)})",
    "debug_data": f"INSERT INTO debug_data (event_id, {', '.join(DEBUG_COLUMNS)}) VALUES (?{', ?' * len(DEBUG_COLUMNS)})",
    "ip_chain": f"INSERT INTO ip_chain (event_id, {', '.join(IP_CHAIN_COLUMNS)}) VALUES (?{', ?' * len(IP_CHAIN_COLUMNS)})",
    "events_fts": f"INSERT INTO events_fts (rowid, {', '.join(SEARCH_COLUMNS)}) VALUES (?{', ?' * len(SEARCH_COLUMNS)})",
    "actors": _upsert_sql("actors", "id", ()),
    "users": _upsert_sql("users", "id", ()),
    "phones": _upsert_sql("phones", "phone_number", _PHONE_EXTRA),
    "raw": (
        "INSERT INTO raw_events (id, uuid, published, event_type, payload, first_seen_at, source_kind, "
        "source_ref, source_line, ingest_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "reject": (
        "INSERT INTO rejects (ingest_run, rejected_at, source_kind, source_ref, line, uuid, reason, raw) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ),
}


def _dimension_row(seen: _Seen, extra: Sequence[str]) -> tuple[Any, ...]:
    entity = seen.entity
    return (
        entity.key,
        entity.type,
        entity.alternate_id,
        entity.display_name,
        *(entity.id if name == "phone_id" else entity.extra.get(name) for name in extra),
        seen.first_seen,
        entity.seen,
        seen.count,
        entity.uuid,
    )


class Archive:
    """An okta-calls archive file. Open it, ``start_run``, ``append`` batches, ``finish_run``, ``close``.

    One ``Archive`` is one connection: use it from one thread at a time (the hook receiver funnels its
    writes through a single worker thread).
    """

    def __init__(self, path: str | os.PathLike[str], *, timeout: float = 30.0) -> None:
        self.path = os.fspath(path)
        self.timeout = timeout
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
            self.conn.execute("PRAGMA temp_store = MEMORY")
            self.db = sqlite_utils.Database(self.conn)
            self._migrate()
        except sqlite3.DatabaseError as error:
            raise self._error(error, "cannot open the archive") from None

    # -- life cycle ---------------------------------------------------------------------------------------

    def _migrate(self) -> None:
        if MIGRATIONS.pending(self.db):
            # Under our own write lock, so two processes opening a new file never both migrate it.
            with self._transaction():
                if MIGRATIONS.pending(self.db):
                    log.info("%s: applying schema migrations", self.path)
                    MIGRATIONS.apply(self.db)
        current = {row[0]: row[1] for row in self.conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'")}
        wanted = view_sql()
        needs_views = any(name not in current or select not in current[name] for name, select in wanted.items())
        needs_codes = self.meta("calling_codes_count") != str(len(CALLING_CODES))
        needs_version = self.meta("projection_version") is None
        if needs_views or needs_codes or needs_version:
            with self._transaction():
                if needs_views:
                    create_views(self.conn)
                if needs_codes:
                    self._load_calling_codes()
                if needs_version and self.conn.execute("SELECT count(*) FROM raw_events").fetchone()[0] == 0:
                    self._set_meta("projection_version", str(PROJECTION_VERSION))

    def _load_calling_codes(self) -> None:
        self.conn.execute("DELETE FROM calling_codes")
        rows = []
        for code, (iso2, name) in sorted(CALLING_CODES.items()):
            rows.append((code, iso2, name, int(bool(iso2) and is_high_cost_destination(iso2))))
        self.conn.executemany("INSERT INTO calling_codes (code, iso2, country, high_cost) VALUES (?, ?, ?, ?)", rows)
        self._set_meta("calling_codes_count", str(len(CALLING_CODES)))

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
    def _transaction(self) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT``; roll back on any exception; SQLite errors become ArchiveError."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
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

    def _commit(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.conn.execute("COMMIT")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) and "busy" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

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
    ) -> BatchResult:
        """Archive a batch in one transaction; see the module docstring. Returns what happened."""
        return self.write(prepare(items), run_id=run_id, kind=kind, cursor=cursor, delivery=delivery)

    def write(
        self,
        batch: PreparedBatch,
        *,
        run_id: int,
        kind: SourceKind,
        cursor: Cursor | None = None,
        delivery: Delivery | None = None,
    ) -> BatchResult:
        """Commit a batch made by ``prepare`` (which may run in another thread) in one transaction."""
        result = BatchResult(seen=batch.seen, duplicates=batch.duplicates)
        rejects = list(batch.rejects)
        now = utcnow()
        with self._transaction():
            existing = self._existing(list(batch.candidates))
            new: list[Prepared] = []
            for uuid, prepared in batch.candidates.items():
                archived = existing.get(uuid)
                if archived is None:
                    new.append(prepared)
                elif canonical(loads(archived)) == canonical(loads(prepared.payload)):
                    result.duplicates += 1
                else:
                    rejects.append((prepared.as_incoming(), uuid, _conflict(uuid)))
            result.inserted = len(new)
            result.rejected = len(rejects)
            if new:
                self._insert_new(new, run_id=run_id, kind=kind, now=now)
            if rejects:
                self._insert_rejects(rejects, run_id=run_id, kind=kind, now=now)
            if delivery is not None:
                self._insert_delivery(delivery, batch.positions, run_id=run_id, kind=kind, now=now)
            if cursor is not None:
                self.conn.execute(
                    "INSERT INTO sync_state (org, query, next_url, updated_at, ingest_run) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT(org, query) DO UPDATE SET next_url = excluded.next_url, "
                    "updated_at = excluded.updated_at, ingest_run = excluded.ingest_run",
                    (cursor.org, cursor.query, cursor.next_url, now, run_id),
                )
            self.conn.execute(
                "UPDATE ingest_runs SET seen = seen + ?, inserted = inserted + ?, duplicates = duplicates + ?, "
                "rejected = rejected + ? WHERE id = ?",
                (result.seen, result.inserted, result.duplicates, result.rejected, run_id),
            )
        return result

    def _existing(self, uuids: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for start in range(0, len(uuids), 500):
            chunk = uuids[start : start + 500]
            sql = f"SELECT uuid, payload FROM raw_events WHERE uuid IN ({', '.join('?' * len(chunk))})"
            found.update(self.conn.execute(sql, chunk).fetchall())
        return found

    def _insert_new(self, new: list[Prepared], *, run_id: int, kind: str, now: str) -> None:
        next_id = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM raw_events").fetchone()[0]
        raw_rows = []
        for raw_id, prepared in enumerate(new, start=next_id):
            flat = prepared.flat
            raw_rows.append(
                (
                    raw_id,
                    flat.event["uuid"],
                    flat.event["published"],
                    prepared.event_type,
                    prepared.payload,
                    now,
                    kind,
                    prepared.ref,
                    prepared.line,
                    run_id,
                )
            )
        self.conn.executemany(_SQL["raw"], raw_rows)
        self._project(enumerate((prepared.flat for prepared in new), start=next_id))

    def _project(self, flats: Iterable[tuple[int, FlatEvent]]) -> None:
        """Insert the projection rows of already-archived events (in raw id order)."""
        event_rows: list[tuple[Any, ...]] = []
        target_rows: list[tuple[Any, ...]] = []
        debug_rows: list[tuple[Any, ...]] = []
        chain_rows: list[tuple[Any, ...]] = []
        search_rows: list[tuple[Any, ...]] = []
        dimensions: dict[str, dict[str, _Seen]] = {"actors": {}, "users": {}, "phones": {}}
        for raw_id, flat in flats:
            event_rows.append((raw_id, *flat.event_row()))
            target_rows.extend((raw_id, *row) for row in flat.targets)
            debug_rows.extend((raw_id, *row) for row in flat.debug_data)
            chain_rows.extend((raw_id, *row) for row in flat.ip_chain)
            search_rows.append((raw_id, *flat.search))
            for table, entity in (("actors", flat.actor), ("users", flat.user), ("phones", flat.phone)):
                if entity is None:
                    continue
                seen = dimensions[table].get(entity.key)
                if seen is None:
                    dimensions[table][entity.key] = _Seen(entity, entity.seen, 1)
                else:
                    seen.merge(entity)
        execute = self.conn.executemany
        execute(_SQL["events"], event_rows)
        execute(_SQL["targets"], target_rows)
        execute(_SQL["debug_data"], debug_rows)
        execute(_SQL["ip_chain"], chain_rows)
        execute(_SQL["events_fts"], search_rows)
        for table, merged in dimensions.items():
            extra = _PHONE_EXTRA if table == "phones" else ()
            execute(_SQL[table], [_dimension_row(seen, extra) for seen in merged.values()])

    def _insert_rejects(
        self, rejects: list[tuple[Incoming, str | None, str]], *, run_id: int, kind: str, now: str
    ) -> None:
        rows = []
        for item, uuid, reason in rejects:
            raw = item.raw if item.raw is not None else (dumps(item.event) if item.error is None else None)
            if raw is not None and len(raw) > MAX_REJECT_RAW:
                reason = f"{reason} (raw text truncated from {len(raw)} characters)"
                raw = raw[:MAX_REJECT_RAW]
            if raw is not None:
                raw = raw.encode("utf-8", "replace").decode("utf-8")
            rows.append((run_id, now, kind, item.ref, item.line, uuid, reason, raw))
        self.conn.executemany(_SQL["reject"], rows)

    def _insert_delivery(
        self, delivery: Delivery, positions: list[tuple[int, str]], *, run_id: int, kind: str, now: str
    ) -> None:
        cursor = self.conn.execute(
            "INSERT INTO deliveries (event_id, event_time, source, event_type, event_type_version, "
            "cloud_events_version, content_type, headers, extra, event_count, received_at, source_kind, ingest_run) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(event_id) DO NOTHING",
            (
                delivery.event_id,
                delivery.event_time,
                delivery.source,
                delivery.event_type,
                delivery.event_type_version,
                delivery.cloud_events_version,
                delivery.content_type,
                dumps(delivery.headers) if delivery.headers is not None else None,
                dumps(delivery.extra) if delivery.extra else None,
                len(positions),
                now,
                kind,
                run_id,
            ),
        )
        if cursor.rowcount:
            self.conn.executemany(
                "INSERT OR IGNORE INTO delivery_events (event_id, position, uuid) VALUES (?, ?, ?)",
                [(delivery.event_id, position, uuid) for position, uuid in positions],
            )

    # -- rebuild ------------------------------------------------------------------------------------------

    def rebuild(self, *, batch_size: int = 5000, on_progress: Callable[[int], None] | None = None) -> int:
        """Drop every projection and derive it again from ``raw_events``, in one transaction.

        Returns the number of events projected. Indexes are created after the bulk insert (faster).
        """
        total = 0
        with self._transaction():
            drop_projections(self.conn)
            create_projection_tables(self.conn)
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

    def checkpoint(self) -> None:
        """Fold the WAL back into the database file (call when idle; readers can starve it)."""
        try:
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as error:
            log.warning("%s: checkpoint failed: %s", self.path, error)

    def counts(self) -> dict[str, int]:
        tables = ("raw_events", "events", "rejects", "deliveries", "actors", "users", "phones")
        return {table: self.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] for table in tables}


def _decode_archived(payload: str) -> dict[str, Any]:
    value = loads(payload)
    return storable(value)[1]


def _conflict(uuid: str) -> str:
    return f"uuid {uuid} is already archived with different content; the archived version is kept"


def _scalar_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None if value is None else str(value)


def _minimal(event: dict[str, Any]) -> FlatEvent:
    row = dict.fromkeys(EVENT_COLUMNS)
    row["uuid"] = event["uuid"]
    row["published"] = normalize_published(event.get("published"))
    row["event_type"] = _scalar_text(event.get("eventType"))
    return FlatEvent(row, [], [], [], (None,) * len(SEARCH_COLUMNS), None, None, None)


__all__ = ["Archive", "ArchiveBusy", "ArchiveError", "JSONError", "keying_error"]
