"""Fault runs: kill -9 at random moments, many times, then check the archive and finish the work."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest

from okta_calls.archive import Archive
from tests.fake_okta import FakeOkta, make_event
from tests.test_hooks import ReceiverProcess, post, ten_events

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


# --------------------------------------------------------------------------------------------------- API sync

TOKEN = "test-api-token-0123456789"
TELEPHONY = ("system.voice.send_phone_verification_call", "system.sms.send_phone_verification_message")


def _api_events(count: int, start: int) -> list[dict[str, Any]]:
    """Telephony events (a few out of published order) with a user.session.start every 20 (filtered out)."""
    base = time.time() - 86400
    events = [make_event(n, published=base + n * 0.5,
                         event_type="user.session.start" if n % 20 == 7 else TELEPHONY[n % 2])
              for n in range(start, start + count)]
    rng = random.Random(start)
    for _ in range(count // 25):  # persistence order is not published order
        i, j = rng.randrange(count), rng.randrange(count)
        events[i], events[j] = events[j], events[i]
    return events


def _is_telephony(event: dict[str, Any]) -> bool:
    return str(event.get("eventType", "")).startswith(("system.voice.", "system.sms."))


def _raw_uuids(db: Path) -> list[str]:
    with closing(sqlite3.connect(db)) as conn:
        return [row[0] for row in conn.execute("SELECT uuid FROM raw_events")]


def check_cursor_matches_data(db: Path, server: FakeOkta) -> int:
    """The stored cursor and the archived events agree: exactly the telephony events the server had served
    before the cursor's position are archived (each once), none after it; no cursor means nothing archived."""
    with closing(sqlite3.connect(db)) as conn:
        cursors = [row[0] for row in conn.execute("SELECT next_url FROM sync_state")]
    uuids = _raw_uuids(db)
    assert len(uuids) == len(set(uuids)), "an event archived twice"
    assert len(cursors) <= 1
    if not cursors:
        assert uuids == [], "events committed without their cursor"
        return 0
    served = {e["uuid"] for e in server.events_before(cursors[0]) if _is_telephony(e)}
    assert set(uuids) == served, (
        f"cursor and data disagree: {len(served - set(uuids))} served before the cursor are missing, "
        f"{len(set(uuids) - served)} archived beyond it"
    )
    return len(uuids)


def _api_ingest(db: Path, server: FakeOkta) -> list[str]:
    return [*CLI, "ingest", str(db), "--org", server.base_url, "--token", TOKEN, "--limit", "25", "--silent"]


@pytest.mark.slow
def test_twenty_random_kills_during_api_sync(tmp_path: Path) -> None:
    db = tmp_path / "sync.db"
    rng = random.Random(20261127)
    first, later = _api_events(5000, 0), _api_events(1500, 5000)
    total = sum(map(_is_telephony, first + later))
    offered = list(first)
    after_each_kill: list[int] = []
    env = dict(os.environ)
    env.pop("OKTA_API_TOKEN", None)
    with FakeOkta(first, api_token=TOKEN, rate_limit=1_000_000, latency_s=0.003) as server:
        for kill in range(KILLS):
            if kill == KILLS // 2:
                server.add_events(later)  # Okta keeps logging between crashes
                offered += later
            before = committed(db)
            # A random 25-150 events (1 to 6 pages of 25) beyond what is committed, then a random few ms more;
            # the last runs aim past the end, so kills also land on a finished or idle sync.
            target = before + rng.randint(25, 150) if kill < KILLS - 2 else sum(map(_is_telephony, offered)) + 1
            process = subprocess.Popen(_api_ingest(db, server), stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, env=env, cwd=tmp_path)
            _wait_for(lambda: process.poll() is not None or committed(db) >= target, timeout=120)
            time.sleep(rng.uniform(0.0, 0.03))
            process.send_signal(signal.SIGKILL)
            process.wait(timeout=30)
            if db.exists():
                assert scalar(db, "PRAGMA integrity_check") == "ok"
                after_each_kill.append(check_cursor_matches_data(db, server))
                check_consistent(db)
        print("archived after each kill:", after_each_kill)
        assert len({n for n in after_each_kill if 0 < n < total}) >= 12, after_each_kill
        done = subprocess.run(_api_ingest(db, server), capture_output=True, text=True, env=env, cwd=tmp_path,
                              timeout=300)
        assert done.returncode == 0, done.stderr
        assert check_cursor_matches_data(db, server) == total
    assert check_consistent(db) == total
    assert sorted(_raw_uuids(db)) == sorted(e["uuid"] for e in first + later if _is_telephony(e))


def _wait_for(condition: Callable[[], bool], *, timeout: float, step: float = 0.005) -> None:
    """Poll ``condition`` until it holds; fail after ``timeout`` seconds (generous: the machine is shared)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting for progress"
        time.sleep(step)


# --------------------------------------------------------------------------------------------------- hooks

POSTERS = 4


class Okta:
    """Plays Okta's Event Hook side: deliveries of 10 events, posted by several threads at once, each
    retried until it gets a 200 (Okta retries a failed delivery; here every one is retried until acknowledged)."""

    def __init__(self, deliveries: int) -> None:
        self.pending: list[str] = [f"d{n:05d}" for n in range(deliveries)]
        self.acknowledged: set[str] = set()
        self.statuses: dict[int | str, int] = {}
        self._lock = threading.Lock()

    def _take(self) -> str | None:
        with self._lock:
            return self.pending.pop(0) if self.pending else None

    def _answered(self, delivery_id: str, status: int | str) -> None:
        with self._lock:
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status == 200:
                self.acknowledged.add(delivery_id)
            else:
                self.pending.append(delivery_id)  # Okta's retry

    def post_until(self, url: str, stop: threading.Event) -> list[threading.Thread]:
        """Start the posting threads against ``url``; they end when ``stop`` is set or nothing is pending."""

        def run() -> None:
            with httpx.Client(base_url=url, timeout=30) as http:
                while not stop.is_set():
                    delivery_id = self._take()
                    if delivery_id is None:
                        return
                    try:
                        status: int | str = post(http, ten_events(delivery_id)).status_code
                    except httpx.TransportError as error:
                        status = type(error).__name__
                    self._answered(delivery_id, status)

        threads = [threading.Thread(target=run, daemon=True) for _ in range(POSTERS)]
        for thread in threads:
            thread.start()
        return threads

    def count_acknowledged(self) -> int:
        with self._lock:
            return len(self.acknowledged)


def check_acknowledged_are_archived(db: Path, acknowledged: set[str]) -> int:
    """Every acknowledged delivery is in the log with its 10 events, each event once; the database is whole.

    Only the log tables (``raw_events``, ``deliveries``, ``delivery_events``): what a 200 promises."""
    assert scalar(db, "PRAGMA integrity_check") == "ok"
    with closing(sqlite3.connect(db)) as conn:
        linked = dict(conn.execute("SELECT delivery_id, count(*) FROM delivery_events GROUP BY delivery_id"))
        stored = {row[0] for row in conn.execute("SELECT delivery_id FROM deliveries")}
        uuids = [row[0] for row in conn.execute("SELECT uuid FROM raw_events")]
    assert len(uuids) == len(set(uuids)), "an event archived twice"
    assert acknowledged <= stored, f"acknowledged but lost: {sorted(acknowledged - stored)[:5]}"
    assert all(linked.get(d) == 10 for d in acknowledged)
    assert {f"{d}-{n}" for d in acknowledged for n in range(10)} <= set(uuids)
    assert set(linked) == stored and all(n == 10 for n in linked.values()), "a delivery stored in part"
    return len(stored)


@pytest.mark.slow
def test_twenty_random_kills_while_receiving_hooks(tmp_path: Path) -> None:
    db = tmp_path / "hooks.db"
    rng = random.Random(20261128)
    okta = Okta(deliveries=1200)
    stored_after_each_kill: list[int] = []
    for kill in range(KILLS):
        receiver = ReceiverProcess(db, tmp_path / f"receiver-{kill}.log")
        stop = threading.Event()
        # Kill after a random 3-40 more acknowledgements (then a random few ms), whatever the machine's speed.
        target = okta.count_acknowledged() + rng.randint(3, 40)
        posters = okta.post_until(receiver.url, stop)
        try:
            _wait_for(lambda: okta.count_acknowledged() >= target or not okta.pending, timeout=120)
            time.sleep(rng.uniform(0.0, 0.03))
            receiver.proc.send_signal(signal.SIGKILL)
            receiver.proc.wait(timeout=30)
        finally:
            stop.set()
            for thread in posters:
                thread.join(timeout=60)
            receiver.stop()
        assert receiver.proc.returncode == -signal.SIGKILL
        stored_after_each_kill.append(check_acknowledged_are_archived(db, okta.acknowledged))
    print("deliveries stored after each kill:", stored_after_each_kill, "answers:", okta.statuses)
    assert okta.count_acknowledged() >= KILLS * 3
    assert any(isinstance(status, str) for status in okta.statuses), "no kill landed on a delivery in flight"
    # Okta retries what was never acknowledged; a clean run takes every delivery left, then stops on SIGTERM.
    receiver = ReceiverProcess(db, tmp_path / "receiver-final.log")
    stop = threading.Event()
    try:
        for thread in okta.post_until(receiver.url, stop):
            thread.join(timeout=300)
        receiver.proc.send_signal(signal.SIGTERM)
        assert receiver.proc.wait(timeout=60) == 0
    finally:
        receiver.stop()
    assert okta.pending == [] and len(okta.acknowledged) == 1200
    assert check_acknowledged_are_archived(db, okta.acknowledged) == 1200
    every = {f"{d}-{n}" for d in okta.acknowledged for n in range(10)}
    assert set(_raw_uuids(db)) == every and len(_raw_uuids(db)) == 12_000
    # After a clean stop the projections hold every event of the log, once.
    with Archive(db) as archive:
        assert archive.counts()["events"] == 12_000
    assert scalar(db, "SELECT count(DISTINCT uuid) FROM events") == 12_000
