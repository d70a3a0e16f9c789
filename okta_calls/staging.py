"""Staged chunks: how a reader process hands prepared events to the writer without Python objects.

A large file import runs reader processes that parse and flatten (``okta_calls.batch.prepare``) and a writer
that owns the archive. Handing the writer Python rows (pickled through a pipe) made it spend more time
unpickling tuples and binding their values one by one than SQLite spent storing them. So a reader writes each
chunk of prepared events into a small SQLite file of its own (``ChunkBuilder``: no indexes, no journal), and
the writer attaches that file and copies it into the archive with one ``INSERT ... SELECT`` per table
(``copy_chunk``): SQLite moves the records itself and the writer touches no row in Python.

A staged file holds, keyed by ``sid`` (the event's position in the chunk, from 1):
``events`` (one wide row per event: its payload, ref, line, ``events`` row, search row and debugData rows packed
as one JSON object, see ``pack_debug``), ``targets``, ``debug_data`` (the debugData rows that cannot be
packed) and ``ip_chain`` (the projection rows of ``okta_calls.flatten.Rows``), and ``actors``,
``users``, ``phones``: the chunk's entities already merged by the reader (``projections.Dimensions``), which
the writer upserts. New events get consecutive archive ids after the archive's last one, so a staged import
and an in-process import make the same archive (tests/test_ingest_staged.py).

Staged files are scratch: the writer deletes each one once it is copied, and the import's staging folder
when it ends; a folder left by a killed import is removed by the next import (``stale_folders``).
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from .batch import PreparedBatch, conflict_reason, safe_flatten
from .flatten import DEBUG_COLUMNS, EVENT_COLUMNS, IP_CHAIN_COLUMNS, SEARCH_COLUMNS, TARGET_COLUMNS
from .jsonio import canonical, loads, storable
from .model import Incoming
from .projections import PHONE_EXTRA, Dimensions, dimension_upsert_sql

log = logging.getLogger(__name__)

STAGE = "stage"  # the schema name the writer attaches a staged file under
_DIMENSION_EXTRA: dict[str, tuple[str, ...]] = {"actors": (), "users": (), "phones": PHONE_EXTRA}
_DIMENSION_KEYS = {"actors": "id", "users": "id", "phones": "phone_number"}
DIMENSION_STAGE: dict[str, tuple[str, ...]] = {  # a chunk's merged entities: dimension_upsert_sql's columns
    table: ("key", "type", "alternate_id", "display_name", *extra, "first_seen", "last_seen", "event_count", "last_uuid")
    for table, extra in _DIMENSION_EXTRA.items()
}
# One wide row per event: its raw log columns, its events row and its search row (one executemany row per
# event is what keeps the reader's share small); child tables have rows of their own.
EVENT_STAGE: tuple[str, ...] = (
    "payload",
    "ref",
    "line",
    "raw_event_type",
    *EVENT_COLUMNS,
    *(f"s_{column}" for column in SEARCH_COLUMNS),
    "debug",
)
CHILDREN: dict[str, tuple[str, ...]] = {
    "targets": TARGET_COLUMNS,
    "debug_data": DEBUG_COLUMNS,
    "ip_chain": IP_CHAIN_COLUMNS,
}
FOLDER_PREFIX = "okta-calls-stage-"


def _quoted(columns: tuple[str, ...]) -> str:
    return ", ".join(f'"{column}"' for column in columns)


def _placeholders(count: int) -> str:
    return ", ".join("?" * count)


_CREATE = (
    f"CREATE TABLE events (sid INTEGER PRIMARY KEY, {_quoted(EVENT_STAGE)})",
    *(f"CREATE TABLE {table} (sid INTEGER NOT NULL, {_quoted(columns)})" for table, columns in CHILDREN.items()),
    *(f"CREATE TABLE {table} ({_quoted(columns)})" for table, columns in DIMENSION_STAGE.items()),
)
_INSERT = {
    "events": f"INSERT INTO events VALUES (?, {_placeholders(len(EVENT_STAGE))})",
    **{table: f"INSERT INTO {table} VALUES (?, {_placeholders(len(columns))})" for table, columns in CHILDREN.items()},
    **{table: f"INSERT INTO {table} VALUES ({_placeholders(len(columns))})" for table, columns in DIMENSION_STAGE.items()},
}


def pack_debug(rows: list[tuple[Any, ...]]) -> str | None:
    """An event's debugData rows (key, text or null) as one JSON object, which the writer unpacks with SQLite's
    ``json_each``: one staged value instead of a row per key (the rows cost the reader ~4 us an event, the
    unpacking costs the writer no more than copying rows). ``None`` when there are no rows, or when
    ``json_each`` would not give them back exactly: SQLite 3.40's cuts a string at a NUL character (``\\u0000``
    in the JSON; a literal backslash-u0000 is caught too, harmlessly); those events' rows are staged as rows."""
    if not rows:
        return None
    try:
        packed = orjson.dumps(dict(rows)).decode()
    except (TypeError, orjson.JSONEncodeError):
        return None
    return None if "\\u0000" in packed else packed


@dataclass(slots=True)
class StagedChunk:
    """A staged file and what the reader already knows about its events. Small: this is what is pickled.

    ``staged`` events are in the file; ``seen`` counts every item read, ``duplicates`` those repeated within
    the chunk with the same content, and ``rejects`` the items that could not be keyed or that repeat a uuid
    of the chunk with other content (rare, so they travel as Python objects).
    """

    path: str
    staged: int = 0
    seen: int = 0
    duplicates: int = 0
    rejects: list[tuple[Incoming, str | None, str]] = field(default_factory=list)


class ChunkBuilder:
    """Writes prepared batches into one staged file (reader side). ``finish`` closes it for the writer."""

    def __init__(self, path: str) -> None:
        self.chunk = StagedChunk(path)
        # uuid -> sid, for repeats across the chunk's batches (whose payloads are read back from the file: a chunk
        # of 20,000 events would otherwise hold ~50 MB of payloads)
        self._sids: dict[str, int] = {}
        self._dimensions = Dimensions()  # merged here, so the writer upserts one row per entity, not per event
        self._conn = sqlite3.connect(path, isolation_level=None)
        for pragma in ("journal_mode = OFF", "synchronous = OFF", "page_size = 16384", "cache_size = -32768"):
            self._conn.execute(f"PRAGMA {pragma}")
        self._conn.execute("BEGIN")
        for ddl in _CREATE:
            self._conn.execute(ddl)

    def add(self, batch: PreparedBatch) -> None:
        chunk = self.chunk
        chunk.seen += batch.seen
        chunk.duplicates += batch.duplicates
        chunk.rejects.extend(batch.rejects)
        events: list[tuple[object, ...]] = []
        targets: list[tuple[object, ...]] = []
        debug: list[tuple[object, ...]] = []
        chain: list[tuple[object, ...]] = []
        sid = chunk.staged
        dimensions = self._dimensions
        for uuid, prepared in batch.candidates.items():
            earlier = self._sids.get(uuid)
            if earlier is not None:
                # From an earlier batch (a batch's uuids are distinct), so already in the file.
                (payload,) = self._conn.execute("SELECT payload FROM events WHERE sid = ?", (earlier,)).fetchone()
                if canonical(loads(payload)) == canonical(loads(prepared.payload)):
                    chunk.duplicates += 1
                else:
                    chunk.rejects.append((prepared.as_incoming(), uuid, conflict_reason(uuid)))
                continue
            sid += 1
            self._sids[uuid] = sid
            rows = prepared.rows
            packed = pack_debug(rows.debug_data)
            if packed is None and rows.debug_data:
                debug.extend((sid, *row) for row in rows.debug_data)
            events.append(
                (
                    sid,
                    prepared.payload,
                    prepared.ref,
                    prepared.line,
                    prepared.event_type,
                    *rows.event,
                    *rows.search,
                    packed,
                )
            )
            dimensions.add(rows)
            targets.extend((sid, *row) for row in rows.targets)
            chain.extend((sid, *row) for row in rows.ip_chain)
        chunk.staged = sid
        for table, table_rows in (("events", events), ("targets", targets), ("debug_data", debug), ("ip_chain", chain)):
            if table_rows:
                self._conn.executemany(_INSERT[table], table_rows)

    def finish(self) -> StagedChunk:
        for table, rows in self._dimensions.rows().items():
            self._conn.executemany(_INSERT[table], rows)
        self._conn.execute("COMMIT")
        self._conn.close()
        return self.chunk

    def discard(self) -> None:
        self._conn.close()
        Path(self.chunk.path).unlink(missing_ok=True)


# -- writer side: runs inside the archive's transaction, with the staged file attached as ``stage`` ---------


def archived_twins(conn: sqlite3.Connection) -> list[tuple[int, str, str, str, str, int | None]]:
    """Staged events whose uuid is already archived: ``(sid, uuid, staged payload, archived payload, ref, line)``."""
    return conn.execute(
        f"SELECT s.sid, s.uuid, s.payload, r.payload, s.ref, s.line FROM {STAGE}.events AS s "
        "CROSS JOIN main.raw_events AS r ON r.uuid = s.uuid"  # CROSS JOIN: walk the chunk, probe the archive
    ).fetchall()


def copy_chunk(
    conn: sqlite3.Connection, *, base: int, run_id: int, kind: str, now: str, skip: list[int]
) -> None:
    """Copy the attached staged chunk into the archive, after archive id ``base``, in sid order.

    ``skip`` lists the sids not to copy (already archived); the others get consecutive ids, exactly as an
    in-process import would give them. Must run inside the caller's transaction.
    """
    where = ""
    new_id = "? + s.sid"
    if skip:
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS staged_skip (sid INTEGER PRIMARY KEY)")
        conn.execute("DELETE FROM temp.staged_skip")
        conn.executemany("INSERT INTO temp.staged_skip (sid) VALUES (?)", [(sid,) for sid in skip])
        where = " WHERE s.sid NOT IN temp.staged_skip"
        new_id = "? + s.sid - (SELECT count(*) FROM temp.staged_skip AS k WHERE k.sid < s.sid)"
    events = f"{STAGE}.events AS s{where}"
    conn.execute(
        "INSERT INTO main.raw_events (id, uuid, published, event_type, payload, first_seen_at, source_kind, "
        "source_ref, source_line, ingest_run) "
        f"SELECT {new_id}, uuid, published, raw_event_type, payload, ?, ?, ref, line, ? FROM {events}",
        (base, now, kind, run_id),
    )
    conn.execute(
        f"INSERT INTO main.events (id, {_quoted(EVENT_COLUMNS)}) SELECT {new_id}, {_quoted(EVENT_COLUMNS)} FROM {events}",
        (base,),
    )
    conn.execute(
        f"INSERT INTO main.debug_data (event_id, {_quoted(DEBUG_COLUMNS)}) "
        f"SELECT {new_id}, j.key, j.value FROM {STAGE}.events AS s, json_each(s.debug) AS j{where}",
        (base,),
    )
    for table, columns in CHILDREN.items():
        conn.execute(
            f"INSERT INTO main.{table} (event_id, {_quoted(columns)}) "
            f"SELECT {new_id}, {_quoted(columns)} FROM {STAGE}.{table} AS s{where}",
            (base,),
        )
    search = tuple(f"s_{column}" for column in SEARCH_COLUMNS)
    conn.execute(
        f"INSERT INTO main.events_fts (rowid, {_quoted(SEARCH_COLUMNS)}) SELECT {new_id}, {_quoted(search)} FROM {events}",
        (base,),
    )
    if skip:
        # Some events were archived already: merge the entities of the others (rare: a partial re-import).
        dimensions = Dimensions()
        for (payload,) in conn.execute(f"SELECT payload FROM {events}"):
            dimensions.add(safe_flatten(storable(loads(payload))[1]))
        dimensions.upsert(conn)
        return
    for table, extra in _DIMENSION_EXTRA.items():
        source = f"SELECT * FROM {STAGE}.{table}"
        conn.execute(dimension_upsert_sql(table, _DIMENSION_KEYS[table], extra, source=source))


# -- scratch folders --------------------------------------------------------------------------------------


def make_folder() -> str:
    """A new staging folder for this process's import (in the system temp folder, or ``OKTA_CALLS_STAGING``)."""
    parent = os.environ.get("OKTA_CALLS_STAGING") or tempfile.gettempdir()
    remove_stale_folders(parent)
    return tempfile.mkdtemp(prefix=f"{FOLDER_PREFIX}{os.getpid()}-", dir=parent)


def remove_stale_folders(parent: str) -> None:
    """Remove staging folders whose import process is gone (killed with -9, say)."""
    try:
        entries = list(Path(parent).glob(f"{FOLDER_PREFIX}*"))
    except OSError:
        return
    for entry in entries:
        try:
            pid = int(entry.name[len(FOLDER_PREFIX) :].split("-", 1)[0])
        except ValueError:
            continue
        if not _alive(pid):
            log.info("removing %s, left by an import that did not finish", entry)
            shutil.rmtree(entry, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
