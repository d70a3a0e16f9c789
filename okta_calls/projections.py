"""Writing projection rows: the SQL half of flattening.

``write_projections`` inserts the rows ``okta_calls.flatten`` made for a run of archived events, and merges
actors, users and phones into their dimension tables so that the result does not depend on how events were
batched: the newest event (by ``published``, then ``uuid``) gives a dimension's fields, ``first_seen`` is a
minimum and ``event_count`` a sum. That is what makes ``rebuild`` equal incremental ingest.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from .flatten import (
    DEBUG_COLUMNS,
    EVENT_COLUMNS,
    IP_CHAIN_COLUMNS,
    SEARCH_COLUMNS,
    TARGET_COLUMNS,
    Entity,
    FlatEvent,
)


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
    # SQLite evaluates every SET expression against the old row, so `newer` means the same in each.
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




def write_projections(conn: sqlite3.Connection, flats: Iterable[tuple[int, FlatEvent]]) -> None:
    """Insert the projection rows of ``(events.id, FlatEvent)`` pairs, in id order, inside the caller's
    transaction."""
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
    execute = conn.executemany
    execute(_SQL["events"], event_rows)
    execute(_SQL["targets"], target_rows)
    execute(_SQL["debug_data"], debug_rows)
    execute(_SQL["ip_chain"], chain_rows)
    execute(_SQL["events_fts"], search_rows)
    for table, merged in dimensions.items():
        extra = _PHONE_EXTRA if table == "phones" else ()
        execute(_SQL[table], [_dimension_row(seen, extra) for seen in merged.values()])
