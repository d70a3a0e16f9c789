"""Redacted archives end to end: files (through the spawned reader process), the API sync and Event Hook
deliveries, rejects; the database file's bytes (WAL included) hold no original value; the fraud analytics still
rank the planted patterns first; a missing or different key is refused before anything is written."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from okta_calls import generate, ingest
from okta_calls.analytics import connect_readonly, run_query
from okta_calls.archive import Archive, ArchiveError
from okta_calls.cli import cli
from okta_calls.generate import write_ndjson
from okta_calls.ingest import ingest_paths
from okta_calls.model import Delivery, Incoming
from okta_calls.phones import normalize_phone
from okta_calls.receiver import archive_commit
from okta_calls.redact import Redactor
from okta_calls.redaction import KEY_ENV, RedactionError, redact_items, settle
from tests.test_redact import KEY, OTHER_KEY, originals

KEY_TEXT = KEY.decode()


def write_events(path: Path, events: list[dict[str, Any]], extra_lines: list[str] = ()) -> Path:  # type: ignore[assignment]
    with path.open("wb") as handle:
        write_ndjson(events, handle)
        for line in extra_lines:
            handle.write(line.encode() + b"\n")
    return path


def database_bytes(path: Path) -> bytes:
    """The database file and its WAL and shared-memory files, as they are on disk."""
    return b"".join(Path(f"{path}{suffix}").read_bytes() for suffix in ("", "-wal", "-shm")
                    if Path(f"{path}{suffix}").exists())


def digest(path: Path) -> str:
    return hashlib.sha256(database_bytes(path)).hexdigest()


# --- no original value in the file -------------------------------------------------------------------------

HOOK_EVENT = {
    "uuid": "hook-0001", "published": "2026-03-02T10:00:00.000Z", "eventType": "system.sms.send_phone_verification_message",
    "actor": {"id": "00uHOOK", "type": "User", "alternateId": "hook.person@example.org", "displayName": "Hook Person"},
    "client": {"ipAddress": "192.0.2.250", "geographicalContext": {"city": "Kingston", "country": "Jamaica"}},
    "debugContext": {"debugData": {"phoneNumber": "+18765550999", "countryCallingCode": "1",
                                   "clientAddress": "192.0.2.251"}},
    "request": {"ipChain": [{"ip": "2001:db8::250", "version": "V6"}]},
}
BAD_LINE = '{"uuid": "bad-1", "debugData": {"phoneNumber": "+14155550777", "email": "bad.line@example.net"'
CONFLICT = {"uuid": "hook-0001", "actor": {"type": "User", "alternateId": "conflict.person@example.org"},
            "client": {"ipAddress": "192.0.2.252"}}


@pytest.fixture(scope="module")
def redacted_small(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, list[dict[str, Any]]]]:
    """An archive of 1,500 generated events read by the reader process, one hook delivery left in the WAL,
    a line that is not JSON and a conflicting event; still open, so the WAL is not folded back."""
    root = tmp_path_factory.mktemp("redacted")
    events = list(generate.generate_events(1500, seed=5))
    source = write_events(root / "events.ndjson", events, [BAD_LINE])
    redactor = Redactor(KEY)
    patch = pytest.MonkeyPatch()
    patch.setattr(ingest, "PROCESS_THRESHOLD", 0)  # the spawned reader redacts, as for a big file
    path = root / "redacted.db"
    archive = Archive(path)
    try:
        summary = ingest_paths(archive, [str(source)], redactor=redactor)
        assert summary.result.inserted == len(events) and summary.result.rejected == 1  # the bad line
        run_id = archive.start_run("hook", ["test"])
        delivery = Delivery("evt-hook-1", "2026-03-02T10:00:01.000Z", "https://example.okta.com", None, None, None,
                            None, headers={"X-Forwarded-For": "203.0.113.250, 198.51.100.250",
                                           "Authorization": "[redacted]"},
                            extra={"note": "from 203.0.113.251"})
        result = archive_commit(archive, run_id, redactor=redactor)(delivery, [Incoming(HOOK_EVENT, None, "hook", 1),
                                                                      Incoming(CONFLICT, None, "hook", 2)])
        assert (result.inserted, result.rejected) == (1, 1)
        assert Path(f"{path}-wal").stat().st_size > 0
        yield path, [*events, HOOK_EVENT, CONFLICT]
    finally:
        archive.close()
        patch.undo()


def test_no_original_value_in_the_database_bytes(redacted_small: tuple[Path, list[dict[str, Any]]]) -> None:
    path, events = redacted_small
    blob = database_bytes(path)
    values = {value for event in events for _, value in originals(event)}
    values |= {"203.0.113.250", "198.51.100.250", "203.0.113.251", "+14155550777", "bad.line@example.net"}
    values |= {normal for value in list(values) if (normal := normalize_phone(value)) and normal[1:].isdigit()}
    values |= {value.lstrip("+") for value in list(values) if value.startswith("+")}  # as FTS indexes them
    assert len(values) > 2000
    left = sorted(value for value in values if value.encode() in blob)
    assert left == []


def test_the_redacted_archive_still_joins(redacted_small: tuple[Path, list[dict[str, Any]]]) -> None:
    path, _ = redacted_small
    redactor = Redactor(KEY)
    conn = connect_readonly(str(path))
    try:
        row = conn.execute("SELECT phone_number, country_calling_code, phone_country, client_ip, client_city "
                           "FROM events WHERE uuid = 'hook-0001'").fetchone()
        assert row == (redactor.phone("+18765550999"), "1", "JM", redactor.ip("192.0.2.250"), "Kingston")
        headers = json.loads(conn.execute("SELECT headers FROM deliveries").fetchone()[0])
        assert headers["X-Forwarded-For"] == f"{redactor.ip('203.0.113.250')}, {redactor.ip('198.51.100.250')}"
        raws = [raw for (raw,) in conn.execute("SELECT raw FROM rejects ORDER BY id")]
        assert raws[0].startswith("[withheld by redaction:") and "conflict.person" not in raws[1]
        assert conn.execute("SELECT count(*) FROM calls").fetchone()[0] > 0
        card = conn.execute('SELECT "Phone Alternate ID" FROM card WHERE "UUID" = ?', ("hook-0001",)).fetchone()
        assert card == (redactor.phone("+18765550999"),)
        joined = conn.execute("SELECT count(*) FROM events e JOIN phones p ON p.phone_number = e.phone_number "
                              "WHERE e.phone_number IS NOT NULL").fetchone()[0]
        assert joined == conn.execute("SELECT count(*) FROM events WHERE phone_number IS NOT NULL").fetchone()[0]
    finally:
        conn.close()


def test_rebuild_needs_no_key_and_gives_the_same_projections(tmp_path: Path) -> None:
    events = list(generate.generate_events(300, seed=9))
    with Archive(tmp_path / "r.db") as archive:
        ingest_paths(archive, [str(write_events(tmp_path / "e.ndjson", events))], redactor=Redactor(KEY))
        before = archive.conn.execute("SELECT * FROM events ORDER BY id").fetchall()
    with Archive(tmp_path / "r.db") as archive:
        archive.rebuild()
        assert archive.conn.execute("SELECT * FROM events ORDER BY id").fetchall() == before


# --- refusals -----------------------------------------------------------------------------------------------


@pytest.fixture
def small_file(tmp_path: Path) -> Path:
    return write_events(tmp_path / "e.ndjson", list(generate.generate_events(50, seed=3)))


def run(*args: str, key: str | None = None) -> Any:
    env = {KEY_ENV: key} if key is not None else {KEY_ENV: ""}
    return CliRunner().invoke(cli, list(args), env=env)


def test_cli_refuses_a_missing_or_other_key_before_writing(tmp_path: Path, small_file: Path) -> None:
    db = tmp_path / "r.db"
    created = run("-vv", "ingest", str(db), str(small_file), "--redact", "--silent", key=KEY_TEXT)
    assert created.exit_code == 0, created.output
    assert KEY_TEXT not in created.output and KEY.hex() not in created.output
    fingerprint = Redactor(KEY).fingerprint
    status = run("status", str(db))
    assert f"redaction: on (hmac-sha256-v1), key fingerprint {fingerprint}" in status.output
    before = digest(db)
    missing = run("ingest", str(db), str(small_file))
    assert missing.exit_code == 1 and "is a redacted archive" in missing.output and "nothing was written" in missing.output
    other = run("ingest", str(db), str(small_file), key=OTHER_KEY.decode())
    assert other.exit_code == 1 and f"fingerprint {fingerprint}" in other.output
    assert OTHER_KEY.decode() not in other.output
    assert digest(db) == before
    again = run("ingest", str(db), str(small_file), "--silent", key=KEY_TEXT)  # the archive's setting: no --redact
    assert again.exit_code == 0 and "0 new, 50 duplicates" in again.output
    blob = database_bytes(db)
    assert KEY not in blob and KEY.hex().encode() not in blob


def test_cli_refuses_redact_on_an_unredacted_archive_and_without_a_key(tmp_path: Path, small_file: Path) -> None:
    plain = tmp_path / "plain.db"
    assert run("ingest", str(plain), str(small_file), "--silent").exit_code == 0
    before = digest(plain)
    refused = run("ingest", str(plain), str(small_file), "--redact", key=KEY_TEXT)
    assert refused.exit_code == 1 and "already holds data that is not redacted" in refused.output
    assert "okta-calls ingest --redact NEW.db -" in refused.output
    assert digest(plain) == before
    assert "redaction: off" in run("status", str(plain)).output
    no_key = run("ingest", str(tmp_path / "new.db"), str(small_file), "--redact")
    assert no_key.exit_code == 2 and KEY_ENV in no_key.output
    assert not (tmp_path / "new.db").exists()


def test_key_file_rules(tmp_path: Path, small_file: Path) -> None:
    key_file = tmp_path / "key"
    made = run("redact-keygen", str(key_file))
    assert made.exit_code == 0 and key_file.stat().st_mode & 0o777 == 0o600
    assert key_file.read_text().strip() not in made.output
    assert run("redact-keygen", str(key_file)).exit_code == 1  # never overwritten
    db = tmp_path / "r.db"
    assert run("ingest", str(db), str(small_file), "--redact", "--redact-key-file", str(key_file)).exit_code == 0
    key_file.chmod(0o640)
    loose = run("ingest", str(db), str(small_file), "--redact-key-file", str(key_file))
    assert loose.exit_code == 1 and "chmod 600" in loose.output
    key_file.chmod(0o600)
    short = tmp_path / "short"
    short.write_text("abc")
    short.chmod(0o600)
    assert "at least 32" in run("ingest", str(db), str(small_file), "--redact-key-file", str(short)).output


def test_redact_token_finds_a_value(tmp_path: Path) -> None:
    db = tmp_path / "r.db"
    event = dict(HOOK_EVENT)
    source = write_events(tmp_path / "one.ndjson", [event])
    assert run("ingest", str(db), str(source), "--redact", key=KEY_TEXT).exit_code == 0
    shown = run("redact-token", "--db", str(db), "+1 876 555 0999", "192.0.2.250", "hook.person@example.org",
                key=KEY_TEXT)
    assert shown.exit_code == 0, shown.output
    phone, ip, email = shown.output.split()
    with sqlite3.connect(db) as conn:
        row = conn.execute("SELECT phone_number, client_ip FROM events").fetchone()
        user = conn.execute("SELECT alternate_id FROM users").fetchone()
    assert (phone, ip, email) == (row[0], row[1], user[0])
    wrong = run("redact-token", "--db", str(db), "192.0.2.250", key=OTHER_KEY.decode())
    assert wrong.exit_code == 1 and "another key" in wrong.output


def test_triggers_refuse_writers_that_did_not_settle(tmp_path: Path, small_file: Path) -> None:
    db = tmp_path / "r.db"
    with Archive(db) as archive:
        ingest_paths(archive, [str(small_file)], redactor=Redactor(KEY))
    item = Incoming({"uuid": "sneaky", "client": {"ipAddress": "192.0.2.99"}}, None, "x", 1)
    with Archive(db) as archive:
        run_id = archive.start_run("file", ["x"])
        with pytest.raises(ArchiveError, match="okta_calls_redaction_key"):
            archive.append([item], run_id=run_id, kind="file")  # no key at all
        archive.conn.create_function("okta_calls_redaction_key", 0, lambda: Redactor(OTHER_KEY).fingerprint)
        with pytest.raises(ArchiveError, match="this archive is redacted"):
            archive.append([item], run_id=run_id, kind="file")  # another key's fingerprint
        with pytest.raises(RedactionError):
            settle(archive, Redactor(OTHER_KEY))
        settle(archive, Redactor(KEY))
        assert archive.append(redact_items([item], Redactor(KEY)), run_id=run_id, kind="file").inserted == 1
        assert archive.conn.execute("SELECT count(*) FROM raw_events WHERE payload LIKE '%192.0.2.99%'").fetchone() == (0,)


def test_migrating_an_unredacted_archive_through_its_raw_log(tmp_path: Path, small_file: Path) -> None:
    plain, direct, migrated = tmp_path / "plain.db", tmp_path / "direct.db", tmp_path / "migrated.db"
    assert run("ingest", str(plain), str(small_file), "--silent").exit_code == 0
    assert run("ingest", str(direct), str(small_file), "--redact", "--silent", key=KEY_TEXT).exit_code == 0
    with sqlite3.connect(plain) as conn:
        payloads = "".join(payload + "\n" for (payload,) in conn.execute("SELECT payload FROM raw_events ORDER BY id"))
    result = CliRunner().invoke(cli, ["ingest", "--redact", str(migrated), "-", "--silent"], input=payloads,
                                env={KEY_ENV: KEY_TEXT})
    assert result.exit_code == 0, result.output
    query = "SELECT uuid, payload FROM raw_events ORDER BY id"
    with sqlite3.connect(direct) as one, sqlite3.connect(migrated) as two:
        assert one.execute(query).fetchall() == two.execute(query).fetchall()


# --- the fraud analytics on a redacted archive --------------------------------------------------------------


@pytest.fixture(scope="module")
def redacted_generated(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    root = tmp_path_factory.mktemp("fraud")
    source = write_events(root / "events.ndjson", list(generate.generate_events(12_000, seed=1)))
    with Archive(root / "redacted.db") as archive:
        ingest_paths(archive, [str(source)], redactor=Redactor(KEY))
    conn = connect_readonly(str(root / "redacted.db"))
    yield conn
    conn.close()


def test_planted_patterns_top_the_suspects_when_redacted(redacted_generated: sqlite3.Connection) -> None:
    redactor = Redactor(KEY)
    fraud_ip, shared = redactor.ip(generate.FRAUD_IP), redactor.phone(generate.SHARED_NUMBER)
    rows = run_query(redacted_generated, "toll_fraud_suspects").dicts()
    keys = [row["key"] for row in rows]
    assert keys[0] == fraud_ip
    users = {*generate.FRAUD_USER_IDS, *generate.SHARED_NUMBER_USER_IDS, generate.BURST_USER_ID}
    planted = {fraud_ip, shared, redactor.phone(generate.BURST_NUMBER), *users,
               *(redactor.phone(number) for number in generate.FRAUD_NUMBERS)}
    marks = ",".join("?" * len(users))
    planted |= {ip for (ip,) in redacted_generated.execute(
        f"SELECT DISTINCT client_ip FROM events WHERE user_id IN ({marks})", sorted(users)) if ip}
    first_other = next((i for i, key in enumerate(keys) if key not in planted), len(keys))
    for headline in (fraud_ip, shared, generate.BURST_USER_ID):
        assert headline in keys[:first_other], (headline, rows[: first_other + 3])
    many = run_query(redacted_generated, "many_numbers").dicts()[0]
    assert (many["key"], many["numbers"]) == (fraud_ip, generate.FRAUD_DISTINCT_NUMBERS)
    top_shared = run_query(redacted_generated, "shared_numbers").dicts()[0]
    assert (top_shared["phone_number"], top_shared["users"]) == (shared, generate.SHARED_NUMBER_USERS)
    countries = {row["phone_country"]: row for row in run_query(redacted_generated, "destination_countries").dicts()}
    assert countries[generate.FRAUD_COUNTRY]["sends"] >= generate.FRAUD_SENDS


# --- the API sync -------------------------------------------------------------------------------------------


def test_api_sync_redacts_and_refuses_without_the_key(tmp_path: Path) -> None:
    from okta_calls.auth import SSWSAuth
    from okta_calls.sources.okta_api import OktaClient
    from okta_calls.sync import sync
    from tests.fake_okta import FakeOkta, make_events

    events = make_events(120)
    with FakeOkta(events, api_token="t0ken") as server, Archive(tmp_path / "api.db") as archive:
        client = OktaClient(server.base_url, SSWSAuth("t0ken"), sleep=lambda s: None, jitter_s=0.0)
        with client:
            result = sync(archive, client, limit=50, redactor=Redactor(KEY))
            assert result.result.inserted == 120
            runs = archive.conn.execute("SELECT count(*) FROM ingest_runs").fetchone()[0]
            with pytest.raises(RedactionError, match="is a redacted archive"):
                sync(archive, client, limit=50)
            assert archive.conn.execute("SELECT count(*) FROM ingest_runs").fetchone()[0] == runs
        blob = "\n".join(payload for (payload,) in archive.conn.execute("SELECT payload FROM raw_events"))
        assert "198.51.100.7" not in blob and "@example.com" in blob and "user7@" not in blob
        assert "+14155550007" not in blob


def test_receive_refuses_to_start_without_the_key(tmp_path: Path, small_file: Path) -> None:
    from okta_calls.receiver import serve_hooks

    db = tmp_path / "r.db"
    assert run("ingest", str(db), str(small_file), "--redact", "--silent", key=KEY_TEXT).exit_code == 0
    before = digest(db)
    with pytest.raises(RedactionError, match="is a redacted archive"):
        serve_hooks(db, secret="s3cret", port=0)
    with pytest.raises(RedactionError, match="another key"):
        serve_hooks(db, secret="s3cret", port=0, redactor=Redactor(OTHER_KEY))
    refused = CliRunner().invoke(cli, ["receive", str(db), "--port", "1"],
                                 env={"OKTA_HOOK_SECRET": "s3cret", KEY_ENV: ""})
    assert refused.exit_code == 1 and "is a redacted archive" in refused.output
    assert digest(db) == before
