"""A bulk load writes through a rollback journal when it has the archive to itself, and WAL otherwise
(okta_calls.journal); either way the archive ends in WAL mode with every event once."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import pytest

from okta_calls import journal
from okta_calls.archive import Archive
from okta_calls.generate import generate_events
from okta_calls.model import Incoming

EVENTS = list(generate_events(60, seed=9))


def load(archive: Archive, events: list[dict[str, object]]) -> None:
    run = archive.start_run("file", ["test"])
    archive.append([Incoming(event, None, "test", n) for n, event in enumerate(events, 1)], run_id=run, kind="file")


def mode(conn: sqlite3.Connection) -> tuple[str, int]:
    return conn.execute("PRAGMA journal_mode").fetchone()[0], conn.execute("PRAGMA synchronous").fetchone()[0]


def check(path: Path, events: int) -> None:
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert conn.execute("SELECT count(*), count(DISTINCT uuid) FROM raw_events").fetchone() == (events, events)
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == events
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # what a new connection finds on disk
    conn.close()


def test_alone_a_bulk_load_uses_a_rollback_journal_then_wal_again(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with Archive(path) as archive:
        assert mode(archive.conn) == ("wal", 1)
        with archive.bulk_load():
            assert mode(archive.conn) == ("truncate", 2)  # synchronous FULL while there is no WAL
            load(archive, EVENTS[:30])
            assert Path(f"{path}-journal").exists() and not Path(f"{path}-wal").exists()
            load(archive, EVENTS[30:])
        assert mode(archive.conn) == ("wal", 1)
    check(path, len(EVENTS))


def test_beside_another_connection_a_bulk_load_stays_in_wal(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    Archive(path).close()
    reader = sqlite3.connect(path)  # a Datasette, say: open, idle between queries
    assert reader.execute("SELECT count(*) FROM events").fetchone() == (0,)
    with Archive(path) as archive:
        with archive.bulk_load():
            assert mode(archive.conn) == ("wal", 1)
            load(archive, EVENTS)
            assert reader.execute("SELECT count(*) FROM events").fetchone() == (len(EVENTS),)
    reader.close()
    check(path, len(EVENTS))


def test_an_archive_opened_during_the_load_puts_it_back_into_wal_and_the_load_follows(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with Archive(path) as archive:
        with archive.bulk_load():
            load(archive, EVENTS[:20])
            with Archive(path) as other:  # `okta-calls receive` starting, say
                assert mode(other.conn)[0] == "wal"
                assert other.counts()["events"] == 20
            load(archive, EVENTS[20:])
            assert mode(archive.conn)[0] == "wal"
    check(path, len(EVENTS))


def test_a_reader_in_a_transaction_at_the_end_leaves_it_for_the_next_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(journal, "BACK_TO_WAL_WAIT", 0.1)
    path = tmp_path / "a.db"
    with Archive(path) as archive:
        with caplog.at_level(logging.WARNING), journal.rollback_journal(archive.conn, str(path)) as switched:
            assert switched
            load(archive, EVENTS)
            reader = sqlite3.connect(path, isolation_level=None)
            reader.execute("BEGIN")
            assert reader.execute("SELECT count(*) FROM events").fetchone() == (len(EVENTS),)  # holds a read lock
        assert "left in rollback-journal mode" in caplog.text
        assert mode(archive.conn) == ("truncate", 1)
        reader.execute("COMMIT")
        reader.close()
    Archive(path).close()  # the next okta-calls open
    check(path, len(EVENTS))


def test_in_memory_archives_are_left_alone() -> None:
    with Archive(":memory:") as archive:
        with archive.bulk_load():
            assert mode(archive.conn)[0] == "memory"
            load(archive, EVENTS)
        assert archive.counts()["events"] == len(EVENTS)
