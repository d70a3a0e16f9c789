"""Large imports run reader processes that stage chunks (okta_calls.readers, okta_calls.staging): the archive
they make must be the one an in-process import makes, item for item, whatever the file holds."""

from __future__ import annotations

import copy
import gzip
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from okta_calls import ingest as ingest_module
from okta_calls import staging
from okta_calls.archive import Archive
from okta_calls.generate import generate_events
from okta_calls.ingest import ingest_paths

from .conftest import load_fixture

# Columns that record when something was written, not what: they differ between any two imports.
VOLATILE = {"first_seen_at", "rejected_at", "received_at", "started_at", "finished_at"}
TABLES = {
    "raw_events": "id",
    "events": "id",
    "targets": "event_id, position",
    "debug_data": "event_id, key",
    "ip_chain": "event_id, position",
    "actors": "id",
    "users": "id",
    "phones": "phone_number",
    # Rejects in file order; their ids follow the order batches were written, which chunk sizes change.
    "rejects": "source_ref, line, reason",
    "deliveries": "delivery_id",
    "delivery_events": "delivery_id, position",
}


def snapshot(path: Path) -> dict[str, list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    out = {}
    for table, order in TABLES.items():
        columns = [row[1] for row in conn.execute(f"PRAGMA table_info({table})")
                   if row[1] not in VOLATILE and (table, row[1]) != ("rejects", "id")]
        out[table] = conn.execute(f"SELECT {', '.join(columns)} FROM {table} ORDER BY {order}").fetchall()
    out["events_fts"] = conn.execute("SELECT rowid, * FROM events_fts ORDER BY rowid").fetchall()
    out["runs"] = conn.execute("SELECT seen, inserted, duplicates, rejected, status FROM ingest_runs ORDER BY id").fetchall()
    conn.close()
    return out


def awkward_file(path: Path, count: int = 400) -> Path:
    """Generated events with, scattered across chunk boundaries: repeats with the same and with different
    content (near and far), bad lines, blank lines, a non-object, an envelope, the shared fixtures."""
    events = list(generate_events(count, seed=5))
    lines: list[str] = []
    for position, event in enumerate(events):
        lines.append(json.dumps(event))
        if position % 37 == 5:
            lines.append(json.dumps(event, indent=None, sort_keys=True))  # the same value: a duplicate
        if position % 53 == 9:
            changed = copy.deepcopy(event)
            changed["displayMessage"] = "tampered"
            lines.append(json.dumps(changed))  # same uuid, other content: a conflict
        if position in (40, 41):
            # debugData the staged path packs as JSON (awkward text), and one it cannot (a NUL character)
            odd = copy.deepcopy(event)
            odd["uuid"] = f"odd-debug-{position}"
            odd["debugContext"] = {"debugData": {'quote"key': "\u00fc\U0001F600 \\ \n\t", "nested": {"x": [1, 2.5]},
                                                 "none": None, "": "", "nul": "a\x00b" if position == 41 else "ab"}}
            lines.append(json.dumps(odd))
        if position % 61 == 3:
            lines.append("{not json")
            lines.append("")
            lines.append("[1, 2]")
        if position == 150:
            envelope = {
                "eventType": "com.okta.event_hook",
                "eventTypeVersion": "1.0",
                "cloudEventsVersion": "0.1",
                "source": "https://example.okta.com/api/v1/eventHooks/who",
                "eventId": "delivery-in-the-middle",
                "eventTime": "2026-11-01T00:00:00.000Z",
                "contentType": "application/json",
                "data": {"events": [load_fixture("classic_voice_call.json"), load_fixture("ie_sms.json"), events[2]]},
            }
            lines.append(json.dumps(envelope))
    lines.append(json.dumps(events[0]))  # a repeat far from its first occurrence
    lines.append(json.dumps(load_fixture("bare_minimum.json")))
    path.write_text("\n".join(lines) + "\n")
    return path


def run(db: Path, paths: list[Path], *, staged: bool, monkeypatch: pytest.MonkeyPatch, **options: Any) -> Any:
    monkeypatch.setattr(ingest_module, "PROCESS_THRESHOLD", 0 if staged else 1 << 62)
    with Archive(db) as archive:
        return ingest_paths(archive, [str(path) for path in paths], **options)


@pytest.mark.parametrize("readers, batch_size", [(1, 50), (2, 7), (3, 64), (2, 250)])  # 250: chunks of several batches
def test_staged_import_equals_in_process_import(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                readers: int, batch_size: int) -> None:
    source = awkward_file(tmp_path / "awkward.ndjson")
    plain = run(tmp_path / "plain.db", [source], staged=False, monkeypatch=monkeypatch, batch_size=batch_size)
    staged = run(tmp_path / "staged.db", [source], staged=True, monkeypatch=monkeypatch,
                 batch_size=batch_size, readers=readers)
    assert staged.result == plain.result
    assert plain.result.rejected > 5 and plain.result.duplicates > 5  # the file exercises what it should
    assert snapshot(tmp_path / "staged.db") == snapshot(tmp_path / "plain.db")
    conn = sqlite3.connect(tmp_path / "staged.db")
    odd = dict(conn.execute("SELECT d.key, d.value FROM debug_data AS d JOIN events AS e ON e.id = d.event_id "
                            "WHERE e.uuid = 'odd-debug-41'").fetchall())
    conn.close()
    assert odd == {'quote"key': "\u00fc\U0001F600 \\ \n\t", "nested": '{"x":[1,2.5]}', "none": None, "": "", "nul": "a\x00b"}


def test_staged_reimport_into_a_filled_archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The second import of a file finds every event archived already: duplicates, and conflicts again."""
    source = awkward_file(tmp_path / "awkward.ndjson", count=120)
    for db, staged in (("plain.db", False), ("staged.db", True)):
        first = run(tmp_path / db, [source], staged=staged, monkeypatch=monkeypatch, batch_size=16, readers=2)
        second = run(tmp_path / db, [source], staged=staged, monkeypatch=monkeypatch, batch_size=16, readers=2)
        assert second.result.inserted == 0
        assert second.result.seen == first.result.seen
    assert snapshot(tmp_path / "staged.db") == snapshot(tmp_path / "plain.db")


def test_staged_formats_and_several_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A gzip file and a JSON array (whose items every reader decodes, one keeps) in one run."""
    events = list(generate_events(90, seed=9))
    packed = tmp_path / "events.ndjson.gz"
    with gzip.open(packed, "wt") as handle:
        handle.write("\n".join(json.dumps(event) for event in events[:40]) + "\n")
    array = tmp_path / "events.json"
    array.write_text(json.dumps(events[40:]))
    monkeypatch.setattr(ingest_module, "PROCESS_THRESHOLD", 0)
    with Archive(tmp_path / "staged.db") as archive:
        summary = ingest_paths(archive, [str(packed), str(array)], batch_size=6, readers=2)
    assert summary.result.inserted == 90 and not summary.file_errors
    monkeypatch.setattr(ingest_module, "PROCESS_THRESHOLD", 1 << 62)
    with Archive(tmp_path / "plain.db") as archive:
        ingest_paths(archive, [str(packed), str(array)], batch_size=6)
    assert snapshot(tmp_path / "staged.db") == snapshot(tmp_path / "plain.db")


def test_truncated_gzip_keeps_what_came_before(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = list(generate_events(300, seed=3))
    data = gzip.compress(("\n".join(json.dumps(event) for event in events) + "\n").encode())
    broken = tmp_path / "broken.ndjson.gz"
    broken.write_bytes(data[: len(data) * 2 // 3])
    results = {}
    for db, staged in (("plain.db", False), ("staged.db", True)):
        summary = run(tmp_path / db, [broken], staged=staged, monkeypatch=monkeypatch, batch_size=25, readers=2)
        assert len(summary.file_errors) == 1 and "broken.ndjson.gz" in summary.file_errors[0]
        results[db] = summary.result
    assert results["plain.db"] == results["staged.db"] and 0 < results["plain.db"].inserted < 300
    assert snapshot(tmp_path / "staged.db") == snapshot(tmp_path / "plain.db")


def test_staging_folder_is_removed_and_stale_ones_are_cleaned(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setenv("OKTA_CALLS_STAGING", str(scratch))
    dead = scratch / f"{staging.FOLDER_PREFIX}999999999-left"  # no such pid
    dead.mkdir()
    (dead / "r0-1.db").write_bytes(b"left by a killed import")
    alive = scratch / f"{staging.FOLDER_PREFIX}{os.getpid()}-other"  # a live import's folder
    alive.mkdir()
    source = awkward_file(tmp_path / "awkward.ndjson", count=60)
    run(tmp_path / "staged.db", [source], staged=True, monkeypatch=monkeypatch, batch_size=10, readers=2)
    assert sorted(entry.name for entry in scratch.iterdir()) == [alive.name]


def test_a_gzip_file_is_sized_by_what_it_holds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A 10 MB gzip of 100 MB of events is a large import: reader processes, not the in-process path."""
    text = ("\n".join(json.dumps(event) for event in generate_events(300, seed=4)) + "\n").encode()
    packed = tmp_path / "events.ndjson.gz"
    packed.write_bytes(gzip.compress(text))
    assert ingest_module.input_bytes(str(packed)) == len(text)
    assert ingest_module.input_bytes(str(tmp_path / "events.ndjson.gz")) > packed.stat().st_size
    started = []
    real = ingest_module.Readers

    def recording(*args: Any, **kwargs: Any) -> Any:
        started.append(kwargs["readers"])
        return real(*args, **kwargs)

    monkeypatch.setattr(ingest_module, "Readers", recording)
    monkeypatch.setattr(ingest_module, "PROCESS_THRESHOLD", packed.stat().st_size + 1)  # only the content is this big
    with Archive(tmp_path / "staged.db") as archive:
        summary = ingest_paths(archive, [str(packed)], readers=2)
    assert started == [2] and summary.result.inserted == 300


@pytest.mark.parametrize("size", [1, 2, 7, 64, 5000])
def test_chunk_plan_ramps_up_then_keeps_its_size(size: int) -> None:
    from okta_calls.readers import ChunkPlan

    plan = ChunkPlan(size)
    items = 6 * size + 3
    owners = [plan.chunk_of(item) for item in range(items)]
    assert owners[0] == 0 and owners == sorted(owners)  # chunks are consecutive runs of items
    lengths = [owners.count(chunk) for chunk in range(plan.chunks(items))]
    assert all(0 < length <= size for length in lengths)
    assert lengths[:-1] == sorted(lengths[:-1])  # growing, never shrinking, before the last (partial) one
    assert lengths[0] == max(1, size // 8) and size in lengths  # starts small, reaches the full size
    assert plan.chunks(0) == 0 and plan.chunks(1) == 1
