"""The receiver's background WAL checkpoints: the WAL is folded back without the writer doing it."""

from __future__ import annotations

import sqlite3
import time
from contextlib import closing
from pathlib import Path

from okta_calls.checkpointer import Checkpointer


def test_the_checkpointer_folds_the_wal_back_while_the_writer_never_checkpoints(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with closing(sqlite3.connect(db, isolation_level=None)) as writer:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("PRAGMA wal_autocheckpoint = 0")  # the writer never checkpoints
        writer.execute("CREATE TABLE t (x TEXT)")
        for _ in range(50):
            writer.execute("INSERT INTO t VALUES (?)", ("x" * 4000,))
        assert db.stat().st_size < 10 * 4096  # every page is still in the WAL
        checkpointer = Checkpointer(db, interval=0.02).start()
        try:
            deadline = time.monotonic() + 5
            while db.stat().st_size < 40 * 4096:  # the inserted pages reach the database file
                assert time.monotonic() < deadline, "no checkpoint reached the database file"
                time.sleep(0.02)
        finally:
            checkpointer.stop()
