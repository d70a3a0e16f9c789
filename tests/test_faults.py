"""Fault runs: kill -9 at random moments, many times, then check the archive and finish the work."""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

CLI = [sys.executable, "-m", "okta_calls.cli"]
KILLS = 20


def scalar(db: Path, sql: str) -> object:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def committed(db: Path) -> int:
    try:
        return int(scalar(db, "SELECT count(*) FROM raw_events")) if db.exists() else 0
    except sqlite3.OperationalError:  # tables not created yet, or a commit in progress
        return 0


def check_consistent(db: Path) -> int:
    """Everything committed is whole: integrity, projections = raw log, run counters = data, no duplicate."""
    assert scalar(db, "PRAGMA integrity_check") == "ok"
    raw = int(scalar(db, "SELECT count(*) FROM raw_events"))
    assert scalar(db, "SELECT count(*) FROM events") == raw
    assert scalar(db, "SELECT count(DISTINCT uuid) FROM raw_events") == raw
    assert scalar(db, "SELECT coalesce(sum(inserted), 0) FROM ingest_runs") == raw
    assert scalar(db, "SELECT count(*) FROM events WHERE id NOT IN (SELECT id FROM raw_events)") == 0
    return raw


@pytest.mark.slow
def test_twenty_random_kills_during_file_ingest(tmp_path: Path) -> None:
    source = tmp_path / "events.ndjson"
    subprocess.run([*CLI, "generate", "30000", "--seed", "11", "-o", str(source)], check=True)
    total = sum(1 for _ in source.open("rb"))
    db = tmp_path / "faults.db"
    rng = random.Random(20261126)
    seen_counts = []
    for kill in range(KILLS):
        before = committed(db)
        # Kill when the archive has grown by a random 0.5-2.5% of the file (then a random few
        # milliseconds later, so the kill lands anywhere between two commits), whatever the machine's speed.
        # The last few runs aim past the end, so a kill also lands after the import has finished.
        target = before + int(total * rng.uniform(0.005, 0.025)) if kill < KILLS - 3 else total + 1
        process = subprocess.Popen([*CLI, "ingest", str(db), str(source), "--batch-size", "300",
                                    "--commit-interval", "0.05"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and committed(db) < target:
            time.sleep(0.005)
        time.sleep(rng.uniform(0.0, 0.05))
        process.send_signal(signal.SIGKILL)
        process.wait()
        if db.exists():
            seen_counts.append(check_consistent(db))
    print("committed after each kill:", seen_counts)
    # many kills landed mid-import, with part of the file committed
    assert len({n for n in seen_counts if 0 < n < total}) >= 12, seen_counts
    done = subprocess.run([*CLI, "ingest", str(db), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert check_consistent(db) == total
