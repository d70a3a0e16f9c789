"""A shorter run of benchmarks/load_run.py: ingest --follow, receive and serve on one archive, with readers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[1]
MIB = 1 << 20


@pytest.mark.slow
def test_follow_receive_and_serve_together_lose_nothing_and_lock_out_nobody(tmp_path: Path) -> None:
    report_path = tmp_path / "load.json"
    done = subprocess.run(
        [sys.executable, str(PROJECT / "benchmarks" / "load_run.py"), "--seconds", "35", "--preload", "3000",
         "--okta-rate", "10", "--hook-rate", "10", "--readers", "3", "--wal-limit-mb", "6", "--json", str(report_path)],
        capture_output=True, text=True, timeout=600, cwd=PROJECT,
    )
    print(done.stdout)
    report = json.loads(report_path.read_text())
    assert report["failures"] == [], done.stdout + done.stderr[-3000:]
    assert done.returncode == 0
    # every answer a reader or Okta got was a success: no 5xx, no "database is locked"
    assert set(report["reader_statuses"]) == {"200"} and report["reader_requests"] > 50
    assert set(report["poster_statuses"]) == {"200"} and report["deliveries_acknowledged"] > 200
    assert report["locked_in_answers"] == 0 and not any(report["locked_in_logs"].values())
    # every event served by the API or acknowledged by the receiver is archived, once
    assert report["api_events_archived"] == report["api_events_served"] > 100
    assert report["hook_events_archived"] == report["hook_events_acknowledged"]
    assert report["events"] == report["raw_events"] and report["duplicates_in_log"] == 0
    assert report["integrity"] == "ok"
    # The WAL is bounded: past its limit (6 MiB here, OKTA_CALLS_WAL_LIMIT_MB) it was restarted again and again
    # while the readers kept reading, and it never outgrew the limit by more than the writers write in the
    # restart's wait (benchmarks/load_run.py: BOUND_WINDOW).
    assert report["wal_limit_bytes"] == 6 * MIB
    assert report["wal_restarts"] >= 2, done.stdout
    assert report["wal_peak_bytes"] <= report["wal_bound_bytes"], done.stdout
    assert report["wal_bound_bytes"] < report["wal_limit_bytes"] + 128 * MIB  # a window's writing, not the run's
    assert report["wal_final_bytes"] <= report["wal_bound_bytes"]  # and at rest
