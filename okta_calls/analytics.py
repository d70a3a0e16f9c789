"""The canned analytics: one ``.sql`` file per query in ``okta_calls/queries/``, shared by Datasette and the CLI.

The ``.sql`` files are the single source of truth for the analytics. ``metadata.yml`` holds no SQL: ``okta-calls
serve`` builds the ``queries:`` block of each database from these files (``datasette_queries``), and ``okta-calls
report`` runs the same files (``run_query``).

Each file opens with a header of ``--`` comment lines::

    -- title: Calls per day by outcome
    -- description: What the query finds and why it matters. A description may go on over several
    --   comment lines; an indented continuation line is joined to the field above it.
    -- param since: Start of the window (UTC ISO 8601). Default: 30 days before the newest event.

followed by one SELECT. Parameters are SQLite named parameters (``:since``). Datasette sends an empty string for
a parameter left blank, so every query applies its defaults itself, ``coalesce(nullif(:since, ''), ...)`` style;
the ``param`` lines document them and must name exactly the parameters the SQL uses.
"""

from __future__ import annotations

import html
import logging
import re
import sqlite3
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

QUERY_PACKAGE = "okta_calls"
QUERY_FOLDER = "queries"

_HEADER_FIELD = re.compile(r"^--\s?(?P<key>[a-z_]+)(?:\s+(?P<arg>[a-z_][a-z0-9_]*))?:\s*(?P<value>.*)$")
_CONTINUATION = re.compile(r"^--\s{2,}(?P<value>\S.*)$")
# A named parameter outside string literals and comments: ":name" (SQLite also accepts @name and $name; the
# queries use only the colon form).
_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_][A-Za-z0-9_]*)")
_STRING_OR_COMMENT = re.compile(r"'(?:[^']|'')*'|\"(?:[^\"]|\"\")*\"|--[^\n]*|/\*.*?\*/", re.DOTALL)


class QueryFileError(ValueError):
    """A query file is malformed: its header is incomplete or does not match its SQL."""


@dataclass(frozen=True, slots=True)
class Param:
    """A named parameter of a canned query and what it means (its default is applied in the SQL)."""

    name: str
    description: str


@dataclass(frozen=True, slots=True)
class CannedQuery:
    """One analytics query: its name (the file's stem), title, description, parameters and SQL."""

    name: str
    title: str
    description: str
    params: tuple[Param, ...]
    sql: str

    @property
    def param_names(self) -> tuple[str, ...]:
        return tuple(param.name for param in self.params)

    def description_html(self) -> str:
        """The description and the parameter list as HTML, for the query's page in Datasette."""
        parts = [f"<p>{html.escape(self.description)}</p>"]
        if self.params:
            items = "".join(
                f"<li><code>{html.escape(param.name)}</code>: {html.escape(param.description)}</li>"
                for param in self.params
            )
            parts.append(f"<p>Parameters (leave blank for the default):</p><ul>{items}</ul>")
        return "".join(parts)

    def datasette_config(self) -> dict[str, Any]:
        """This query as an entry of Datasette's ``queries:`` metadata block."""
        return {
            "sql": self.sql,
            "title": self.title,
            "description_html": self.description_html(),
            "params": list(self.param_names),
        }


@dataclass(frozen=True, slots=True)
class QueryResult:
    """The rows a query returned, with their column names."""

    query: CannedQuery
    params: dict[str, str]
    columns: tuple[str, ...]
    rows: tuple[tuple[Any, ...], ...]

    def dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row)) for row in self.rows]


def sql_parameters(sql: str) -> tuple[str, ...]:
    """The ``:named`` parameters of ``sql`` in order of first use, ignoring string literals and comments."""
    stripped = _STRING_OR_COMMENT.sub(" ", sql)
    seen: dict[str, None] = {}
    for match in _NAMED_PARAMETER.finditer(stripped):
        seen.setdefault(match.group(1), None)
    return tuple(seen)


def parse_query(name: str, text: str) -> CannedQuery:
    """Parse one query file: its ``--`` header (title, description, param lines) and its SQL body."""
    fields: dict[str, str] = {}
    params: dict[str, str] = {}
    current: tuple[str, str | None] | None = None
    lines = text.splitlines()
    body_start = len(lines)
    for index, line in enumerate(lines):
        stripped = line.rstrip()
        if not stripped:
            current = None
            continue
        if not stripped.startswith("--"):
            body_start = index
            break
        continuation = _CONTINUATION.match(stripped)
        field = _HEADER_FIELD.match(stripped)
        if continuation is not None and current is not None:
            key, arg = current
            if key == "param" and arg is not None:
                params[arg] = f"{params[arg]} {continuation.group('value').strip()}"
            else:
                fields[key] = f"{fields[key]} {continuation.group('value').strip()}"
        elif field is not None:
            key, arg, value = field.group("key"), field.group("arg"), field.group("value").strip()
            if key == "param":
                if arg is None:
                    raise QueryFileError(f"{name}.sql: a param line needs a name: {stripped!r}")
                params[arg] = value
            else:
                fields[key] = value
            current = (key, arg)
        else:
            current = None  # a plain comment line ends the field above it
    sql = "\n".join(lines[body_start:]).strip().rstrip(";").strip()
    for required in ("title", "description"):
        if not fields.get(required):
            raise QueryFileError(f"{name}.sql: the header has no '-- {required}:' line")
    if not sql:
        raise QueryFileError(f"{name}.sql: no SQL after the header")
    used = sql_parameters(sql)
    undocumented = [p for p in used if p not in params]
    unused = [p for p in params if p not in used]
    if undocumented or unused:
        raise QueryFileError(
            f"{name}.sql: parameters used but not documented: {undocumented}; documented but unused: {unused}"
        )
    ordered = tuple(Param(p, params[p]) for p in params)
    return CannedQuery(name=name, title=fields["title"], description=fields["description"], params=ordered, sql=sql)


@lru_cache(maxsize=1)
def load_queries() -> dict[str, CannedQuery]:
    """Every canned query shipped in the package, by name, in file-name order."""
    folder = resources.files(QUERY_PACKAGE) / QUERY_FOLDER
    queries: dict[str, CannedQuery] = {}
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if entry.name.endswith(".sql"):
            name = entry.name[: -len(".sql")]
            queries[name] = parse_query(name, entry.read_text(encoding="utf-8"))
    log.debug("loaded %d canned queries", len(queries))
    return queries


def get_query(name: str) -> CannedQuery:
    """One canned query by name; ``KeyError`` names the known ones."""
    queries = load_queries()
    try:
        return queries[name]
    except KeyError:
        raise KeyError(f"no canned query {name!r}; known: {', '.join(queries)}") from None


def datasette_queries() -> dict[str, dict[str, Any]]:
    """The ``queries:`` block for a database in Datasette's metadata, built from the ``.sql`` files."""
    return {name: query.datasette_config() for name, query in load_queries().items()}


def bind_params(query: CannedQuery, values: Mapping[str, Any]) -> dict[str, str]:
    """The parameters of ``query`` as Datasette would send them: every one present, '' when not given."""
    unknown = set(values) - set(query.param_names)
    if unknown:
        raise KeyError(f"{query.name}: unknown parameters {sorted(unknown)}; it takes {list(query.param_names)}")
    return {name: "" if values.get(name) is None else str(values[name]) for name in query.param_names}


def connect_readonly(db_path: str) -> sqlite3.Connection:
    """A read-only connection to an archive (``mode=ro``, never ``immutable``: the file may be live)."""
    uri = Path(db_path).expanduser().resolve().as_uri() + "?mode=ro"
    conn = sqlite3.connect(uri, uri=True, timeout=30.0)
    conn.execute("PRAGMA query_only = 1")
    return conn


def run_query(conn: sqlite3.Connection, name: str, values: Mapping[str, Any] | None = None) -> QueryResult:
    """Run canned query ``name`` with ``values`` (missing parameters take the query's defaults)."""
    query = get_query(name)
    params = bind_params(query, values or {})
    cursor = conn.execute(query.sql, params)
    columns = tuple(description[0] for description in cursor.description or ())
    rows = tuple(tuple(row) for row in cursor.fetchall())
    return QueryResult(query=query, params=params, columns=columns, rows=rows)


def run_queries(
    conn: sqlite3.Connection, values: Mapping[str, Any], names: Sequence[str] | None = None
) -> list[QueryResult]:
    """Run several canned queries (all by default), passing each only the parameters it takes."""
    results = []
    for name in names or list(load_queries()):
        query = get_query(name)
        relevant = {key: value for key, value in values.items() if key in query.param_names}
        results.append(run_query(conn, name, relevant))
    return results


__all__ = [
    "CannedQuery",
    "Param",
    "QueryFileError",
    "QueryResult",
    "bind_params",
    "connect_readonly",
    "datasette_queries",
    "get_query",
    "load_queries",
    "parse_query",
    "run_queries",
    "run_query",
    "sql_parameters",
]
