"""The archive: append-once raw log, duplicates and conflicts, rejects, atomic batches, rebuild."""

from __future__ import annotations

import copy
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from okta_calls.archive import Archive, ArchiveBusy, ArchiveError
from okta_calls.flatten import PROJECTION_VERSION
from okta_calls.model import Cursor, Delivery, Incoming

from .conftest import load_fixture

FIXTURES = ("classic_voice_call.json", "ie_sms.json", "bare_minimum.json")


def items(*events: Any, ref: str = "test") -> list[Incoming]:
    return [Incoming(event, None, ref, line) for line, event in enumerate(events, start=1)]


def append(archive: Archive, *events: Any, **kwargs: Any):
    run = archive.start_run("file", ["test"])
    return archive.append(items(*events), run_id=run, kind="file", **kwargs)


def dump(archive: Archive) -> dict[str, list[tuple[Any, ...]]]:
    """Every projection's content in a stable order (rowid included for events and FTS)."""
    order = {
        "events": "id",
        "targets": "event_id, position",
        "debug_data": "event_id, key",
        "ip_chain": "event_id, position",
        "actors": "id",
        "users": "id",
        "phones": "phone_number",
        "events_fts": "rowid",
    }
    out = {}
    for table, by in order.items():
        select = "rowid, *" if table == "events_fts" else "*"
        out[table] = archive.conn.execute(f"SELECT {select} FROM {table} ORDER BY {by}").fetchall()
    return out


def test_append_projects_every_table(archive: Archive) -> None:
    result = append(archive, *(load_fixture(name) for name in FIXTURES))
    assert (result.seen, result.inserted, result.duplicates, result.rejected) == (3, 3, 0, 0)
    counts = archive.counts()
    assert counts["raw_events"] == counts["events"] == 3
    assert counts["users"] == 2 and counts["phones"] == 2 and counts["actors"] == 3
    assert archive.conn.execute("SELECT count(*) FROM targets").fetchone()[0] == 3
    assert archive.conn.execute("SELECT count(*) FROM debug_data").fetchone()[0] == 11
    assert archive.conn.execute("SELECT count(*) FROM ip_chain").fetchone()[0] == 1
    # the raw payload keeps unknown fields and is the same JSON value
    payload = archive.conn.execute(
        "SELECT json_extract(payload, '$.unknownTopLevel.kept[2]'), source_kind, source_ref, source_line "
        "FROM raw_events WHERE uuid = '9a1b2c3d-0003-11ef-8000-000000000003'"
    ).fetchone()
    assert payload == (3, "file", "test", 3)
    # full-text search finds a user by name and by phone number
    hits = archive.conn.execute(
        "SELECT e.uuid FROM events_fts JOIN events e ON e.id = events_fts.rowid WHERE events_fts MATCH 'grace'"
    ).fetchall()
    assert hits == [("9a1b2c3d-0002-11ef-8000-000000000002",)]


def test_same_content_is_a_duplicate_whatever_the_key_order(archive: Archive) -> None:
    event = load_fixture("classic_voice_call.json")
    append(archive, event)
    reordered = dict(reversed(list(copy.deepcopy(event).items())))
    result = append(archive, reordered, event)
    assert (result.inserted, result.duplicates, result.rejected) == (0, 2, 0)
    assert archive.counts()["raw_events"] == 1
    assert archive.conn.execute("SELECT event_count FROM users").fetchone()[0] == 1


def test_same_uuid_other_content_goes_to_rejects_and_archived_version_stays(archive: Archive) -> None:
    event = load_fixture("classic_voice_call.json")
    append(archive, event)
    changed = copy.deepcopy(event)
    changed["outcome"]["result"] = "FAILURE"
    result = append(archive, changed)
    assert (result.inserted, result.duplicates, result.rejected) == (0, 0, 1)
    assert archive.conn.execute("SELECT outcome_result FROM events").fetchone()[0] == "SUCCESS"
    reason, raw, uuid = archive.conn.execute("SELECT reason, raw, uuid FROM rejects").fetchone()
    assert "already archived with different content" in reason and '"FAILURE"' in raw and uuid == event["uuid"]


def test_conflict_within_one_batch(archive: Archive) -> None:
    event = load_fixture("ie_sms.json")
    other = copy.deepcopy(event)
    other["severity"] = "WARN"
    result = append(archive, event, copy.deepcopy(event), other)
    assert (result.inserted, result.duplicates, result.rejected) == (1, 1, 1)


@pytest.mark.parametrize(
    ("item", "reason"),
    [
        (Incoming(None, "{oops", "f.json", 7, "Expecting property name"), "not JSON: Expecting property name"),
        (Incoming([1, 2], "[1, 2]", "f.json", 8), "not a JSON object (got array)"),
        (Incoming({"eventType": "x"}, None, "f.json", 9), "no uuid field"),
        (Incoming({"uuid": 12}, None, "f.json", 10), "uuid is not a string (got number)"),
        (Incoming({"uuid": "  "}, None, "f.json", 11), "uuid is empty"),
    ],
)
def test_unkeyable_items_are_rejected_with_file_line_reason_and_raw(archive: Archive, item: Incoming, reason: str) -> None:
    run = archive.start_run("file", ["f.json"])
    good = Incoming(load_fixture("ie_sms.json"), None, "f.json", 1)
    result = archive.append([good, item], run_id=run, kind="file")
    assert (result.inserted, result.rejected) == (1, 1)
    row = archive.conn.execute("SELECT source_ref, line, reason, raw, ingest_run FROM rejects").fetchone()
    assert row[:3] == ("f.json", item.line, reason) and row[4] == run
    assert row[3] is not None
    assert archive.run(run)["rejected"] == 1 and archive.run(run)["inserted"] == 1


def test_raw_log_is_append_only(archive: Archive) -> None:
    append(archive, load_fixture("ie_sms.json"))
    for sql in ("UPDATE raw_events SET payload = '{}'", "DELETE FROM raw_events"):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            archive.conn.execute(sql)


def test_batch_is_atomic_with_cursor(archive: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    run = archive.start_run("api", ["https://example.okta.com"])
    first = items(load_fixture("ie_sms.json"))
    archive.append(first, run_id=run, kind="api", cursor=Cursor("org", "q", "https://x/next1"))
    assert archive.get_cursor("org", "q") == "https://x/next1"

    def boom(*args: Any) -> None:
        raise RuntimeError("crash while projecting")

    monkeypatch.setattr(archive, "_project", boom)
    with pytest.raises(RuntimeError):
        archive.append(items(load_fixture("classic_voice_call.json")), run_id=run, kind="api",
                       cursor=Cursor("org", "q", "https://x/next2"))
    # neither the raw event, nor the counters, nor the cursor moved
    assert archive.get_cursor("org", "q") == "https://x/next1"
    assert archive.counts()["raw_events"] == 1
    assert archive.run(run)["seen"] == 1


def test_delivery_envelope_recorded_once(archive: Archive) -> None:
    delivery = Delivery("evt-1", "2026-03-02T14:10:00.000Z", "https://acme.okta.com/api/v1/eventHooks/who1",
                        "com.okta.event_hook", "1.0", "0.1", "application/json", {"authorization": "[redacted]"})
    run = archive.start_run("hook", ["test"])
    events = [load_fixture("classic_voice_call.json"), load_fixture("ie_sms.json")]
    first = archive.append(items(*events), run_id=run, kind="hook", delivery=delivery)
    again = archive.append(items(*events), run_id=run, kind="hook", delivery=delivery)
    assert (first.inserted, again.inserted, again.duplicates) == (2, 0, 2)
    assert archive.conn.execute("SELECT count(*) FROM deliveries").fetchone()[0] == 1
    assert archive.conn.execute("SELECT delivery_id, position, uuid FROM delivery_events ORDER BY position").fetchall() == [
        ("evt-1", 1, events[0]["uuid"]),
        ("evt-1", 2, events[1]["uuid"]),
    ]
    card = archive.conn.execute('SELECT "Event ID", "Event Time", "Source", "Headers" FROM card WHERE "UUID" = ?',
                                (events[0]["uuid"],)).fetchone()
    assert card == ("evt-1", "2026-03-02T14:10:00.000Z", "https://acme.okta.com/api/v1/eventHooks/who1",
                    '{"authorization":"[redacted]"}')


def test_dimensions_keep_newest_fields_first_last_seen_and_count(archive: Archive) -> None:
    old = load_fixture("classic_voice_call.json")
    new = copy.deepcopy(old)
    new["uuid"] = "9a1b2c3d-0009-11ef-8000-000000000009"
    new["published"] = "2026-04-01T00:00:00.000Z"
    new["target"][0]["displayName"] = "Ada King"
    append(archive, new)  # newest first: arrival order must not matter
    append(archive, old)
    row = archive.conn.execute("SELECT display_name, first_seen, last_seen, event_count FROM users").fetchone()
    assert row == ("Ada King", "2026-03-02T14:05:06.789Z", "2026-04-01T00:00:00.000Z", 2)


def test_rebuild_equals_incremental(archive: Archive) -> None:
    events = [load_fixture(name) for name in FIXTURES]
    variant = copy.deepcopy(events[0])
    variant.update(uuid="9a1b2c3d-0010-11ef-8000-000000000010", published="2026-01-01T00:00:00.000Z")
    for event in (*events, variant):  # several batches
        append(archive, event)
    incremental = dump(archive)
    assert archive.rebuild() == 4
    assert dump(archive) == incremental


def test_stale_projection_version_is_detected_and_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    with Archive(path) as archive:
        append(archive, load_fixture("ie_sms.json"))
        archive.conn.execute("UPDATE archive_meta SET value = '0' WHERE key = 'projection_version'")
        archive.conn.execute("DELETE FROM events")
    with Archive(path) as archive:
        assert archive.projections_stale
        archive.rebuild()
        assert not archive.projections_stale
        assert archive.meta("projection_version") == str(PROJECTION_VERSION)
        assert archive.counts()["events"] == 1


def test_file_archive_uses_wal_and_16k_pages(tmp_path: Path) -> None:
    applied = "SELECT name FROM _sqlite_migrations ORDER BY id"
    with Archive(tmp_path / "a.db") as archive:
        assert archive.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert archive.conn.execute("PRAGMA page_size").fetchone()[0] == 16384
        first = archive.conn.execute(applied).fetchall()
    assert first == [("m001_archive",), ("m002_projection_queue",)]
    # reopening is idempotent: no migration applied twice, same shape
    with Archive(tmp_path / "a.db") as archive:
        assert archive.conn.execute(applied).fetchall() == first


def test_busy_database_raises_archive_busy_and_writes_nothing(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    Archive(path).close()
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with Archive(path, timeout=0.2) as archive:
            run_error = None
            try:
                archive.start_run("file", ["x"])
            except ArchiveBusy as error:
                run_error = error
            assert run_error is not None and "locked" in str(run_error)
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()


def test_read_only_database_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database SQLite can only read (permissions, a read-only mount) gives one line naming the file."""
    path = tmp_path / "ro.db"
    with Archive(path) as archive:
        append(archive, load_fixture("ie_sms.json"))
    real_connect = sqlite3.connect

    def read_only(database: str, **kwargs: Any) -> sqlite3.Connection:
        return real_connect(f"file:{database}?mode=ro", uri=True, **kwargs)

    monkeypatch.setattr("okta_calls.archive.sqlite3.connect", read_only)
    with Archive(path) as archive:
        with pytest.raises(ArchiveError, match="read-only") as error:
            append(archive, load_fixture("classic_voice_call.json"))
        assert str(path) in str(error.value)
        assert archive.counts()["raw_events"] == 1


def test_missing_indexes_are_created_on_open(tmp_path: Path) -> None:
    """An index declared after the archive was made (or dropped by hand) comes back when it is opened."""
    path = tmp_path / "a.db"
    with Archive(path) as archive:
        append(archive, load_fixture("ie_sms.json"))
        archive.conn.execute("DROP INDEX idx_events_published")
    with Archive(path) as archive:
        names = {row[0] for row in archive.conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
        assert "idx_events_published" in names


def test_wal_over_its_limit_is_restarted_once_readers_let_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Overlapping readers keep the autocheckpoint from restarting the WAL; past ``wal_limit`` the writer
    waits for them (up to WAL_LIMIT_WAIT) and restarts it, so the WAL stays bounded."""
    import threading
    import time

    from okta_calls import archive as archive_module
    from okta_calls.generate import generate_events

    monkeypatch.setattr(archive_module, "WAL_LIMIT_WAIT", 3.0)
    path = tmp_path / "wal.db"
    events = list(generate_events(600, seed=2))
    with Archive(path) as writer:
        writer.wal_limit = 256 << 10
        append(writer, *events[:100])
        release = threading.Event()
        holding = threading.Event()

        def reader() -> None:  # a long read on an old snapshot, like a slow Datasette query
            conn = sqlite3.connect(path)
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM events").fetchone()
            holding.set()
            release.wait(10)
            conn.execute("COMMIT")
            conn.close()

        thread = threading.Thread(target=reader)
        thread.start()
        holding.wait(5)
        threading.Timer(1.0, release.set).start()  # the reader lets go a second later
        started = time.monotonic()
        for start in range(100, 600, 50):
            append(writer, *events[start : start + 50])
        waited = time.monotonic() - started
        thread.join()
        wal = path.parent / "wal.db-wal"
        assert wal.stat().st_size < 256 << 10, wal.stat().st_size  # restarted (truncated), not still growing
        assert 0.5 < waited < 3.0  # it did wait for the reader, and no longer than the reader held on
        assert writer.conn.execute("SELECT count(*) FROM events").fetchone()[0] == 600


def test_wal_limit_gives_up_in_time_and_retries_later(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    from okta_calls import archive as archive_module
    from okta_calls.generate import generate_events

    monkeypatch.setattr(archive_module, "WAL_LIMIT_WAIT", 0.3)
    path = tmp_path / "wal.db"
    events = list(generate_events(400, seed=3))
    with Archive(path) as writer:
        writer.wal_limit = 128 << 10
        append(writer, *events[:50])
        stuck = sqlite3.connect(path)  # a reader that never lets go
        stuck.execute("BEGIN")
        stuck.execute("SELECT count(*) FROM events").fetchone()
        started = time.monotonic()
        for start in range(50, 400, 25):
            append(writer, *events[start : start + 25])
        elapsed = time.monotonic() - started
        stuck.execute("COMMIT")
        stuck.close()
        # one wait of 0.3 s, then no new attempt for WAL_LIMIT_RETRY seconds: commits are not held up each time
        assert elapsed < 0.3 + 2.0, elapsed
        assert writer.conn.execute("SELECT count(*) FROM raw_events").fetchone()[0] == 400
