"""The journal a large import writes through: a rollback journal while it is the archive's only connection.

In WAL mode SQLite writes every page twice: into the WAL at commit, then into the database file at the
checkpoint (reading it back from the WAL in between). A rollback journal keeps only the original content of
the pages that existed when a transaction began; the pages an import adds at the end of the file (nearly all
of them) are written once, into the database itself. Measured with benchmarks/bench_ingest.py's file: the
writer's CPU for 100,000 events 3.2 -> 2.7 s (wall 5.1 -> 4.6 s), for 1,000,000 events 42 -> 35 s
(wall 56 -> 50 s).

SQLite leaves WAL only when no other connection has the database open, so beside a running ``serve`` or
``receive`` an import stays in WAL, as it always did. A connection that opens during the load reads between
its commits (waiting for a commit up to its busy timeout), and an okta-calls writer that opens it puts the
archive back into WAL (every ``Archive`` asks for WAL), which the load then simply follows. Commits stay
atomic, and durable through a power cut: ``synchronous = FULL`` in rollback mode, where WAL's ``NORMAL``
would not be enough. Afterwards the archive goes back to WAL; when another connection holds it open then,
the next okta-calls open does it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["rollback_journal"]

log = logging.getLogger(__name__)

BACK_TO_WAL_WAIT = 2.0  # seconds to wait for other connections' reads before going back into WAL


def _journal_mode(conn: sqlite3.Connection, mode: str) -> str | None:
    """Ask for ``mode``; the mode SQLite is in afterwards (``None`` when it could not even answer)."""
    try:
        return str(conn.execute(f"PRAGMA journal_mode = {mode}").fetchone()[0]).lower()
    except sqlite3.Error as error:  # busy: another connection is in a transaction
        log.debug("journal_mode = %s refused: %s", mode, error)
        return None


@contextmanager
def rollback_journal(conn: sqlite3.Connection, path: str) -> Iterator[bool]:
    """Run the block with a rollback journal when ``conn`` is the database's only connection; yields whether
    it is. The archive is in WAL mode again afterwards, if it can be. (SQLite itself refuses the switch for an
    in-memory database, beside another connection, and inside a transaction.)"""
    switched = _journal_mode(conn, "TRUNCATE") == "truncate"
    if not switched:
        log.debug("%s: not its only connection (or in memory): the import keeps its journal mode", path)
        yield False
        return
    conn.execute("PRAGMA synchronous = FULL")
    try:
        yield True
    finally:
        conn.execute("PRAGMA synchronous = NORMAL")
        # Into WAL takes an exclusive lock: wait for readers a little, not a whole busy timeout.
        previous = conn.execute("PRAGMA busy_timeout").fetchone()[0]
        conn.execute(f"PRAGMA busy_timeout = {int(BACK_TO_WAL_WAIT * 1000)}")
        try:
            mode = _journal_mode(conn, "WAL")
        finally:
            conn.execute(f"PRAGMA busy_timeout = {int(previous)}")
        if mode != "wal":
            log.warning("%s: left in rollback-journal mode (another connection has it open); the next okta-calls "
                        "command that opens it puts it back into WAL mode", path)
