"""API sync into a real archive, against the loopback Okta: cursor, resume, backfill, stop, faults, kill -9."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from okta_calls.archive import Archive
from okta_calls.auth import SSWSAuth
from okta_calls.sources.okta_api import (
    TELEPHONY_FILTER,
    OktaApiError,
    OktaClient,
    OktaUnavailable,
    telephony_filter,
)
from okta_calls.sync import ALL_EVENTS_KEY, SyncProgress, query_key_for, sync
from tests.fake_okta import FakeOkta, Fault, make_event, okta_time

TOKEN = "test-api-token-0123456789"
ROOT = Path(__file__).resolve().parent.parent
NOW = time.time()


def phone_events(count: int, start: int = 0) -> list[dict[str, Any]]:
    """Telephony events published in the last day, a few of them out of published order."""
    events = [make_event(n, published=NOW - 86400 + n * 0.5,
                         event_type=("system.voice.send_phone_verification_call" if n % 3
                                     else "system.sms.send_phone_verification_message"))
              for n in range(start, start + count)]
    rng = random.Random(start)
    for _ in range(count // 20):  # persistence order is not published order
        i, j = rng.randrange(count), rng.randrange(count)
        events[i], events[j] = events[j], events[i]
    return events


def noise(count: int, start: int = 1_000_000) -> list[dict[str, Any]]:
    return [make_event(n, event_type="user.session.start", published=NOW - 3600) for n in range(start, start + count)]


@pytest.fixture()
def server() -> Iterator[FakeOkta]:
    with FakeOkta(api_token=TOKEN) as fake:
        yield fake


@pytest.fixture()
def db(tmp_path: Path) -> Iterator[Archive]:
    with Archive(tmp_path / "okta.db") as archive:
        yield archive


def client_for(server: FakeOkta, **options: Any) -> OktaClient:
    options.setdefault("sleep", lambda seconds: None)
    options.setdefault("jitter_s", 0.0)
    return OktaClient(server.base_url, SSWSAuth(TOKEN), **options)


def archived_uuids(archive: Archive) -> list[str]:
    return [row[0] for row in archive.conn.execute("SELECT uuid FROM raw_events ORDER BY id")]


def run_row(archive: Archive, run_id: int) -> dict[str, Any]:
    return archive.run(run_id)


# --------------------------------------------------------------------------------------------------- polling


def test_first_run_archives_every_telephony_event_and_saves_the_next_link(server: FakeOkta, db: Archive) -> None:
    events = phone_events(2500)
    server.add_events(events[:1200] + noise(30) + events[1200:])
    progress: list[SyncProgress] = []
    with client_for(server) as client:
        result = sync(db, client, filter=TELEPHONY_FILTER, on_progress=progress.append)
    assert result.status == "ok" and result.pages == 3
    assert (result.result.seen, result.result.inserted, result.result.duplicates) == (2500, 2500, 0)
    assert sorted(archived_uuids(db)) == sorted(e["uuid"] for e in events)
    stored = db.get_cursor(server.base_url, query_key_for(TELEPHONY_FILTER))
    assert stored is not None and stored == result.next_url and "after=" in stored
    assert all(not stored.endswith(r.target) for r in server.log_requests()), "it points past the last page"
    assert [p.pages for p in progress] == [1, 2, 3] and progress[-1].result.seen == 2500
    assert progress[-1].events_per_s > 0
    run = run_row(db, result.run_id)
    assert run["status"] == "ok" and run["source_kind"] == "api" and run["inserted"] == 2500
    first = server.log_requests()[0].query
    assert first["limit"] == ["1000"] and first["sortOrder"] == ["ASCENDING"] and "until" not in first
    assert first["filter"] == [TELEPHONY_FILTER] and "since" in first


def test_next_run_resumes_from_the_stored_link_never_from_published(server: FakeOkta, db: Archive) -> None:
    server.add_events(phone_events(1500))
    with client_for(server) as client:
        sync(db, client, filter=TELEPHONY_FILTER)
        saved = db.get_cursor(server.base_url, query_key_for(TELEPHONY_FILTER))
        before = len(server.log_requests())
        late = [make_event(9000, published=NOW - 80000)]  # published long ago, persisted now
        server.add_events(late + phone_events(5, start=5000))
        second = sync(db, client, filter=TELEPHONY_FILTER, since=okta_time(NOW - 3600))
    resumed = server.log_requests()[before]
    assert saved is not None and saved.endswith(resumed.target)
    assert "since" not in resumed.query
    assert second.result.inserted == 6 and second.pages == 1
    assert len(set(archived_uuids(db))) == len(archived_uuids(db)) == 1506


def test_cursor_is_per_org_and_filter(server: FakeOkta, db: Archive) -> None:
    server.add_events(phone_events(10) + noise(5))
    with client_for(server) as client:
        sync(db, client, filter=TELEPHONY_FILTER)
        narrow = telephony_filter(["system.sms.send_phone_verification_message"])
        second = sync(db, client, filter=narrow)
        everything = sync(db, client, filter=None)
    assert second.result.duplicates == second.result.seen > 0, "a new filter starts from --since"
    assert everything.result.inserted == 5
    keys = {row[0] for row in db.conn.execute("SELECT query FROM sync_state")}
    assert keys == {TELEPHONY_FILTER, narrow, ALL_EVENTS_KEY}


def test_duplicates_across_pages_are_archived_once(server: FakeOkta, db: Archive) -> None:
    events = phone_events(300)
    server.add_events(events[:150])
    server.add_events([events[10]])  # the same event persisted twice
    server.add_events(events[150:])
    server.inject(Fault("delay", seconds=0), Fault.overlap(), Fault.overlap())
    with client_for(server) as client:
        result = sync(db, client, filter=TELEPHONY_FILTER, limit=100)
    assert result.result.inserted == 300 and result.result.duplicates == 3
    assert sorted(archived_uuids(db)) == sorted(e["uuid"] for e in events)


def test_follow_polls_the_last_next_link_and_picks_up_new_events(server: FakeOkta, db: Archive) -> None:
    server.add_events(phone_events(120))
    stop = threading.Event()
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        if len(sleeps) == 1:
            pass  # nothing new: an empty page, with a next link
        elif len(sleeps) == 2:
            server.add_events(phone_events(7, start=500))
        else:
            stop.set()

    progress: list[SyncProgress] = []
    with client_for(server) as client:
        result = sync(db, client, filter=TELEPHONY_FILTER, limit=100, follow=True, interval=15.0,
                      stop_event=stop, sleep=sleep, on_progress=progress.append)
    assert result.status == "interrupted"
    assert sleeps == [15.0, 15.0, 15.0]
    assert result.result.inserted == 127
    assert any(p.caught_up and p.next_poll_in_s == 15.0 for p in progress)
    targets = [r.target for r in server.log_requests()]
    assert len(targets) == 2 + 2 and targets[2] == targets[3], "an empty page's next link is polled again"
    assert run_row(db, result.run_id)["status"] == "interrupted"


def test_follow_ends_promptly_when_stopped_during_the_interval(server: FakeOkta, db: Archive) -> None:
    server.add_events(phone_events(3))
    stop = threading.Event()
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with client_for(server) as client:
        result = sync(db, client, filter=TELEPHONY_FILTER, follow=True, interval=60.0, stop_event=stop)
    assert time.monotonic() - started < 10
    assert result.status == "interrupted" and result.result.inserted == 3


@pytest.mark.parametrize("prefetch", [True, False])
def test_stop_ends_after_the_current_page_with_the_cursor_intact(
    server: FakeOkta, db: Archive, prefetch: bool
) -> None:
    events = phone_events(450)
    server.add_events(events)
    stop = threading.Event()

    def on_progress(progress: SyncProgress) -> None:
        if progress.pages == 2:
            stop.set()

    with client_for(server) as client:
        first = sync(db, client, filter=TELEPHONY_FILTER, limit=100, stop_event=stop, on_progress=on_progress,
                     prefetch=prefetch)
        assert first.status == "interrupted" and first.pages == 2 and first.result.inserted == 200
        assert db.get_cursor(server.base_url, TELEPHONY_FILTER) == first.next_url
        second = sync(db, client, filter=TELEPHONY_FILTER, limit=100, prefetch=prefetch)
    assert second.status == "ok" and second.result.inserted == 250
    assert sorted(archived_uuids(db)) == sorted(e["uuid"] for e in events)


# --------------------------------------------------------------------------------------------------- backfill


def test_bounded_backfill_leaves_the_polling_cursor_alone(server: FakeOkta, db: Archive) -> None:
    events = phone_events(40)
    server.add_events(events)
    with client_for(server) as client:
        sync(db, client, filter=TELEPHONY_FILTER)
        cursor = db.get_cursor(server.base_url, TELEPHONY_FILTER)
        backfill = sync(db, client, filter=TELEPHONY_FILTER, since=okta_time(NOW - 86400 - 1),
                        until=okta_time(NOW - 86400 + 10), limit=5)
        assert backfill.bounded and backfill.status == "ok"
        assert backfill.result.seen == 20 and backfill.result.duplicates == 20 and backfill.pages == 4
        assert db.get_cursor(server.base_url, TELEPHONY_FILTER) == cursor
        last = server.log_requests()[-1].query
        assert "until" in last


def test_bounded_backfill_without_a_cursor_creates_none(server: FakeOkta, db: Archive) -> None:
    server.add_events(phone_events(10))
    with client_for(server) as client:
        result = sync(db, client, filter=TELEPHONY_FILTER, since=okta_time(NOW - 2 * 86400), until=okta_time(NOW))
    assert result.result.inserted == 10
    assert db.conn.execute("SELECT count(*) FROM sync_state").fetchone()[0] == 0


# --------------------------------------------------------------------------------------------------- faults


def test_refusal_stops_the_run_and_keeps_the_cursor(server: FakeOkta, db: Archive) -> None:
    events = phone_events(350)
    server.add_events(events)
    with client_for(server) as client:
        seen_pages: list[int] = []

        def on_progress(progress: SyncProgress) -> None:
            seen_pages.append(progress.pages)
            if progress.pages == 1:
                server.inject(Fault.invalid_token())

        with pytest.raises(OktaApiError, match="E0000011"):
            sync(db, client, filter=TELEPHONY_FILTER, limit=100, on_progress=on_progress, prefetch=False)
        cursor = db.get_cursor(server.base_url, TELEPHONY_FILTER)
        failed = db.conn.execute("SELECT status, error FROM ingest_runs ORDER BY id DESC LIMIT 1").fetchone()
        assert failed[0] == "failed" and "E0000011" in failed[1] and TOKEN not in failed[1]
        assert cursor is not None and len(archived_uuids(db)) == 100
        again = sync(db, client, filter=TELEPHONY_FILTER, limit=100)
    assert again.result.inserted == 250 and sorted(archived_uuids(db)) == sorted(e["uuid"] for e in events)


def test_retry_budget_exhausted_keeps_the_cursor(server: FakeOkta, db: Archive) -> None:
    server.add_events(phone_events(250))

    def on_progress(progress: SyncProgress) -> None:
        if progress.pages == 2:
            server.inject(*[Fault.query_timeout() for _ in range(30)])

    clock = {"t": 0.0}

    def fake_sleep(seconds: float) -> None:
        clock["t"] += seconds

    client = client_for(server, sleep=fake_sleep, clock=lambda: clock["t"], retry_budget_s=30)
    with client, pytest.raises(OktaUnavailable, match="E0000009"):
        sync(db, client, filter=TELEPHONY_FILTER, limit=100, on_progress=on_progress, prefetch=False)
    assert len(archived_uuids(db)) == 200
    assert db.get_cursor(server.base_url, TELEPHONY_FILTER) is not None


def test_transient_faults_lose_nothing(server: FakeOkta, db: Archive) -> None:
    events = phone_events(500)
    server.add_events(events)
    server.inject(Fault.query_timeout(), Fault.drop(), Fault("delay", seconds=0), Fault.unavailable(),
                  Fault.truncate(), Fault.rate_limited(reset_in=2))
    with client_for(server) as client:
        result = sync(db, client, filter=TELEPHONY_FILTER, limit=100)
    assert result.result.inserted == 500
    assert sorted(archived_uuids(db)) == sorted(e["uuid"] for e in events)


# --------------------------------------------------------------------------------------------------- kill -9

CHILD = """
import sys, threading
from okta_calls.archive import Archive
from okta_calls.auth import SSWSAuth
from okta_calls.sources.okta_api import OktaClient, TELEPHONY_FILTER
from okta_calls.sync import sync

db_path, base_url, token = sys.argv[1:4]
def on_progress(p):
    print(p.pages, flush=True)
with Archive(db_path) as archive, OktaClient(base_url, SSWSAuth(token)) as client:
    result = sync(archive, client, filter=TELEPHONY_FILTER, limit=50, on_progress=on_progress)
print("done", result.result.inserted, flush=True)
"""


def _run_child(db_path: Path, server: FakeOkta, kill_after_pages: int | None, extra_delay: float) -> str:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db_path), server.base_url, TOKEN],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    assert child.stdout is not None
    if kill_after_pages is None:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        return out
    for line in child.stdout:
        if line.strip().isdigit() and int(line) >= kill_after_pages:
            break
    time.sleep(extra_delay)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    return ""


@pytest.mark.slow
def test_kill_9_at_any_moment_then_rerun_archives_every_event_exactly_once(tmp_path: Path) -> None:
    db_path = tmp_path / "okta.db"
    events = phone_events(3000)
    rng = random.Random(9)
    with FakeOkta(events[:2000] + noise(100), api_token=TOKEN, latency_s=0.005) as server:
        server.inject(Fault("delay", seconds=0), Fault.overlap())
        for round_number, kill_after in enumerate((2, 5, 3, 8, 4)):
            _run_child(db_path, server, kill_after, rng.uniform(0, 0.03))
            if round_number == 2:
                server.add_events(events[2000:])  # new events arrive between crashes
        output = _run_child(db_path, server, None, 0)
        assert output.strip().splitlines()[-1].startswith("done")
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        uuids = [row[0] for row in conn.execute("SELECT uuid FROM raw_events")]
        runs = conn.execute("SELECT count(*) FROM ingest_runs WHERE source_kind = 'api'").fetchone()[0]
    assert len(uuids) == len(set(uuids)), "every event archived exactly once"
    assert set(uuids) == {e["uuid"] for e in events}, "nothing skipped, nothing extra"
    assert runs == 6


# --------------------------------------------------------------------------------------------------- helpers


def test_parse_time_option() -> None:
    from datetime import datetime, timezone

    from okta_calls.sync import parse_time_option

    now = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    assert parse_time_option("7d", now=now) == datetime(2026, 2, 22, 12, 0, tzinfo=timezone.utc)
    assert parse_time_option("90m", now=now) == datetime(2026, 3, 1, 10, 30, tzinfo=timezone.utc)
    assert parse_time_option("2026-01-31") == datetime(2026, 1, 31, tzinfo=timezone.utc)
    assert parse_time_option("2026-01-31T10:00:00Z") == datetime(2026, 1, 31, 10, tzinfo=timezone.utc)
    assert parse_time_option("2026-01-31T10:00:00+02:00").utcoffset() is not None
    with pytest.raises(ValueError, match="not a time"):
        parse_time_option("yesterday")


def test_sigterm_and_sigint_set_the_stop_event_and_handlers_are_restored() -> None:
    from okta_calls.sync import stop_on_signals

    before = signal.getsignal(signal.SIGTERM)
    names: list[str] = []
    stop = threading.Event()
    with stop_on_signals(stop, on_signal=names.append):
        os.kill(os.getpid(), signal.SIGTERM)
        deadline = time.monotonic() + 5
        while not stop.is_set() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert stop.is_set() and names == ["SIGTERM"]
        with pytest.raises(KeyboardInterrupt):  # a second Ctrl-C aborts
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
    assert signal.getsignal(signal.SIGTERM) == before


def test_client_from_options(tmp_path: Path, server: FakeOkta) -> None:
    from okta_calls.auth import CredentialsError, client_from_options, save_auth_file

    server.add_events(phone_events(3))
    auth_path = tmp_path / "auth.json"
    save_auth_file(auth_path, {"okta_org_url": server.base_url, "okta_api_token": TOKEN})
    client, resolved = client_from_options(org=None, auth_path=auth_path)
    with client:
        assert client.org_url == server.base_url and "auth file" in resolved.source
        assert sum(len(p.items) for p in client.pages({"since": okta_time(NOW - 2 * 86400)})) == 3
    with pytest.raises(CredentialsError, match="--org"):
        client_from_options(org=None, token=TOKEN, auth_path=None)
    with pytest.raises(ValueError, match="https"):
        client_from_options(org="http://example.com", token=TOKEN)
