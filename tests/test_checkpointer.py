"""The receiver's background WAL checkpoints: the WAL is folded back without the writer doing it."""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time
from contextlib import closing
from pathlib import Path

import pytest

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


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread priorities are a Linux feature")
def test_the_checkpoint_thread_alone_runs_at_a_lower_cpu_priority(tmp_path: Path) -> None:
    """Copying pages can wait when the machine is busy; the receiver's event loop and writer thread cannot."""
    own = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    checkpointer = Checkpointer(tmp_path / "a.db", interval=0.02, nice=5).start()
    try:
        deadline = time.monotonic() + 5
        while checkpointer.native_id is None or _nice(checkpointer.native_id) != min(19, own + 5):
            assert time.monotonic() < deadline, "the checkpoint thread kept the process's priority"
            time.sleep(0.02)
        assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == own  # the rest is untouched
    finally:
        checkpointer.stop()


def _nice(tid: int) -> int:
    return os.getpriority(os.PRIO_PROCESS, tid)
