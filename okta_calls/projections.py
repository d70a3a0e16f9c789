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
    Rows,
)


@dataclass(slots=True)
class _Seen:
    """An entity merged over several events: newest fields win, first/last seen, count."""

    entity: tuple[Any, ...]
    first_seen: str | None
    count: int

    def merge(self, other: tuple[Any, ...]) -> None:
        seen = other[4]
        if seen is not None and (self.first_seen is None or seen < self.first_seen):
            self.first_seen = seen
        if ((seen or ""), other[5]) > ((self.entity[4] or ""), self.entity[5]):
            self.entity = other
        self.count += 1


def dimension_upsert_sql(table: str, key: str, extra: Sequence[str], *, source: str | None = None) -> str:
    """The UPSERT that merges entity rows into a dimension table: the newer event's fields win, first seen is
    a minimum and counts add up. Rows come from ``VALUES`` placeholders, or from the SELECT ``source`` whose
    columns are ``key, type, alternate_id, display_name, *extra, first_seen, last_seen, event_count,
    last_uuid`` (``okta_calls.staging``)."""
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
    # "WHERE true": without it SQLite would read ON CONFLICT as part of the SELECT's join (its documented
    # parsing ambiguity for INSERT ... SELECT ... ON CONFLICT).
    rows = f"VALUES ({', '.join('?' * len(columns))})" if source is None else f"SELECT * FROM ({source}) WHERE true"
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) {rows} "
        f"ON CONFLICT({key}) DO UPDATE SET {', '.join(sets)}"
    )


PHONE_EXTRA = ("phone_id", "country_calling_code", "phone_country")
_SQL = {
    "events": f"INSERT INTO events (id, {', '.join(EVENT_COLUMNS)}) VALUES (?{', ?' * len(EVENT_COLUMNS)})",
    "targets": f"INSERT INTO targets (event_id, {', '.join(TARGET_COLUMNS)}) VALUES (?{', ?' * len(TARGET_COLUMNS)})",
    "debug_data": f"INSERT INTO debug_data (event_id, {', '.join(DEBUG_COLUMNS)}) VALUES (?{', ?' * len(DEBUG_COLUMNS)})",
    "ip_chain": f"INSERT INTO ip_chain (event_id, {', '.join(IP_CHAIN_COLUMNS)}) VALUES (?{', ?' * len(IP_CHAIN_COLUMNS)})",
    "events_fts": f"INSERT INTO events_fts (rowid, {', '.join(SEARCH_COLUMNS)}) VALUES (?{', ?' * len(SEARCH_COLUMNS)})",
    "actors": dimension_upsert_sql("actors", "id", ()),
    "users": dimension_upsert_sql("users", "id", ()),
    "phones": dimension_upsert_sql("phones", "phone_number", PHONE_EXTRA),
}


def _dimension_row(seen: _Seen) -> tuple[Any, ...]:
    entity = seen.entity
    return (*entity[:4], *entity[6:], seen.first_seen, entity[4], seen.count, entity[5])


DIMENSIONS = ("actors", "users", "phones")


class Dimensions:
    """Actors, users and phones of a run of events, merged per key (see ``_Seen``), ready to upsert."""

    __slots__ = ("merged",)

    def __init__(self) -> None:
        self.merged: tuple[dict[str, _Seen], ...] = ({}, {}, {})

    def add(self, rows: Rows) -> None:
        for merged, entity in zip(self.merged, (rows.actor, rows.user, rows.phone)):
            if entity is None:
                continue
            seen = merged.get(entity[0])
            if seen is None:
                merged[entity[0]] = _Seen(entity, entity[4], 1)
            else:
                seen.merge(entity)

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """Table -> its upsert rows (``dimension_upsert_sql``'s columns)."""
        return {table: [_dimension_row(seen) for seen in merged.values()] for table, merged in zip(DIMENSIONS, self.merged)}

    def upsert(self, conn: sqlite3.Connection) -> None:
        for table, rows in self.rows().items():
            conn.executemany(_SQL[table], rows)


def write_projections(conn: sqlite3.Connection, events: Iterable[tuple[int, Rows]]) -> None:
    """Insert the projection rows of ``(events.id, Rows)`` pairs, in id order, inside the caller's
    transaction."""
    event_rows: list[tuple[Any, ...]] = []
    target_rows: list[tuple[Any, ...]] = []
    debug_rows: list[tuple[Any, ...]] = []
    chain_rows: list[tuple[Any, ...]] = []
    search_rows: list[tuple[Any, ...]] = []
    dimensions = Dimensions()
    for raw_id, rows in events:
        event_rows.append((raw_id, *rows.event))
        target_rows.extend((raw_id, *row) for row in rows.targets)
        debug_rows.extend((raw_id, *row) for row in rows.debug_data)
        chain_rows.extend((raw_id, *row) for row in rows.ip_chain)
        search_rows.append((raw_id, *rows.search))
        dimensions.add(rows)
    execute = conn.executemany
    execute(_SQL["events"], event_rows)
    execute(_SQL["targets"], target_rows)
    execute(_SQL["debug_data"], debug_rows)
    execute(_SQL["ip_chain"], chain_rows)
    execute(_SQL["events_fts"], search_rows)
    dimensions.upsert(conn)
