"""The archive's shape, declared as data: tables, indexes, triggers, full-text search and views.

``ensure_db_shape`` makes a database match it and is safe to run any number of times. The public schema (what
users write SQL against) is documented in the README and in ``metadata.yml``; keep the names stable.

Two kinds of table:
- the log, append-only and never rewritten: ``raw_events`` (the source of truth), ``deliveries`` and
  ``delivery_events`` (Event Hook envelopes), ``rejects``, ``ingest_runs``, ``sync_state``;
- projections, derived only from ``raw_events`` by ``okta_calls.flatten`` and rebuilt at will:
  ``events``, ``targets``, ``debug_data``, ``ip_chain``, ``actors``, ``users``, ``phones``, ``events_fts``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources

from .flatten import (
    DEBUG_COLUMNS,
    EVENT_COLUMNS,
    IP_CHAIN_COLUMNS,
    SEARCH_COLUMNS,
    TARGET_COLUMNS,
)
from .phones import (
    CALLING_CODES,
    HIGH_RISK_CALLING_CODES,
    NANP_AREA_CODES,
    is_high_cost_destination,
)

PAGE_SIZE = 16384  # ~2.4 KB JSON rows waste half of a 4 KiB page (../shared/STACK.md)

LOG_TABLES: dict[str, str] = {
    "archive_meta": """
        CREATE TABLE IF NOT EXISTS archive_meta (
            key TEXT PRIMARY KEY,
            value TEXT
        )""",
    "ingest_runs": """
        CREATE TABLE IF NOT EXISTS ingest_runs (
            id INTEGER PRIMARY KEY,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            source_kind TEXT NOT NULL,
            sources TEXT,
            status TEXT NOT NULL DEFAULT 'running',
            seen INTEGER NOT NULL DEFAULT 0,
            inserted INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            rejected INTEGER NOT NULL DEFAULT 0,
            error TEXT,
            tool_version TEXT
        )""",
    "raw_events": """
        CREATE TABLE IF NOT EXISTS raw_events (
            id INTEGER PRIMARY KEY,
            uuid TEXT NOT NULL UNIQUE,
            published TEXT,
            event_type TEXT,
            payload TEXT NOT NULL,
            first_seen_at TEXT NOT NULL,
            source_kind TEXT NOT NULL,
            source_ref TEXT,
            source_line INTEGER,
            ingest_run INTEGER REFERENCES ingest_runs(id)
        )""",
    "rejects": """
        CREATE TABLE IF NOT EXISTS rejects (
            id INTEGER PRIMARY KEY,
            ingest_run INTEGER REFERENCES ingest_runs(id),
            rejected_at TEXT NOT NULL,
            source_kind TEXT NOT NULL,
            source_ref TEXT,
            line INTEGER,
            uuid TEXT,
            reason TEXT NOT NULL,
            raw TEXT
        )""",
    "deliveries": """
        CREATE TABLE IF NOT EXISTS deliveries (
            delivery_id TEXT PRIMARY KEY,
            event_time TEXT,
            source TEXT,
            event_type TEXT,
            event_type_version TEXT,
            cloud_events_version TEXT,
            content_type TEXT,
            headers TEXT,
            extra TEXT,
            event_count INTEGER NOT NULL,
            received_at TEXT NOT NULL,
            source_kind TEXT NOT NULL,
            ingest_run INTEGER REFERENCES ingest_runs(id)
        )""",
    "delivery_events": """
        CREATE TABLE IF NOT EXISTS delivery_events (
            delivery_id TEXT NOT NULL REFERENCES deliveries(delivery_id),
            position INTEGER NOT NULL,
            uuid TEXT NOT NULL REFERENCES raw_events(uuid),
            PRIMARY KEY (delivery_id, position)
        )""",
    "sync_state": """
        CREATE TABLE IF NOT EXISTS sync_state (
            org TEXT NOT NULL,
            query TEXT NOT NULL,
            next_url TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            ingest_run INTEGER REFERENCES ingest_runs(id),
            PRIMARY KEY (org, query)
        )""",
    "calling_codes": """
        CREATE TABLE IF NOT EXISTS calling_codes (
            code TEXT PRIMARY KEY,
            iso2 TEXT,
            country TEXT,
            high_cost INTEGER NOT NULL DEFAULT 0
        )""",
}

# The append-only rule, enforced by SQLite itself.
LOG_TRIGGERS: dict[str, str] = {
    f"{table}_append_only_{action.lower()}": f"""
        CREATE TRIGGER IF NOT EXISTS {table}_append_only_{action.lower()}
        BEFORE {action} ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows are never updated or deleted'); END"""
    for table in ("raw_events", "deliveries", "delivery_events")
    for action in ("UPDATE", "DELETE")
}

_EVENT_TYPES = {
    "uuid": "TEXT NOT NULL",
    "latitude": "REAL",
    "longitude": "REAL",
    "as_number": "INTEGER",
    "is_proxy": "INTEGER",
    "threat_suspected": "INTEGER",
}


def _events_ddl() -> str:
    columns = ",\n            ".join(
        ["id INTEGER PRIMARY KEY"] + [f"{name} {_EVENT_TYPES.get(name, 'TEXT')}" for name in EVENT_COLUMNS]
    )
    return f"CREATE TABLE IF NOT EXISTS events (\n            {columns}\n        )"


_DIMENSION = """
        CREATE TABLE IF NOT EXISTS {name} (
            {key} TEXT PRIMARY KEY,{extra}
            type TEXT,
            alternate_id TEXT,
            display_name TEXT,
            first_seen TEXT,
            last_seen TEXT,
            event_count INTEGER NOT NULL,
            last_uuid TEXT
        )"""

PROJECTION_TABLES: dict[str, str] = {
    "events": _events_ddl(),
    "targets": """
        CREATE TABLE IF NOT EXISTS targets (
            event_id INTEGER NOT NULL REFERENCES events(id),
            position INTEGER NOT NULL,
            id TEXT,
            type TEXT,
            alternate_id TEXT,
            display_name TEXT,
            detail_entry TEXT,
            change_details TEXT,
            PRIMARY KEY (event_id, position)
        ) WITHOUT ROWID""",
    "debug_data": """
        CREATE TABLE IF NOT EXISTS debug_data (
            event_id INTEGER NOT NULL REFERENCES events(id),
            key TEXT NOT NULL,
            value TEXT,
            PRIMARY KEY (event_id, key)
        ) WITHOUT ROWID""",
    "ip_chain": """
        CREATE TABLE IF NOT EXISTS ip_chain (
            event_id INTEGER NOT NULL REFERENCES events(id),
            position INTEGER NOT NULL,
            ip TEXT,
            version TEXT,
            source TEXT,
            city TEXT,
            state TEXT,
            country TEXT,
            postal_code TEXT,
            latitude REAL,
            longitude REAL,
            PRIMARY KEY (event_id, position)
        ) WITHOUT ROWID""",
    "actors": _DIMENSION.format(name="actors", key="id", extra=""),
    "users": _DIMENSION.format(name="users", key="id", extra=""),
    "phones": _DIMENSION.format(
        name="phones",
        key="phone_number",
        extra="\n            phone_id TEXT,\n            country_calling_code TEXT,\n            phone_country TEXT,",
    ),
    "events_fts": (
        "CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5("
        + ", ".join(SEARCH_COLUMNS)
        + ", tokenize = 'unicode61')"
    ),
}


@dataclass(frozen=True, slots=True)
class Index:
    table: str
    columns: tuple[str, ...]
    projection: bool = True
    # Keys that arrive in no order (a user, a phone number, an IP): each commit dirties one page per distinct
    # key, so a bulk load drops these and builds them once at the end (okta_calls.ingest).
    scattered: bool = False

    @property
    def name(self) -> str:
        return f"idx_{self.table}_{'_'.join(self.columns)}"

    def ddl(self) -> str:
        return f"CREATE INDEX IF NOT EXISTS {self.name} ON {self.table} ({', '.join(self.columns)})"


# Each index serves a filter, facet, sort or join that the Datasette pages and the canned queries use.
# `events.uuid` has none on purpose: uuids arrive in random order, and at scale such an index costs a page
# write per event. Look a uuid up in `raw_events` (whose unique index the archive needs anyway) and join on id.
INDEXES: tuple[Index, ...] = (
    Index("rejects", ("ingest_run",), projection=False),
    Index("delivery_events", ("uuid",), projection=False),
    Index("events", ("published",)),
    Index("events", ("event_type", "published")),
    Index("events", ("outcome_result",)),
    Index("events", ("client_country",)),
    Index("events", ("country_calling_code",)),
    Index("events", ("phone_country",)),
    Index("events", ("provider",)),
    Index("events", ("actor_type",)),
    Index("events", ("user_id", "published"), scattered=True),
    Index("events", ("phone_number", "published"), scattered=True),
    Index("events", ("client_ip", "published"), scattered=True),
    Index("events", ("as_number", "published"), scattered=True),
    # The analytics index (okta_calls/queries/*.sql): sends and delivery reports of each event type in
    # (user, client IP, phone number, provider, status) order, so the canned queries aggregate them while
    # reading, without sorting half a million rows; the trailing columns make it covering for those queries
    # and for the default facets of an events page filtered on event_type.
    Index(
        "events",
        (
            "event_type",
            "user_id",
            "client_ip",
            "phone_number",
            "provider",
            "delivery_status",
            "published",
            "outcome_result",
            "is_proxy",
            "phone_country",
            "country_calling_code",
            "as_number",
            "actor_type",
            "client_country",
            "latitude",
            "longitude",
        ),
        scattered=True,
    ),
)

PROJECTIONS: tuple[str, ...] = tuple(PROJECTION_TABLES)


def view_sql() -> dict[str, str]:
    """The views, one ``.sql`` file each in ``okta_calls/views/``: name -> SELECT."""
    folder = resources.files("okta_calls") / "views"
    views = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".sql"):
            views[entry.name[: -len(".sql")]] = entry.read_text(encoding="utf-8").strip().rstrip(";")
    return views


def create_log_tables(conn: sqlite3.Connection) -> None:
    for ddl in LOG_TABLES.values():
        conn.execute(ddl)
    for ddl in LOG_TRIGGERS.values():
        conn.execute(ddl)


def create_projection_tables(conn: sqlite3.Connection) -> None:
    for ddl in PROJECTION_TABLES.values():
        conn.execute(ddl)


def create_indexes(conn: sqlite3.Connection, *, projection: bool | None = None) -> None:
    for index in INDEXES:
        if projection is None or index.projection == projection:
            conn.execute(index.ddl())


def drop_indexes(conn: sqlite3.Connection, indexes: Iterable[Index]) -> None:
    for index in indexes:
        conn.execute(f"DROP INDEX IF EXISTS {index.name}")


def drop_projections(conn: sqlite3.Connection) -> None:
    """Drop every projection table and every view (views read projections)."""
    views = [row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'view'")]
    for name in views:
        conn.execute(f"DROP VIEW IF EXISTS [{name}]")
    for table in PROJECTIONS:
        conn.execute(f"DROP TABLE IF EXISTS {table}")


def create_views(conn: sqlite3.Connection) -> None:
    for name, select in view_sql().items():
        conn.execute(f"DROP VIEW IF EXISTS {name}")
        conn.execute(f"CREATE VIEW {name} AS\n{select}")


def load_calling_codes(conn: sqlite3.Connection) -> int:
    """Fill the ``calling_codes`` reference table; returns its row count.

    Every ITU code, plus each non-US NANP area behind +1 ("1876" is Jamaica), with the heuristic high-cost
    flag (countries and satellite/global services alike).
    """
    conn.execute("DELETE FROM calling_codes")
    rows = []
    for code, (iso2, name) in sorted(CALLING_CODES.items()):
        high = code in HIGH_RISK_CALLING_CODES or (bool(iso2) and code != "1" and is_high_cost_destination(iso2))
        rows.append((code, iso2, name, int(high)))
    for area, (iso2, name) in sorted(NANP_AREA_CODES.items()):
        rows.append(("1" + area, iso2, name, int(is_high_cost_destination(iso2))))
    conn.executemany("INSERT INTO calling_codes (code, iso2, country, high_cost) VALUES (?, ?, ?, ?)", rows)
    return len(rows)


def ensure_db_shape(conn: sqlite3.Connection) -> None:
    """Create whatever is missing: tables, triggers, indexes, FTS and views. Idempotent."""
    create_log_tables(conn)
    create_projection_tables(conn)
    create_indexes(conn)
    create_views(conn)


__all__ = [
    "DEBUG_COLUMNS",
    "EVENT_COLUMNS",
    "INDEXES",
    "IP_CHAIN_COLUMNS",
    "LOG_TABLES",
    "PAGE_SIZE",
    "PROJECTION_TABLES",
    "PROJECTIONS",
    "TARGET_COLUMNS",
    "ensure_db_shape",
]
