"""The real `okta-calls` command on real files: exit codes, summaries, stdin, progress, crash safety."""

from __future__ import annotations

import gzip
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import FIXTURES, load_fixture

CLI = [sys.executable, "-m", "okta_calls.cli"]


def okta_calls(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *map(str, args)], input=stdin.decode() if stdin else None,
                          capture_output=True, text=True, timeout=300)


def count(db: Path, sql: str) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def archived_so_far(db: Path) -> int:
    """Events committed so far; 0 while the ingest has not yet created the file or its tables."""
    try:
        return count(db, "SELECT count(*) FROM raw_events") if db.exists() else 0
    except sqlite3.OperationalError:
        return 0


def ndjson(events: list[dict[str, object]]) -> bytes:
    return b"".join(json.dumps(e).encode() + b"\n" for e in events)


def test_ingest_files_and_exit_zero(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    done = okta_calls("ingest", db, FIXTURES / "classic_voice_call.json", FIXTURES / "ie_sms.json")
    assert done.returncode == 0, done.stderr
    assert "2 seen, 2 new, 0 duplicates, 0 rejected" in done.stdout
    assert done.stderr == ""  # not a terminal: no progress bar
    again = okta_calls("ingest", db, FIXTURES / "classic_voice_call.json")
    assert again.returncode == 0 and "1 seen, 0 new, 1 duplicates" in again.stdout
    assert count(db, "SELECT count(*) FROM raw_events") == 2


def test_rejects_give_exit_3_and_point_at_the_table(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    src = tmp_path / "mixed.ndjson"
    src.write_bytes(ndjson([load_fixture("ie_sms.json")]) + b"{broken\n" + ndjson([{"no": "uuid"}]))
    done = okta_calls("ingest", db, src)
    assert done.returncode == 3
    assert "2 rejected" in done.stdout and "SELECT * FROM rejects" in done.stderr
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT source_ref, line, reason FROM rejects ORDER BY line").fetchall()
    assert [(Path(r[0]).name, r[1]) for r in rows] == [("mixed.ndjson", 2), ("mixed.ndjson", 3)]
    assert rows[0][2].startswith("not JSON") and rows[1][2] == "no uuid field"


def test_unreadable_file_gives_exit_4_names_it_and_keeps_the_rest(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    done = okta_calls("ingest", db, tmp_path / "missing.json", FIXTURES / "ie_sms.json")
    assert done.returncode == 4
    assert "missing.json: no such file" in done.stderr
    assert len([line for line in done.stderr.splitlines() if "missing.json" in line]) >= 1
    assert count(db, "SELECT count(*) FROM raw_events") == 1
    assert count(db, "SELECT count(*) FROM ingest_runs WHERE status = 'partial'") == 1


def test_stdin_gzip(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    data = gzip.compress(ndjson([load_fixture("ie_sms.json"), load_fixture("classic_voice_call.json")]))
    done = subprocess.run([*CLI, "ingest", str(db), "-"], input=data, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert count(db, "SELECT count(*) FROM raw_events WHERE source_ref = '<stdin>'") == 2


def test_no_paths_is_a_usage_error(tmp_path: Path) -> None:
    done = okta_calls("ingest", tmp_path / "x.db")
    assert done.returncode == 2 and "give files to read" in done.stderr


def test_rebuild_and_status(tmp_path: Path) -> None:
    db = tmp_path / "calls.db"
    okta_calls("ingest", db, *(FIXTURES / name for name in ("classic_voice_call.json", "ie_sms.json", "bare_minimum.json")))
    before = sqlite3.connect(db).execute("SELECT * FROM events ORDER BY id").fetchall()
    done = okta_calls("rebuild", db)
    assert done.returncode == 0 and "rebuilt the projections of 3 events" in done.stdout
    assert sqlite3.connect(db).execute("SELECT * FROM events ORDER BY id").fetchall() == before
    status = okta_calls("status", db)
    assert "raw_events: 3" in status.stdout and "(current)" in status.stdout


def test_generate_is_deterministic_and_ingestible(tmp_path: Path) -> None:
    a, b = tmp_path / "a.ndjson", tmp_path / "b.ndjson.gz"
    assert okta_calls("generate", 300, "--seed", 5, "-o", a).returncode == 0
    assert okta_calls("generate", 300, "--seed", 5, "-o", b).returncode == 0
    assert gzip.decompress(b.read_bytes()) == a.read_bytes()
    db = tmp_path / "g.db"
    done = okta_calls("ingest", db, b)
    assert done.returncode == 0 and "300 seen, 300 new" in done.stdout


@pytest.mark.slow
def test_kill_9_mid_import_loses_nothing_and_rerun_completes(tmp_path: Path) -> None:
    """kill -9 in the middle of a big import, then run it again: every event exactly once."""
    source = tmp_path / "events.ndjson"
    assert okta_calls("generate", 60000, "--seed", 3, "-o", source).returncode == 0
    total = sum(1 for _ in source.open("rb"))
    db = tmp_path / "crash.db"
    journals = 0
    for delay in (1.0, 2.5):
        process = subprocess.Popen([*CLI, "ingest", str(db), str(source), "--batch-size", "500"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        # Wait for the first commits by the file's size: a connection opened now would keep the import in WAL.
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (db.stat().st_size if db.exists() else 0) < 20 << 20:
            time.sleep(0.05)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        # a bulk load with the archive to itself writes through a rollback journal (okta_calls.journal)
        journals += Path(f"{db}-journal").exists()
        archived = count(db, "SELECT count(*) FROM raw_events")
        assert 0 < archived < total, "the kill should land mid-import"
        # everything committed is whole: projections match the raw log, counters match the data
        assert count(db, "SELECT count(*) FROM events") == archived
        assert count(db, "SELECT coalesce(sum(inserted), 0) FROM ingest_runs") == archived
        assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    done = okta_calls("ingest", db, source)
    assert done.returncode == 0, done.stderr
    assert count(db, "SELECT count(*) FROM raw_events") == count(db, "SELECT count(DISTINCT uuid) FROM raw_events") == total
    assert count(db, "SELECT count(*) FROM events") == total
    assert sqlite3.connect(db).execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert journals >= 1, "no kill landed in a rollback-journal bulk load"
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # the indexes a bulk load defers (dropped when it was killed) are all there again
    from okta_calls.schema import INDEXES

    with sqlite3.connect(db) as conn:
        names = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {index.name for index in INDEXES} <= names


def test_payload_is_kept_as_received(tmp_path: Path) -> None:
    """An NDJSON line is stored byte for byte (spacing, key order, "null" strings); a pretty-printed event,
    whose layout is not part of its value, is stored compact."""
    db = tmp_path / "calls.db"
    line = '{"uuid": "as-received-1",  "published" : "2026-01-02T03:04:05.678Z", "client": {"zone": "null"}, "z": 1, "a": [1.50, 2e3]}'
    (tmp_path / "one.ndjson").write_text(line + "\r\n")
    pretty = {"uuid": "as-received-2", "b": {"c": [1, 2]}, "a": None}
    (tmp_path / "two.json").write_text(json.dumps(pretty, indent=4))
    assert okta_calls("ingest", db, tmp_path / "one.ndjson", tmp_path / "two.json").returncode == 0
    with sqlite3.connect(db) as conn:
        payloads = dict(conn.execute("SELECT uuid, payload FROM raw_events"))
    assert payloads["as-received-1"] == line
    assert payloads["as-received-2"] == '{"uuid":"as-received-2","b":{"c":[1,2]},"a":null}'


@pytest.mark.slow
def test_reader_process_ends_when_the_writer_is_killed(tmp_path: Path) -> None:
    """A big import reads in a second process; kill -9 the writer and that reader must not linger."""
    source = tmp_path / "big.ndjson"
    assert okta_calls("generate", 20000, "--seed", 4, "-o", source).returncode == 0
    assert source.stat().st_size > 16 << 20  # large enough for the reader process
    process = subprocess.Popen([*CLI, "ingest", str(tmp_path / "r.db"), str(source)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    children: list[int] = []
    while time.monotonic() < deadline and not children:
        found = subprocess.run(["pgrep", "-P", str(process.pid)], capture_output=True, text=True).stdout.split()
        children = [int(pid) for pid in found]
        time.sleep(0.05)
    assert children, "the reader process did not start"
    process.send_signal(signal.SIGKILL)
    process.wait()
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in children):
        time.sleep(0.2)
    lingering = [pid for pid in children if os.path.exists(f"/proc/{pid}")
                 and open(f"/proc/{pid}/stat").read().split()[2] != "Z"]
    assert lingering == []


def test_batch_size_default_is_the_library_one() -> None:
    from okta_calls.cli import ingest
    from okta_calls.ingest import DEFAULT_BATCH

    option = next(param for param in ingest.params if param.name == "batch_size")
    assert option.default == DEFAULT_BATCH
