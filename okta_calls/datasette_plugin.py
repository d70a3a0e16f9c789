"""okta-calls' Datasette plugin: the events table's facets from kept counts instead of ``GROUP BY``.

``okta-calls serve`` registers this module with Datasette's plugin manager (:func:`register`). It replaces
Datasette's ``column`` facet class by :class:`CountedColumnFacet`, which behaves exactly like it except on the
one page where it can do better: the unfiltered ``events`` table. There the values of the default facet
columns (``facets:`` of ``events`` in metadata.yml) come from :mod:`okta_calls.facet_counts`, counted once in
a background thread at start-up and then brought up to date on each request by counting only the events added
since (a rowid range), with one ``count(*)`` that checks the total: 3-4 ms at 1M events. Filtered, searched or paginated pages, other tables, other columns, and
any request where the counts cannot be proved exact run Datasette's own ``GROUP BY``, as before.

The facet type stays ``column``, so metadata.yml, ``_facet=`` links, the JSON and the HTML are unchanged. Set
``plugins: {okta-calls: {facet_counts: false}}`` in the metadata to turn it off.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
import time
import weakref
from typing import Any

from datasette import hookimpl
from datasette.database import QueryInterrupted
from datasette.facets import ColumnFacet
from datasette.tracer import trace
from datasette.utils import escape_sqlite, path_with_added_args, path_with_removed_args, sqlite3

from .facet_counts import EVENTS_TABLE, Counts, file_identity, full_count, refresh

log = logging.getLogger(__name__)

PLUGIN_NAME = "okta-calls"
#: The SQL Datasette builds for an events page with no filter, search or ``_next``: ``select <columns> from
#: events `` (views/table.py, ``sql_no_order_no_limit``). Anything else has a WHERE clause.
UNFILTERED_SQL = re.compile(r"select [\w\[\], ]+ from (?:events|\[events\]) ?")
#: After a failed count, wait this long before trying again.
RETRY_SECONDS = 30.0


class DatabaseCounts:
    """The kept facet counts of one served database: the latest :class:`Counts` and its recount thread."""

    def __init__(self, database: Any, columns: list[str]) -> None:
        self.database = database
        self.columns = columns
        self.recounts = 0  # full counts made (tests and logs look at these)
        self.refreshes = 0  # requests answered from the counts
        self._lock = threading.Lock()
        self._counts: Counts | None = None
        self._thread: threading.Thread | None = None
        self._retry_at = 0.0
        self._warm = threading.Event()

    @property
    def counts(self) -> Counts | None:
        return self._counts

    def start_recount(self, stale: Counts | None = None) -> None:
        """Count every value again in a background thread, to replace ``stale`` (``None``: no counts yet).

        Nothing starts when the counts have been replaced already, while a count is running, or while a retry
        after a failed count is pending.
        """
        with self._lock:
            if self._counts is not stale or time.monotonic() < self._retry_at:
                return
            if self._thread is not None and self._thread.is_alive():
                return
            self._warm.clear()
            self._thread = threading.Thread(target=self._recount, name=f"facet-counts-{self.database.name}",
                                            daemon=True)
            self._thread.start()

    def _connect(self) -> sqlite3.Connection:
        """A read-only connection of our own, opened as Datasette opens its read connections."""
        mode = "mode=ro" if self.database.is_mutable else "immutable=1"
        return sqlite3.connect(f"file:{self.database.path}?{mode}", uri=True, check_same_thread=False)

    def _recount(self) -> None:
        started = time.perf_counter()
        try:
            conn = self._connect()
            try:
                counts = full_count(conn, self.columns, file_identity(self.database.path))
            finally:
                conn.close()
        except sqlite3.Error as error:
            log.warning("facet counts of %s: %s; facets use GROUP BY meanwhile", self.database.name, error)
            counts = None
        with self._lock:
            if counts is None:
                self._retry_at = time.monotonic() + RETRY_SECONDS
            else:
                self._counts = counts
                self.recounts += 1
        if counts is not None:
            log.info("facet counts of %s: %d events, %d columns, in %.0f ms", self.database.name, counts.total,
                     len(counts.columns), (time.perf_counter() - started) * 1000)
        self._warm.set()

    def wait(self, timeout: float) -> bool:
        """Wait for a running count to finish; True when counts are available."""
        self._warm.wait(timeout)
        return self._counts is not None

    async def current(self) -> Counts | None:
        """The counts as of now (exact), or ``None`` when they are not ready or cannot be proved exact."""
        counts = self._counts
        if counts is None:
            self.start_recount()
            return None
        path = self.database.path
        with trace("sql", database=self.database.name, sql="-- okta-calls facet counts: events with id > ?",
                   params=[counts.watermark]):
            try:
                fresh = await self.database.execute_fn(lambda conn: refresh(conn, counts, file_identity(path)))
            except sqlite3.Error as error:  # Datasette's own GROUP BY will meet it too, and report it
                log.warning("facet counts of %s: %s", self.database.name, error)
                fresh = None
        if fresh is None:
            self.start_recount(stale=counts)
            return None
        with self._lock:
            if self._counts is counts or (self._counts is not None and self._counts.watermark < fresh.watermark
                                          and self._counts.identity == fresh.identity):
                self._counts = fresh
            self.refreshes += 1
        return fresh


#: Per Datasette instance, per database name.
_REGISTRY: weakref.WeakKeyDictionary[Any, dict[str, DatabaseCounts]] = weakref.WeakKeyDictionary()
_REGISTRY_LOCK = threading.Lock()


def enabled(datasette: Any) -> bool:
    """False when the metadata says ``plugins: {okta-calls: {facet_counts: false}}``."""
    config = datasette.plugin_config(PLUGIN_NAME) or {}
    return config.get("facet_counts", True) is not False


def default_facet_columns(datasette: Any, database: str) -> list[str]:
    """The ``column`` facets in the events table's metadata (``- event_type`` or ``- column: event_type``)."""
    columns = []
    for facet in datasette.table_metadata(database, EVENTS_TABLE).get("facets") or []:
        if isinstance(facet, str):
            columns.append(facet)
        elif isinstance(facet, dict) and isinstance(facet.get("column"), str):
            columns.append(facet["column"])
    return columns


def database_counts(datasette: Any, name: str) -> DatabaseCounts | None:
    """The kept counts of database ``name`` (made on first use), or None when it has nothing to keep."""
    with _REGISTRY_LOCK:
        per_database = _REGISTRY.setdefault(datasette, {})
        if name not in per_database:
            database = datasette.databases.get(name)
            columns = default_facet_columns(datasette, name) if database is not None else []
            if database is None or database.is_memory or not database.path or not columns:
                return None
            per_database[name] = DatabaseCounts(database, columns)
        return per_database[name]


def wait_until_counted(datasette: Any, timeout: float = 60.0) -> bool:
    """Block until every database's first count is done (benchmarks and tests); True when all have counts."""
    if not enabled(datasette):
        return False
    deadline = time.monotonic() + timeout
    ready = True
    for name in list(datasette.databases):
        counts = database_counts(datasette, name)
        if counts is not None:
            counts.start_recount()  # unless counted or counting already
            ready = counts.wait(max(0.0, deadline - time.monotonic())) and ready
    return ready


class CountedColumnFacet(ColumnFacet):
    """Datasette's column facet, answered from kept counts on the unfiltered events table (else unchanged)."""

    async def _kept_counts(self) -> Counts | None:
        if self.table != EVENTS_TABLE or self.params or not UNFILTERED_SQL.fullmatch(self.sql):
            return None
        if not enabled(self.ds):
            return None
        counts = database_counts(self.ds, self.database)
        return None if counts is None else await counts.current()

    async def _rows(self, counts: Counts | None, column: str, facet_size: int) -> list[Any]:
        """The facet's ``(value, count)`` rows, at most ``facet_size + 1``: kept, or by Datasette's SQL."""
        if counts is not None and column in counts.columns:
            return counts.facet_rows(column, facet_size + 1)
        facet_sql = """
                select {col} as value, count(*) as count from (
                    {sql}
                )
                where {col} is not null
                group by {col} order by count desc, value limit {limit}
            """.format(col=escape_sqlite(column), sql=self.sql, limit=facet_size + 1)
        results = await self.ds.execute(
            self.database, facet_sql, self.params, truncate=False,
            custom_time_limit=self.ds.setting("facet_time_limit_ms"),
        )
        return [(row["value"], row["count"]) for row in results.rows]

    async def facet_results(self) -> tuple[list[dict[str, Any]], list[str]]:
        """As ``ColumnFacet.facet_results`` (datasette 0.65), with the rows from :meth:`_rows`; without kept
        counts, exactly Datasette's own code."""
        counts = await self._kept_counts()
        if counts is None:
            return await super().facet_results()
        facet_results: list[dict[str, Any]] = []
        facets_timed_out: list[str] = []
        qs_pairs = self.get_querystring_pairs()
        facet_size = self.get_facet_size()
        for source_and_config in self.get_configs():
            config = source_and_config["config"]
            column = config.get("column") or config["simple"]
            try:
                rows = await self._rows(counts, column, facet_size)
            except QueryInterrupted:
                facets_timed_out.append(column)
                continue
            values = [value for value, _count in rows[:facet_size]]
            expanded = {}
            if self.table:  # foreign keys to labels, as Datasette does
                expanded = await self.ds.expand_foreign_keys(self.database, self.table, column, values)
            facet_results.append({
                "name": column,
                "type": self.type,
                "hideable": source_and_config["source"] != "metadata",
                "toggle_url": self.ds.urls.path(path_with_removed_args(self.request, {"_facet": column})),
                "results": [
                    self._value(column, value, count, qs_pairs, expanded) for value, count in rows[:facet_size]
                ],
                "truncated": len(rows) > facet_size,
            })
        return facet_results, facets_timed_out

    def _value(self, column: str, value: Any, count: int, qs_pairs: list[tuple[str, str]],
               expanded: dict[Any, Any]) -> dict[str, Any]:
        """One facet value with its toggle link, as Datasette renders it."""
        column_qs = f"{column}__exact" if column.startswith("_") else column
        selected = (column_qs, str(value)) in qs_pairs
        if selected:
            toggle_path = path_with_removed_args(self.request, {column_qs: str(value)})
        else:
            toggle_path = path_with_added_args(self.request, {column_qs: value})
        return {
            "value": value,
            "label": expanded.get((column, value), value),
            "count": count,
            "toggle_url": self.ds.absolute_url(self.request, self.ds.urls.path(toggle_path)),
            "selected": selected,
        }


@hookimpl(hookwrapper=True)
def register_facet_classes() -> Any:
    """Put :class:`CountedColumnFacet` where Datasette's ``ColumnFacet`` was (the facet type stays "column")."""
    outcome = yield
    outcome.force_result([
        [CountedColumnFacet if klass is ColumnFacet else klass for klass in classes]
        for classes in outcome.get_result()
    ])


@hookimpl
def startup(datasette: Any) -> None:
    """Start counting each database's default facets in the background as Datasette starts."""
    if not enabled(datasette):
        return
    for name in list(datasette.databases):
        counts = database_counts(datasette, name)
        if counts is not None:
            counts.start_recount()


def register() -> None:
    """Register this plugin with Datasette's plugin manager (once per process)."""
    from datasette.plugins import pm

    module = sys.modules[__name__]
    if not pm.is_registered(module):
        pm.register(module, name=PLUGIN_NAME)


__all__ = [
    "PLUGIN_NAME",
    "CountedColumnFacet",
    "DatabaseCounts",
    "database_counts",
    "default_facet_columns",
    "enabled",
    "register",
    "wait_until_counted",
]
