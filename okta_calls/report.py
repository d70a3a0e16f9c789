"""``okta-calls report``: the canned analytics of ``okta_calls/queries`` in a terminal, as tables or JSON.

The queries are the very ones Datasette shows (``okta_calls.analytics``); this module only picks the window,
runs them on a read-only connection and formats the rows.
"""

from __future__ import annotations

import json
import re
import sqlite3
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from .analytics import QueryResult, connect_readonly, get_query, load_queries, run_query

_DURATION = re.compile(r"^\s*(\d+)\s*([mhdw])\s*$", re.IGNORECASE)
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
MAX_CELL = 48


class ReportError(Exception):
    """The report cannot be made; ``str()`` is one line saying why."""


@dataclass(frozen=True, slots=True)
class Report:
    """The results of the canned queries over one window of one archive."""

    db_path: str
    since: str | None
    until: str | None
    generated_at: str
    results: tuple[QueryResult, ...]


def utc_iso(moment: datetime) -> str:
    """A datetime in Okta's UTC form (``2026-03-01T12:00:00.000Z``), the form ``events.published`` uses."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_moment(value: str | None, *, now: datetime | None = None) -> str | None:
    """``--since``/``--until``: a duration before now (``7d``, ``24h``, ``90m``, ``2w``) or an ISO 8601 date or
    date-time (UTC unless it carries an offset), as an Okta-style UTC timestamp; ``None`` stays ``None``."""
    if value is None or not value.strip():
        return None
    duration = _DURATION.match(value)
    if duration:
        amount, unit = int(duration.group(1)), duration.group(2).lower()
        moment = (now or datetime.now(UTC)) - timedelta(**{_UNITS[unit]: amount})
        return utc_iso(moment)
    text = value.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise ReportError(
            f"cannot read {value!r} as a time: use an ISO 8601 date or date-time (2026-03-01, 2026-03-01T12:00) "
            "or a duration before now (7d, 24h, 90m, 2w)"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return utc_iso(parsed)


def build_report(
    db_path: str,
    *,
    since: str | None = None,
    until: str | None = None,
    queries: Sequence[str] = (),
    now: datetime | None = None,
) -> Report:
    """Run the canned queries (all, or those named) over ``[since, until)`` on the archive at ``db_path``."""
    path = Path(db_path).expanduser()
    if not path.is_file():
        raise ReportError(f"{db_path}: no such archive file")
    names = list(queries) or list(load_queries())
    for name in names:
        try:
            get_query(name)
        except KeyError as error:
            raise ReportError(str(error.args[0])) from None
    window = {"since": parse_moment(since, now=now), "until": parse_moment(until, now=now)}
    try:
        conn = connect_readonly(str(path))
    except sqlite3.Error as error:
        raise ReportError(f"{db_path}: cannot open the archive: {error}") from None
    try:
        results = []
        for name in names:
            query = get_query(name)
            values = {key: value for key, value in window.items() if key in query.param_names}
            results.append(run_query(conn, name, values))
    except sqlite3.Error as error:
        raise ReportError(f"{db_path}: a query failed ({error}); is it an okta-calls archive?") from None
    finally:
        conn.close()
    return Report(
        db_path=str(db_path),
        since=window["since"],
        until=window["until"],
        generated_at=utc_iso(now or datetime.now(UTC)),
        results=tuple(results),
    )


# --- formatting -------------------------------------------------------------------------------------------


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        text = f"{value:g}" if abs(value) < 1e15 else str(value)
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def format_rows(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    """Rows as aligned text lines under a header; numbers aligned right."""
    cells = [[_cell(value) for value in row] for row in rows]
    widths = [len(column) for column in columns]
    for row in cells:
        for index, text in enumerate(row):
            widths[index] = max(widths[index], len(text))
    numeric = [bool(rows) and all(_is_number(row[i]) or row[i] is None for row in rows) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        parts = [
            value.rjust(widths[i]) if numeric[i] else value.ljust(widths[i]) for i, value in enumerate(values)
        ]
        return "  ".join(parts).rstrip()

    return [line(columns), line(["-" * width for width in widths])] + [line(row) for row in cells]


def render_table(report: Report, *, rows: int = 10, width: int = 100) -> str:
    """The report for a terminal: per query, its title, what it finds, the window, and its first rows."""
    window = f"from {report.since or '30 days before the newest event'} to {report.until or 'the newest event'}"
    out = [f"okta-calls report: {report.db_path}, {window}", ""]
    for result in report.results:
        query = result.query
        out.append(f"== {query.title} ({query.name}) ==")
        out.extend(textwrap.wrap(query.description, width=width))
        out.append("")
        if not result.rows:
            out.append("(no rows)")
        else:
            out.extend(format_rows(result.columns, result.rows[:rows]))
            if len(result.rows) > rows:
                out.append(f"... {len(result.rows) - rows} more row(s): --format json, or the query in Datasette")
        out.append("")
    return "\n".join(out)


def report_dict(report: Report) -> dict[str, Any]:
    """The report as plain data (what ``--format json`` prints)."""
    return {
        "database": report.db_path,
        "generated_at": report.generated_at,
        "since": report.since,
        "until": report.until,
        "queries": [
            {
                "name": result.query.name,
                "title": result.query.title,
                "description": result.query.description,
                "params": result.params,
                "columns": list(result.columns),
                "rows": result.dicts(),
            }
            for result in report.results
        ],
    }


def render_json(report: Report) -> str:
    """The report as indented JSON."""
    return json.dumps(report_dict(report), indent=2, ensure_ascii=False)


__all__ = [
    "Report",
    "ReportError",
    "build_report",
    "format_rows",
    "parse_moment",
    "render_json",
    "render_table",
    "report_dict",
]
