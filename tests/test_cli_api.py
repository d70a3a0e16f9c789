"""The real `okta-calls ingest --org ...`, `get` and `auth` commands against the loopback Okta."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fake_okta import FakeOkta, Fault, make_event

TOKEN = "cli-secret-token-0123456789abcdef"
CLI = [sys.executable, "-m", "okta_calls.cli"]


@pytest.fixture()
def server() -> Iterator[FakeOkta]:
    with FakeOkta(api_token=TOKEN) as fake:
        now = time.time()
        fake.add_events([make_event(n, published=now - 3600 + n, event_type="system.sms.send_phone_verification_message")
                         for n in range(2500)])
        fake.add_events([make_event(n, published=now - 1800, event_type="user.session.start") for n in range(5000, 5100)])
        yield fake


def run(*args: object, env: dict[str, str] | None = None, cwd: Path | None = None, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OKTA_")}
    environment.update(env or {})
    return subprocess.run([*CLI, *map(str, args)], capture_output=True, text=True, env=environment, cwd=cwd,
                          input=stdin, timeout=120)


def test_ingest_from_the_api_then_resume(server: FakeOkta, tmp_path: Path) -> None:
    db = tmp_path / "api.db"
    env = {"OKTA_API_TOKEN": TOKEN, "OKTA_ORG_URL": server.base_url}
    first = run("ingest", db, env=env)
    assert first.returncode == 0, first.stderr
    assert "2,500 seen, 2,500 new" in first.stdout  # the telephony filter left the 100 sessions out
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM raw_events WHERE source_kind = 'api'").fetchone()[0] == 2500
        (next_url,) = conn.execute("SELECT next_url FROM sync_state").fetchone()
        assert next_url.startswith(server.base_url)
    server.add_events([make_event(9000, published=time.time(), event_type="system.voice.send_phone_verification_call")])
    second = run("ingest", db, env=env)
    assert second.returncode == 0 and "1 seen, 1 new" in second.stdout
    for output in (first.stdout + first.stderr, second.stdout + second.stderr):
        assert TOKEN not in output
    with sqlite3.connect(db) as conn:
        dump = "\n".join(str(row) for table in ("raw_events", "sync_state", "ingest_runs", "rejects")
                         for row in conn.execute(f"SELECT * FROM {table}"))
    assert TOKEN not in dump


def test_invalid_token_is_one_line_exit_1_and_no_secret(server: FakeOkta, tmp_path: Path) -> None:
    wrong = "wrong-token-that-must-not-leak-123"
    done = run("ingest", tmp_path / "x.db", "--org", server.base_url, "--token", wrong)
    assert done.returncode == 1
    assert "E0000011" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert wrong not in done.stderr + done.stdout


def test_plain_http_to_a_remote_org_is_refused(tmp_path: Path) -> None:
    done = run("ingest", tmp_path / "x.db", "--org", "http://example.okta.com", "--token", TOKEN)
    assert done.returncode != 0 and "https" in done.stderr and TOKEN not in done.stderr


def test_rate_limit_wait_is_shown_and_sync_completes(server: FakeOkta, tmp_path: Path) -> None:
    server.inject(Fault.rate_limited(reset_in=1.0))
    done = run("ingest", tmp_path / "r.db", "--org", server.base_url, env={"OKTA_API_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert "2,500 new" in done.stdout


def test_get_prints_raw_json(server: FakeOkta, tmp_path: Path) -> None:
    done = run("get", "/api/v1/logs?limit=3", "--org", server.base_url, env={"OKTA_API_TOKEN": TOKEN})
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 3


def test_auth_writes_0600_and_ingest_uses_it(server: FakeOkta, tmp_path: Path) -> None:
    done = run("auth", "--org", server.base_url, cwd=tmp_path, stdin=f"{TOKEN}\n")
    assert done.returncode == 0, done.stderr
    auth = tmp_path / "auth.json"
    assert auth.stat().st_mode & 0o777 == 0o600
    assert TOKEN not in done.stdout + done.stderr
    ingest = run("ingest", tmp_path / "a.db", cwd=tmp_path)
    assert ingest.returncode == 0, ingest.stderr
    auth.chmod(0o644)
    refused = run("ingest", tmp_path / "a.db", cwd=tmp_path)
    assert refused.returncode == 1 and "chmod 600" in refused.stderr
