"""The WAL's bound: readers held at the gate while a writer restarts the WAL, other writers never kept out."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from okta_calls.checkpointer import Checkpointer
from okta_calls.walgate import HOLD_WAIT, ReadGate, restart_wal, wal_limit_from_env

MIB = 1 << 20


def make_db(path: Path) -> None:
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")


def write(conn: sqlite3.Connection, rows: int = 20) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany("INSERT INTO t (body) VALUES (?)", [("x" * 2000,)] * rows)
    conn.execute("COMMIT")


def test_wal_limit_from_the_environment() -> None:
    assert wal_limit_from_env(512 * MIB, {}) == 512 * MIB
    assert wal_limit_from_env(512 * MIB, {"OKTA_CALLS_WAL_LIMIT_MB": "24"}) == 24 * MIB
    assert wal_limit_from_env(512 * MIB, {"OKTA_CALLS_WAL_LIMIT_MB": "0.5"}) == MIB // 2
    for bad in ("0", "-3", "lots"):
        assert wal_limit_from_env(512 * MIB, {"OKTA_CALLS_WAL_LIMIT_MB": bad}) == 512 * MIB


def test_a_closed_gate_holds_readers_back_until_it_opens(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    gate = ReadGate(db)
    assert gate.enter() == 0.0  # no gate file yet: an open gate
    closer = ReadGate(db)
    with closer.closed() as closed:
        assert closed
        waited: list[float] = []
        reader = threading.Thread(target=lambda: waited.append(ReadGate(db).enter()))
        reader.start()
        time.sleep(0.5)
        assert reader.is_alive()  # still at the gate
        with ReadGate(db).closed() as second:
            assert not second  # one writer restarts at a time
    reader.join(5)
    assert 0.4 < waited[0] < 3
    assert ReadGate(db).enter(max_wait=0.1) < 0.1


def test_a_restart_waits_for_the_running_reader_without_keeping_writers_out(tmp_path: Path) -> None:
    """The old TRUNCATE held the write lock while it waited for readers (a delivery missed Okta's deadline);
    the restart waits for them at no cost to writers: no commit meanwhile waits longer than HOLD_WAIT."""
    db = tmp_path / "w.db"
    make_db(db)
    writer = sqlite3.connect(db, isolation_level=None, timeout=10, check_same_thread=False)
    for _ in range(20):
        write(writer)
    holding, release = threading.Event(), threading.Event()

    def slow_query() -> None:  # a Datasette query already running when the WAL is to restart
        conn = sqlite3.connect(db, isolation_level=None)
        conn.execute("BEGIN")
        conn.execute("SELECT count(*) FROM t").fetchone()
        holding.set()
        release.wait(10)
        conn.execute("COMMIT")
        conn.close()

    reader = threading.Thread(target=slow_query)
    reader.start()
    holding.wait(5)
    stop, slowest = threading.Event(), [0.0]

    def keep_writing() -> None:  # the receiver, committing all along
        while not stop.is_set():
            started = time.monotonic()
            write(writer, 5)
            slowest[0] = max(slowest[0], time.monotonic() - started)
            time.sleep(0.01)

    writing = threading.Thread(target=keep_writing)
    writing.start()
    threading.Timer(1.5, release.set).start()
    restarter = sqlite3.connect(db, isolation_level=None, timeout=10)
    started = time.monotonic()
    done = restart_wal(restarter, db, drain=5.0)
    took = time.monotonic() - started
    stop.set()
    writing.join()
    reader.join()
    assert done
    assert 1.3 < took < 4.5  # it waited for the running query
    assert slowest[0] < HOLD_WAIT + 0.3, slowest  # ... and no commit waited for it
    assert restarter.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000  # restored


def test_a_restart_gives_up_when_a_reader_outside_the_gate_holds_on(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    make_db(db)
    writer = sqlite3.connect(db, isolation_level=None)
    write(writer)
    stuck = sqlite3.connect(db, isolation_level=None)
    stuck.execute("BEGIN")
    stuck.execute("SELECT count(*) FROM t").fetchone()
    write(writer)
    started = time.monotonic()
    assert not restart_wal(writer, db, drain=0.3)
    assert time.monotonic() - started < 1.5
    stuck.execute("COMMIT")
    assert restart_wal(writer, db, drain=0.3)
    assert (tmp_path / "s.db-wal").stat().st_size == 0


def test_the_checkpointer_restarts_the_wal_past_its_limit(tmp_path: Path) -> None:
    db = tmp_path / "c.db"
    make_db(db)
    writer = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    checkpointer = Checkpointer(db, interval=0.05, wal_limit=256 << 10).start()
    try:
        peak = 0
        for _ in range(150):
            write(writer)
            peak = max(peak, (tmp_path / "c.db-wal").stat().st_size)
            time.sleep(0.01)  # 1.5 s of writing, about 30 looks of the checkpointer
    finally:
        checkpointer.stop()
    assert checkpointer.restarts >= 2
    assert peak < 2 * MIB  # 150 commits of 40 KB would be 6 MB of WAL and more


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_serve_passes_the_gate_before_each_query(tmp_path: Path) -> None:
    from okta_calls.serve import build_datasette

    db = tmp_path / "served.db"
    make_db(db)
    datasette = build_datasette(db, metadata={})
    database = next(d for d in datasette.databases.values() if d.path == str(db))

    async def timed_query() -> float:
        started = time.monotonic()
        await database.execute("SELECT count(*) FROM t")
        return time.monotonic() - started

    assert asyncio.run(timed_query()) < 1.0
    opened = threading.Event()

    def hold_closed() -> None:
        with ReadGate(db).closed():
            time.sleep(0.6)
        opened.set()

    closer = threading.Thread(target=hold_closed)
    closer.start()
    time.sleep(0.1)
    waited = asyncio.run(timed_query())
    closer.join()
    assert waited > 0.4, waited


def test_the_checkpointer_restarts_the_wal_past_its_content_limit_without_truncating_it(tmp_path: Path) -> None:
    """With readers back to back (through the gate, as Datasette's), the writer never finds a moment to start
    the WAL over; the checkpointer does it past ``content_limit`` bytes, and writes the file over rather than
    cutting it (cutting a large WAL held the write lock for hundreds of ms)."""
    db = tmp_path / "c.db"
    make_db(db)
    writer = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    writer.execute("PRAGMA wal_autocheckpoint = 0")
    stop = threading.Event()

    def reader(offset: float) -> None:
        conn = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
        gate = ReadGate(db)
        time.sleep(offset)
        while not stop.is_set():
            gate.enter()
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM t").fetchone()
            time.sleep(0.02)  # two readers, each holding a snapshot 20 ms: there is always one
            conn.execute("COMMIT")
        conn.close()

    readers = [threading.Thread(target=reader, args=(offset,)) for offset in (0.0, 0.01)]
    for thread in readers:
        thread.start()
    checkpointer = Checkpointer(db, interval=0.05, content_limit=256 << 10).start()
    wal = tmp_path / "c.db-wal"
    try:
        sizes = []
        for _ in range(150):
            write(writer)
            sizes.append(wal.stat().st_size)
            time.sleep(0.01)
    finally:
        checkpointer.stop()
        stop.set()
        for thread in readers:
            thread.join()
        writer.close()
    assert checkpointer.restarts >= 2
    # 150 commits of 40 KB would be 6 MB of WAL and more; alone it stays under 2 MiB, on a loaded machine (the
    # whole suite) the restarts come later, so the bound asserted is the one that holds there too.
    assert max(sizes) < 4.5 * MIB
    assert sizes == sorted(sizes)  # never truncated: the file keeps its size and is written over


def test_the_checkpointer_flushes_the_wal_between_checkpoints(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The WAL's new frames reach the disk every ``flush_interval``, so a restart's sync has little to write."""
    import os

    db = tmp_path / "f.db"
    make_db(db)
    flushed: list[str] = []
    real = os.fdatasync

    def recording(fd: int) -> None:
        flushed.append(os.readlink(f"/proc/self/fd/{fd}") if os.path.exists("/proc/self/fd") else "?")
        real(fd)

    monkeypatch.setattr(os, "fdatasync", recording)
    checkpointer = Checkpointer(db, interval=10.0, flush_interval=0.02).start()
    time.sleep(0.3)
    checkpointer.stop()
    assert len(flushed) >= 5
    assert all(path.endswith("f.db-wal") or path == "?" for path in flushed)
