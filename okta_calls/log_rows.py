"""The raw log's rows: ``raw_events``, ``rejects``, ``deliveries`` / ``delivery_events`` and the run counters.

Plain functions over a connection, called by ``okta_calls.archive`` inside its transactions (the archive decides
when; these say what is written). Nothing here commits.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from .batch import Prepared
from .jsonio import dumps
from .model import BatchResult, Delivery, Incoming

MAX_REJECT_RAW = 1 << 20  # keep at most 1 MiB of a rejected item's text

_SQL = {
    "raw": (
        "INSERT INTO raw_events (id, uuid, published, event_type, payload, first_seen_at, source_kind, "
        "source_ref, source_line, ingest_run) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "reject": (
        "INSERT INTO rejects (ingest_run, rejected_at, source_kind, source_ref, line, uuid, reason, raw) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ),
}


def insert_raw(conn: sqlite3.Connection, new: Sequence[Prepared], *, run_id: int, kind: str, now: str) -> int:
    """Append ``new`` to ``raw_events`` with consecutive ids after the last one; returns the first id."""
    next_id = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM raw_events").fetchone()[0]
    rows = []
    for raw_id, prepared in enumerate(new, start=next_id):
        event = prepared.rows.event  # EVENT_COLUMNS order: uuid, published, ...
        rows.append(
            (raw_id, event[0], event[1], prepared.event_type, prepared.payload, now, kind, prepared.ref,
             prepared.line, run_id)
        )
    conn.executemany(_SQL["raw"], rows)
    return next_id


def existing_payloads(conn: sqlite3.Connection, uuids: list[str]) -> dict[str, str]:
    """``uuid -> payload`` of those of ``uuids`` already archived."""
    found: dict[str, str] = {}
    for start in range(0, len(uuids), 500):
        chunk = uuids[start : start + 500]
        sql = f"SELECT uuid, payload FROM raw_events WHERE uuid IN ({', '.join('?' * len(chunk))})"
        found.update(conn.execute(sql, chunk).fetchall())
    return found


def insert_rejects(
    conn: sqlite3.Connection, rejects: list[tuple[Incoming, str | None, str]], *, run_id: int, kind: str, now: str
) -> None:
    """Keep what could not be archived, with where it came from and why (at most 1 MiB of its text)."""
    rows = []
    for item, uuid, reason in rejects:
        raw = item.raw if item.raw is not None else (dumps(item.event) if item.error is None else None)
        if raw is not None and len(raw) > MAX_REJECT_RAW:
            reason = f"{reason} (raw text truncated from {len(raw)} characters)"
            raw = raw[:MAX_REJECT_RAW]
        if raw is not None:
            raw = raw.encode("utf-8", "replace").decode("utf-8")
        rows.append((run_id, now, kind, item.ref, item.line, uuid, reason, raw))
    conn.executemany(_SQL["reject"], rows)


def insert_delivery(
    conn: sqlite3.Connection, delivery: Delivery, positions: list[tuple[int, str]], *, run_id: int, kind: str,
    now: str,
) -> None:
    """Record an Event Hook delivery envelope and the uuids it carried, once (a repeated delivery is a no-op)."""
    cursor = conn.execute(
        "INSERT INTO deliveries (delivery_id, event_time, source, event_type, event_type_version, "
        "cloud_events_version, content_type, headers, extra, event_count, received_at, source_kind, ingest_run) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(delivery_id) DO NOTHING",
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
        conn.executemany(
            "INSERT OR IGNORE INTO delivery_events (delivery_id, position, uuid) VALUES (?, ?, ?)",
            [(delivery.event_id, position, uuid) for position, uuid in positions],
        )


def count_run(conn: sqlite3.Connection, result: BatchResult, run_id: int) -> None:
    """Add a batch's counts to its ingest run (in the batch's transaction, so counters always match the data)."""
    conn.execute(
        "UPDATE ingest_runs SET seen = seen + ?, inserted = inserted + ?, duplicates = duplicates + ?, "
        "rejected = rejected + ? WHERE id = ?",
        (result.seen, result.inserted, result.duplicates, result.rejected, run_id),
    )
