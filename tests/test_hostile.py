"""A corpus of hostile inputs, each with one clear, asserted outcome.

Every file is generated here (nothing binary is committed) and ingested by the real command in a child process,
whose peak RSS is read from ``/proc`` (``VmHWM`` of it and of its reader process). Not ``os.wait4``: Linux
counts the memory of the process that forked the child in its ``ru_maxrss``, so under a 500 MB pytest every
child "peaked" at 500 MB. Each input is sandwiched between two good events: the outcome is either
"archived as received (and flattened as far as it goes)" or "rejected to ``rejects`` with a reason naming the
problem, file and line"; the good neighbours are archived either way, and the command never crashes.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CLI = [sys.executable, "-m", "okta_calls.cli"]
MIB = 1 << 20
EXIT_OK, EXIT_REJECTS = 0, 3


def event(uuid: str, **fields: Any) -> dict[str, Any]:
    return {"uuid": uuid, "published": "2026-03-01T10:00:00.000Z",
            "eventType": "system.sms.send_phone_verification_message", "displayMessage": "Send SMS", **fields}


def line(uuid: str, **fields: Any) -> bytes:
    return json.dumps(event(uuid, **fields)).encode() + b"\n"


BEFORE, AFTER = line("good-before"), line("good-after")


@dataclass
class Outcome:
    code: int
    stderr: str
    peak_rss_mb: float
    db: Path

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        with closing(sqlite3.connect(self.db)) as conn:
            return conn.execute(sql, params).fetchall()

    def uuids(self) -> set[str]:
        return {u for (u,) in self.rows("SELECT uuid FROM raw_events")}

    def rejects(self) -> list[tuple[str, int, str]]:
        return self.rows("SELECT source_ref, line, reason FROM rejects ORDER BY id")

    def payload(self, uuid: str) -> str:
        return str(self.rows("SELECT payload FROM raw_events WHERE uuid = ?", uuid)[0][0])

    def column(self, column: str, uuid: str) -> Any:
        return self.rows(f"SELECT {column} FROM events WHERE uuid = ?", uuid)[0][0]


def ingest(tmp_path: Path, name: str, content: bytes | None = None) -> Outcome:
    """Write ``content`` (unless the file is already there), ingest it, and measure the child's peak RSS."""
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    db = tmp_path / f"{name}.db"
    with open(tmp_path / f"{name}.stderr", "w+b") as err:
        child = subprocess.Popen([*CLI, "ingest", str(db), str(path), "--silent"], stdout=subprocess.DEVNULL,
                                 stderr=err)
        peak_kib = 0
        while child.poll() is None:  # VmHWM is a high-water mark: sampling it misses only the last moments
            peak_kib = max([peak_kib, *(_high_water_kib(pid) for pid in _family(child.pid))])
            time.sleep(0.01)
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    assert "Traceback" not in stderr, stderr
    outcome = Outcome(int(child.returncode), stderr, peak_kib / 1024, db)
    with closing(sqlite3.connect(db)) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        raw = conn.execute("SELECT count(*) FROM raw_events").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == raw
    return outcome


def _family(pid: int) -> list[int]:
    """``pid`` and its children (the reader process of a large import)."""
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        children = []
    return [pid, *map(int, children)]


def _high_water_kib(pid: int) -> int:
    """The peak resident memory of ``pid`` so far (``VmHWM``), 0 once it has gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    return next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")), 0)


def assert_neighbours_kept(outcome: Outcome) -> None:
    assert {"good-before", "good-after"} <= outcome.uuids(), outcome.stderr


def assert_rejected(outcome: Outcome, name: str, line_number: int, *words: str) -> None:
    """One reject, for ``name`` at ``line_number``, whose reason says each of ``words``; exit code 3."""
    rejects = outcome.rejects()
    assert len(rejects) == 1, rejects
    ref, number, reason = rejects[0]
    assert ref.endswith(name) and number == line_number, rejects
    for word in words:
        assert word.lower() in reason.lower(), reason
    assert not reason.startswith("not JSON: not JSON"), reason
    assert outcome.code == EXIT_REJECTS, outcome.stderr
    assert_neighbours_kept(outcome)


# --------------------------------------------------------------------------------------------- size


@pytest.mark.slow
def test_a_50_mb_line_is_rejected_without_being_held_whole(tmp_path: Path) -> None:
    huge = json.dumps(event("huge", displayMessage="x" * (50 * MIB))).encode() + b"\n"
    outcome = ingest(tmp_path, "huge.ndjson", BEFORE + huge + AFTER)
    assert_rejected(outcome, "huge.ndjson", 2, "longer than", "MiB")
    print(f"peak RSS {outcome.peak_rss_mb:.0f} MB")
    assert outcome.peak_rss_mb < 160, outcome.peak_rss_mb


@pytest.mark.slow
def test_a_50_mb_json_array_on_one_line_is_streamed(tmp_path: Path) -> None:
    one = json.dumps(event("x", debugContext={"debugData": {"pad": "p" * 2000}})).encode()
    count = 50 * MIB // len(one)
    items = b",".join(one.replace(b'"x"', f'"e{n}"'.encode(), 1) for n in range(count))
    outcome = ingest(tmp_path, "array.json", b"[" + items + b"]")
    assert outcome.code == EXIT_OK and len(outcome.uuids()) == count
    print(f"peak RSS {outcome.peak_rss_mb:.0f} MB")
    assert outcome.peak_rss_mb < 250, outcome.peak_rss_mb


def test_a_10_mb_line_of_whitespace_is_a_blank_line(tmp_path: Path) -> None:
    outcome = ingest(tmp_path, "spaces.ndjson", BEFORE + b" \t" * (5 * MIB) + b"\n" + AFTER)
    assert outcome.code == EXIT_OK and outcome.rejects() == []
    assert outcome.uuids() == {"good-before", "good-after"}


@pytest.mark.slow
def test_a_gzip_bomb_is_read_in_bounded_memory(tmp_path: Path) -> None:
    """1 GiB of whitespace on one line, compressed about a thousand times, between two good lines."""
    path = tmp_path / "bomb.ndjson.gz"
    with gzip.open(path, "wb", compresslevel=9) as bomb:
        bomb.write(BEFORE)
        block = b" " * (16 * MIB)
        for _ in range(64):
            bomb.write(block)
        bomb.write(b"\n" + AFTER)
    assert path.stat().st_size < 2 * MIB
    outcome = ingest(tmp_path, "bomb.ndjson.gz")
    assert outcome.code == EXIT_OK and outcome.rejects() == []
    assert outcome.uuids() == {"good-before", "good-after"}
    print(f"peak RSS {outcome.peak_rss_mb:.0f} MB")
    assert outcome.peak_rss_mb < 160, outcome.peak_rss_mb


# --------------------------------------------------------------------------------------------- structure


def test_nesting_100000_deep_is_rejected_as_too_deep(tmp_path: Path) -> None:
    deep = b'{"uuid": "deep", "debugContext": {"debugData": {"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}}}\n"
    outcome = ingest(tmp_path, "deep.ndjson", BEFORE + deep + AFTER)
    assert_rejected(outcome, "deep.ndjson", 2, "nested too deeply")


def test_nesting_a_thousand_deep_is_archived(tmp_path: Path) -> None:
    nested = b'{"uuid": "nested", "debugContext": {"debugData": {"x": ' + b"[" * 1000 + b"]" * 1000 + b"}}}\n"
    outcome = ingest(tmp_path, "nested.ndjson", BEFORE + nested + AFTER)
    assert outcome.code == EXIT_OK and "nested" in outcome.uuids()
    assert outcome.rows("SELECT json_valid(payload) FROM raw_events WHERE uuid = 'nested'") == [(1,)]


def test_a_json_array_that_never_closes(tmp_path: Path) -> None:
    outcome = ingest(tmp_path, "open.json", b"[" + BEFORE.strip() + b",\n" + AFTER.strip() + b",\n")
    assert_rejected(outcome, "open.json", 3, "ends inside the JSON array")


def test_an_envelope_whose_events_are_not_a_list(tmp_path: Path) -> None:
    envelope = {"eventType": "com.okta.event_hook", "eventId": "bad-envelope", "data": {"events": event("inner")}}
    outcome = ingest(tmp_path, "envelope.ndjson", BEFORE + json.dumps(envelope).encode() + b"\n" + AFTER)
    assert_rejected(outcome, "envelope.ndjson", 2, "Event Hook", "data.events is a JSON object, not a list")
    assert "inner" not in outcome.uuids() and outcome.rows("SELECT count(*) FROM deliveries") == [(0,)]


def test_duplicate_keys_last_wins_payload_as_received(tmp_path: Path) -> None:
    text = b'{"uuid": "dup", "eventType": "first", "eventType": "system.voice.send_phone_verification_call"}\n'
    outcome = ingest(tmp_path, "dup.ndjson", BEFORE + text + AFTER)
    assert outcome.code == EXIT_OK
    assert outcome.column("event_type", "dup") == "system.voice.send_phone_verification_call"
    assert outcome.payload("dup") == text.strip().decode()


# --------------------------------------------------------------------------------------------- bytes


def test_invalid_utf8_is_rejected_naming_it(tmp_path: Path) -> None:
    bad = b'{"uuid": "latin1", "displayMessage": "caf\xe9"}\n'
    outcome = ingest(tmp_path, "latin1.ndjson", BEFORE + bad + AFTER)
    assert_rejected(outcome, "latin1.ndjson", 2, "utf-8", "0xe9")


def test_invalid_utf8_in_a_json_array_is_rejected_too(tmp_path: Path) -> None:
    bad = b'{"uuid": "latin1", "displayMessage": "caf\xe9"}'
    outcome = ingest(tmp_path, "latin1.json", b"[" + BEFORE.strip() + b",\n" + bad + b",\n" + AFTER.strip() + b"]")
    assert_rejected(outcome, "latin1.json", 2, "utf-8")


def test_nul_bytes(tmp_path: Path) -> None:
    inside = b'{"uuid": "nul-inside", "displayMessage": "a\x00b"}\n'
    outside = b'{"uuid": "nul-outside",\x00 "displayMessage": "ab"}\n'
    escaped = b'{"uuid": "nul-escaped", "displayMessage": "a\\u0000b"}\n'
    outcome = ingest(tmp_path, "nul.ndjson", BEFORE + inside + outside + escaped + AFTER)
    rejects = outcome.rejects()
    assert [number for _, number, _ in rejects] == [2, 3], rejects
    assert "control character" in rejects[0][2].lower() and "not json" in rejects[1][2].lower()
    assert outcome.code == EXIT_REJECTS
    assert_neighbours_kept(outcome)
    assert outcome.column("display_message", "nul-escaped") == "a\x00b"  # a NUL escaped in JSON is data
    assert outcome.payload("nul-escaped") == escaped.strip().decode()


def test_lone_surrogate_escape_is_archived(tmp_path: Path) -> None:
    text = b'{"uuid": "surrogate", "displayMessage": "x\\ud800y"}\n'
    outcome = ingest(tmp_path, "surrogate.ndjson", BEFORE + text + AFTER)
    assert outcome.code == EXIT_OK
    assert "\\ud800" in outcome.payload("surrogate")
    assert outcome.column("display_message", "surrogate") == "x?y"  # the projection's text must be UTF-8


def test_a_bom_in_the_middle_of_a_file(tmp_path: Path) -> None:
    outcome = ingest(tmp_path, "bom.ndjson", BEFORE + b"\xef\xbb\xbf" + line("after-bom") + AFTER)
    assert outcome.code == EXIT_OK and outcome.uuids() == {"good-before", "after-bom", "good-after"}


def test_crlf_mixed_with_lf(tmp_path: Path) -> None:
    content = BEFORE.replace(b"\n", b"\r\n") + line("lf") + line("crlf").replace(b"\n", b"\r\n") + AFTER
    outcome = ingest(tmp_path, "crlf.ndjson", content)
    assert outcome.code == EXIT_OK and outcome.uuids() == {"good-before", "lf", "crlf", "good-after"}
    assert all("\r" not in outcome.payload(u) for u in outcome.uuids())


# --------------------------------------------------------------------------------------------- numbers


def test_an_integer_of_thousands_of_digits(tmp_path: Path) -> None:
    digits = "9" * 3000
    big = f'{{"uuid": "big", "debugContext": {{"debugData": {{"n": {digits}}}}}}}\n'.encode()
    too_big = f'{{"uuid": "too-big", "version": {"7" * 5000}}}\n'.encode()
    outcome = ingest(tmp_path, "digits.ndjson", BEFORE + big + too_big + AFTER)
    assert_rejected(outcome, "digits.ndjson", 3, "4300 digits")
    assert digits in outcome.payload("big")  # exact, not a float
    assert outcome.rows("SELECT d.value FROM debug_data d JOIN events e ON e.id = d.event_id "
                        "WHERE e.uuid = 'big' AND d.key = 'n'") == [(digits,)]


def test_a_float_of_thousands_of_digits_does_not_become_infinity(tmp_path: Path) -> None:
    huge = "1" + "0" * 3000 + ".5"
    text = f'{{"uuid": "float", "debugContext": {{"debugData": {{"f": {huge}}}}}}}\n'.encode()
    outcome = ingest(tmp_path, "float.ndjson", BEFORE + text + AFTER)
    # Either archived with a payload that is still JSON, or rejected saying why: never "Infinity" in the log.
    print("float archived" if "float" in outcome.uuids() else f"float rejected: {outcome.rejects()}")
    if "float" in outcome.uuids():
        assert "Infinity" not in outcome.payload("float")
        assert outcome.rows("SELECT json_valid(payload) FROM raw_events WHERE uuid = 'float'") == [(1,)]
    else:
        assert_rejected(outcome, "float.ndjson", 2, "out of range")
