"""The Event Hook receiver over real HTTP, on the real archive.

uvicorn serves ``HookApp`` on a loopback port (in a thread, or as a separate ``serve_hooks`` process for the
kill -9 and SIGTERM tests); httpx, or a raw socket where the test needs control of the upload, plays Okta.
Every assertion about what was stored is SQL on the database file through a connection of its own.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import select
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from okta_calls.archive import Archive, ArchiveBusy, ArchiveError
from okta_calls.model import BatchResult, Delivery, Incoming
from okta_calls.projector import Projector
from okta_calls.receiver import DEFAULT_BUSY_TIMEOUT, archive_commit, archive_projector, serve_hooks
from okta_calls.sources.envelope import (
    REDACTED,
    EnvelopeError,
    is_delivery_envelope,
    parse_envelope,
    redact_headers,
    synthetic_event_id,
)
from okta_calls.sources.hooks import Commit, HookApp, is_unavailable_error

PROJECT = Path(__file__).resolve().parents[1]
SECRET = "s3cr3t-hook-value-for-tests"
HOOK = "/okta/event-hook"
AUTH = {"Authorization": SECRET}
SAMPLE_NAME = "okta-developer-docs__concepts-event-hooks__sample-delivery-payload.json"


def _shared_dir() -> Path | None:
    for candidate in (Path("/work/shared"), PROJECT.parent / "shared"):
        if candidate.is_dir():
            return candidate
    return None


# --------------------------------------------------------------------------------------------- payloads


def phone_event(uuid: str, *, message: str = "Send phone verification call") -> dict[str, Any]:
    """A small ``system.voice.send_phone_verification_call`` LogEvent."""
    return {
        "uuid": uuid,
        "published": "2024-05-01T10:00:00.000Z",
        "eventType": "system.voice.send_phone_verification_call",
        "version": "0",
        "severity": "INFO",
        "displayMessage": message,
        "actor": {"id": "00u1", "type": "User", "alternateId": "ann@example.com", "displayName": "Ann"},
        "outcome": {"result": "SUCCESS", "reason": None},
        "target": [{"id": "mbl1", "type": "MobilePhone", "alternateId": "+14155550123", "displayName": "Phone"}],
        "debugContext": {"debugData": {"phoneNumber": "+14155550123", "countryCallingCode": "1"}},
    }


def envelope(event_id: str | None, events: list[Any], **extra: Any) -> dict[str, Any]:
    """A delivery envelope as Okta sends it (``eventId`` left out when ``None``)."""
    body: dict[str, Any] = {
        "eventType": "com.okta.event_hook",
        "eventTypeVersion": "1.0",
        "cloudEventsVersion": "0.1",
        "source": "https://example.okta.com/api/v1/eventHooks/who1",
        "eventTime": "2024-05-01T10:00:01.000Z",
        "contentType": "application/json",
        "data": {"events": events},
        **extra,
    }
    if event_id is not None:
        body["eventId"] = event_id
    return body


def ten_events(event_id: str) -> dict[str, Any]:
    return envelope(event_id, [phone_event(f"{event_id}-{n}") for n in range(10)])


def big_delivery(event_id: str) -> dict[str, Any]:
    """Ten events of 20 KB: storing them needs new pages in the database file."""
    return envelope(event_id, [phone_event(f"{event_id}-{n}", message="m" * 20000) for n in range(10)])


def post(client: httpx.Client, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(
        HOOK, content=content, headers={"Content-Type": "application/json", **(AUTH if headers is None else headers)}
    )


# --------------------------------------------------------------------------------------------- harness


def query(db: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows from ``db`` through a fresh connection (what another process, Datasette, would see)."""
    with closing(sqlite3.connect(db)) as conn:
        return conn.execute(sql, params).fetchall()


def count(db: Path, table: str) -> int:
    return int(query(db, f"SELECT count(*) FROM {table}")[0][0])


def projected(db: Path, timeout: float = 5.0) -> float:
    """Wait until the receiver's projector has emptied ``projection_queue``; returns the seconds it took."""
    started = time.monotonic()
    while count(db, "projection_queue"):
        assert time.monotonic() - started < timeout, "the projections did not follow the acknowledged events"
        time.sleep(0.02)
    return time.monotonic() - started


@dataclass
class Store:
    """The archive under test: its file, the open ``Archive``, the hook run, the ``commit`` for the app (log
    only, as in production) and the ``projector`` that follows it."""

    path: Path
    archive: Archive
    run_id: int
    commit: Commit
    projector: Projector


@dataclass
class Watched:
    """Wraps a commit: counts calls and the most that ran at once; can delay them or fail them."""

    commit: Commit
    delay: float = 0.0
    fail_with: BaseException | None = None
    calls: int = 0
    active: int = 0
    max_active: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, delivery: Delivery, items: list[Incoming]) -> BatchResult:
        with self._lock:
            self.calls += 1
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            time.sleep(self.delay)
            if self.fail_with is not None:
                raise self.fail_with
            return self.commit(delivery, items)
        finally:
            with self._lock:
                self.active -= 1


class Receiver:
    """An ASGI app served by uvicorn on a free loopback port, in a background thread."""

    def __init__(self, app: Any) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        self._sock.close()


class ReceiverProcess:
    """The real ``okta-calls receive`` command in a child process, logging to a file.

    With ``projection_interval`` it is ``serve_hooks`` itself, with that projector interval (a long one keeps
    acknowledged events in ``projection_queue``, for the crash tests)."""

    def __init__(self, db: Path, log_path: Path, projection_interval: float | None = None) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = {**os.environ, "OKTA_HOOK_SECRET": SECRET, "PYTHONPATH": str(PROJECT)}
        command = [sys.executable, "-m", "okta_calls.cli", "receive", str(db), "--port", str(self.port)]
        if projection_interval is not None:
            code = (
                "import os, sys; from okta_calls.receiver import serve_hooks; serve_hooks(sys.argv[1], "
                "secret=os.environ['OKTA_HOOK_SECRET'], port=int(sys.argv[2]), projection_interval=float(sys.argv[3]))"
            )
            command = [sys.executable, "-c", code, str(db), str(self.port), str(projection_interval)]
        with open(log_path, "wb") as log_file:
            self.proc = subprocess.Popen(command, cwd=PROJECT, env=env, stderr=log_file)
        self._wait_healthy()

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the receiver exited: {self.log_path.read_text()}")
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the receiver did not become healthy")

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    path = tmp_path / "okta.db"
    archive = Archive(path, timeout=0.5)
    run_id = archive.start_run("hook", ["tests"])
    projector = archive_projector(archive, interval=0.05)
    yield Store(path, archive, run_id, archive_commit(archive, run_id, projector=projector), projector)
    archive.close()


@pytest.fixture
def make_receiver(store: Store) -> Iterator[Callable[..., Receiver]]:
    """Serve a ``HookApp`` over ``commit``; its deliveries are grouped in ``Archive.transaction`` and projected by
    the store's projector, as in production."""
    started: list[Receiver] = []

    def make(commit: Commit, **options: Any) -> Receiver:
        options.setdefault("group", store.archive.transaction)
        options.setdefault("background", store.projector)
        receiver = Receiver(HookApp(commit, secret=SECRET, **options)).__enter__()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.__exit__(None, None, None)


@pytest.fixture
def receiver(make_receiver: Callable[..., Receiver], store: Store) -> Receiver:
    return make_receiver(store.commit)


@pytest.fixture
def client(receiver: Receiver) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=receiver.url, timeout=10) as http:
        yield http


def nothing_stored(db: Path) -> bool:
    return all(count(db, table) == 0 for table in ("deliveries", "delivery_events", "raw_events", "rejects"))


# --------------------------------------------------------------------------------------------- envelope parsing


def test_parse_envelope_splits_delivery_and_events() -> None:
    body = envelope("d-1", [phone_event("u1"), phone_event("u2")], extraTopLevel={"x": 1})
    body["data"]["note"] = "kept"
    delivery, items = parse_envelope(body, headers={"Authorization": SECRET, "User-Agent": "Okta-Integrations"})
    assert delivery == Delivery(
        event_id="d-1",
        event_time="2024-05-01T10:00:01.000Z",
        source="https://example.okta.com/api/v1/eventHooks/who1",
        event_type="com.okta.event_hook",
        event_type_version="1.0",
        cloud_events_version="0.1",
        content_type="application/json",
        headers={"Authorization": REDACTED, "User-Agent": "Okta-Integrations"},
        extra={"extraTopLevel": {"x": 1}, "data": {"note": "kept"}},
    )
    assert [(item.event["uuid"], item.ref, item.line, item.raw, item.error) for item in items] == [
        ("u1", "hook:d-1", 1, None, None),
        ("u2", "hook:d-1", 2, None, None),
    ]
    _, from_file = parse_envelope(body, ref="saved/delivery.json")
    assert {item.ref for item in from_file} == {"saved/delivery.json"}


def test_envelope_without_event_id_gets_a_stable_synthetic_id() -> None:
    first = envelope(None, [phone_event("u1")])
    reordered = dict(reversed(list(first.items())))
    delivery, items = parse_envelope(first)
    assert delivery.event_id == synthetic_event_id(first) == parse_envelope(reordered)[0].event_id
    assert delivery.event_id.startswith("sha256:") and len(delivery.event_id) == len("sha256:") + 64
    assert items[0].ref == f"hook:{delivery.event_id}"
    assert parse_envelope(envelope(None, [phone_event("u2")]))[0].event_id != delivery.event_id


def test_non_object_events_carry_an_error_for_the_rejects_table() -> None:
    _, items = parse_envelope(envelope("d-2", [phone_event("u1"), "oops", None]))
    assert [item.error for item in items] == [
        None,
        "event is a JSON string, not an object",
        "event is a JSON null, not an object",
    ]
    assert [item.raw for item in items[1:]] == ['"oops"', "null"]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([], "the body is a JSON array, not an object"),
        ({"uuid": "u1", "eventType": "user.session.start"}, "missing data.events"),
        ({"data": []}, "data is a JSON array, not an object"),
        ({"data": {}}, "missing data.events"),
        ({"data": {"events": {}}}, "data.events is a JSON object, not a list"),
    ],
)
def test_not_an_envelope(value: Any, problem: str) -> None:
    assert not is_delivery_envelope(value)
    with pytest.raises(EnvelopeError, match=problem):
        parse_envelope(value)


def test_redact_headers_keeps_names_and_hides_secret_values() -> None:
    headers = [
        ("authorization", "x"),
        ("Cookie", "c=1"),
        ("Proxy-Authorization", "Basic y"),
        ("X-Api-Key", "k"),
        ("X-Okta-Hook-Secret", "s"),
        ("x-access-token", "t"),
        ("X-Hub-Signature", "sig"),
        ("x-password", "p"),
        ("x-custom-auth", "a"),
        ("X-Shared", "v"),
        ("accept", "application/json"),
        ("x-forwarded-for", "10.0.0.1"),
        ("x-forwarded-for", "10.0.0.2"),
        ("user-agent", "Okta-Integrations"),
    ]
    redacted = redact_headers(headers, extra_secret_names=("x-shared",))
    assert list(redacted) == list(dict.fromkeys(name for name, _ in headers))
    public = {"accept": "application/json", "x-forwarded-for": "10.0.0.1, 10.0.0.2", "user-agent": "Okta-Integrations"}
    assert redacted == {name: public.get(name, REDACTED) for name in redacted}


def test_is_unavailable_error_follows_the_cause_chain(store: Store) -> None:
    store.archive.conn.execute("PRAGMA max_page_count = 1")  # never below the current size: the file is full
    with pytest.raises(ArchiveError) as disk_full:
        store.commit(*parse_envelope(big_delivery("d-full")))
    assert "disk is full" in str(disk_full.value)
    assert is_unavailable_error(disk_full.value)
    assert is_unavailable_error(ArchiveBusy("locked"))
    assert is_unavailable_error(OSError(28, "No space left on device"))
    assert not is_unavailable_error(ValueError("bug"))
    assert not is_unavailable_error(sqlite3.IntegrityError("constraint"))


# --------------------------------------------------------------------------------------------- HTTP surface


def test_health_and_unknown_routes(client: httpx.Client) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.post("/health").status_code == 405
    assert client.get("/").status_code == 404
    assert client.get("/-/metadata.json").status_code == 404
    response = client.put(HOOK, headers=AUTH)
    assert response.status_code == 405 and response.headers["allow"] == "GET, POST"


def test_verification_challenge(client: httpx.Client) -> None:
    challenge = {"X-Okta-Verification-Challenge": "Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg"}
    response = client.get(HOOK, headers={**challenge, **AUTH})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"verification": "Me_rShK8JHsTnbyYrWXCEoMGbM_zsZ6k0hLPZ_Pg"}
    assert client.get(HOOK + "/", headers={**challenge, **AUTH}).status_code == 200
    assert client.get(HOOK, headers=challenge).status_code == 401
    assert client.get(HOOK, headers={**challenge, "Authorization": "nope"}).status_code == 401
    assert client.get(HOOK, headers=AUTH).status_code == 400


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "wrong"}, {"Authorization": SECRET + "x"}, {"Authorization": "Bearer " + SECRET}],
    ids=["missing", "wrong", "longer", "prefixed"],
)
def test_wrong_or_missing_secret_is_401_and_nothing_is_stored(
    client: httpx.Client, store: Store, headers: dict[str, str]
) -> None:
    response = post(client, ten_events("d-401"), headers=headers)
    assert response.status_code == 401
    assert "Authorization" in response.json()["error"]
    assert nothing_stored(store.path)


def test_custom_auth_header_name(make_receiver: Callable[..., Receiver], store: Store) -> None:
    receiver = make_receiver(store.commit, auth_header="X-Okta-Shared")
    with httpx.Client(base_url=receiver.url) as http:
        assert post(http, ten_events("d-c"), headers=AUTH).status_code == 401
        assert post(http, ten_events("d-c"), headers={"X-Okta-Shared": SECRET}).status_code == 200
    [(headers,)] = query(store.path, "SELECT headers FROM deliveries WHERE delivery_id = 'd-c'")
    assert json.loads(headers)["x-okta-shared"] == REDACTED
    assert SECRET not in headers


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "malformed JSON"),
        (b'{"eventId": "d", "data": {"events": [', "malformed JSON"),
        (b"\xff\xfe not utf-8", "malformed JSON"),
        (b'{"data": {"events": [NaN]}}', "malformed JSON"),
        (b"[]", "body is not an Okta Event Hook delivery: the body is a JSON array, not an object"),
        (b'{"uuid": "u1", "eventType": "x"}', "body is not an Okta Event Hook delivery: missing data.events"),
        (b'{"data": {"events": "x"}}', "body is not an Okta Event Hook delivery: data.events is a JSON string"),
    ],
)
def test_bad_bodies_are_400_with_a_named_problem(client: httpx.Client, store: Store, body: bytes, error: str) -> None:
    response = post(client, body)
    assert response.status_code == 400
    assert response.json()["error"].startswith(error)
    assert nothing_stored(store.path)


# --------------------------------------------------------------------------------------------- storing


def test_delivery_is_committed_before_the_200(client: httpx.Client, store: Store) -> None:
    body = envelope("d-ok", [phone_event("u1"), phone_event("u2"), {"no": "uuid"}, 7])
    response = post(client, body, headers={**AUTH, "X-Okta-Request-Id": "req-1", "X-Other-Token": "t"})
    assert response.status_code == 200
    assert response.json() == {"received": 4, "new": 2, "duplicates": 0, "rejected": 2}
    # Read straight after the answer, through another connection: it is committed.
    [delivery] = query(
        store.path,
        "SELECT delivery_id, event_time, source, event_type, event_type_version, cloud_events_version, "
        "content_type, event_count, source_kind, ingest_run, headers FROM deliveries",
    )
    assert delivery[:10] == (
        "d-ok",
        "2024-05-01T10:00:01.000Z",
        "https://example.okta.com/api/v1/eventHooks/who1",
        "com.okta.event_hook",
        "1.0",
        "0.1",
        "application/json",
        2,
        "hook",
        store.run_id,
    )
    headers = json.loads(delivery[10])
    assert headers["authorization"] == REDACTED and headers["x-other-token"] == REDACTED
    assert headers["x-okta-request-id"] == "req-1"
    assert SECRET not in delivery[10]
    assert query(store.path, "SELECT uuid, source_kind, source_ref, source_line FROM raw_events ORDER BY id") == [
        ("u1", "hook", "hook:d-ok", 1),
        ("u2", "hook", "hook:d-ok", 2),
    ]
    assert query(store.path, "SELECT position, uuid FROM delivery_events ORDER BY position") == [(1, "u1"), (2, "u2")]
    rejects = query(store.path, "SELECT source_ref, line FROM rejects ORDER BY line")
    assert rejects == [("hook:d-ok", 3), ("hook:d-ok", 4)]
    projected(store.path)
    assert count(store.path, "events") == 2


def test_projections_follow_the_200_shortly_and_equal_a_rebuild(client: httpx.Client, store: Store) -> None:
    for number in range(5):
        assert post(client, ten_events(f"d-proj-{number}")).status_code == 200
        # acknowledged: the log is committed; the projection may still be queued
        assert count(store.path, "raw_events") == 10 * (number + 1)
        assert count(store.path, "events") + count(store.path, "projection_queue") == 10 * (number + 1)
    assert projected(store.path) < 2.0
    rows = "SELECT e.id, e.uuid, e.phone_number, e.user_id FROM events e ORDER BY e.id"
    incremental = query(store.path, rows)
    assert len(incremental) == 50 and all(row[2] == "+14155550123" for row in incremental)
    counts = query(store.path, "SELECT event_count FROM phones")
    with Archive(store.path) as other:
        other.rebuild()
    assert query(store.path, rows) == incremental and query(store.path, "SELECT event_count FROM phones") == counts


def test_repeated_delivery_is_archived_once(client: httpx.Client, store: Store) -> None:
    body = ten_events("d-rep")
    assert post(client, body).json() == {"received": 10, "new": 10, "duplicates": 0, "rejected": 0}
    assert post(client, body).json() == {"received": 10, "new": 0, "duplicates": 10, "rejected": 0}
    assert query(store.path, "SELECT delivery_id, event_count FROM deliveries") == [("d-rep", 10)]
    assert count(store.path, "raw_events") == 10 and count(store.path, "delivery_events") == 10
    projected(store.path)
    assert count(store.path, "events") == 10


def test_an_event_in_two_deliveries_is_archived_once_and_linked_to_both(client: httpx.Client, store: Store) -> None:
    assert post(client, envelope("d-a", [phone_event("u1"), phone_event("u2")])).json()["new"] == 2
    assert post(client, envelope("d-b", [phone_event("u2"), phone_event("u3")])).json() == {
        "received": 2,
        "new": 1,
        "duplicates": 1,
        "rejected": 0,
    }
    assert [uuid for (uuid,) in query(store.path, "SELECT uuid FROM raw_events ORDER BY id")] == ["u1", "u2", "u3"]
    assert query(store.path, "SELECT delivery_id, uuid FROM delivery_events ORDER BY delivery_id, position") == [
        ("d-a", "u1"),
        ("d-a", "u2"),
        ("d-b", "u2"),
        ("d-b", "u3"),
    ]


def test_real_okta_sample_delivery(client: httpx.Client, store: Store) -> None:
    shared = _shared_dir()
    if shared is None:
        pytest.skip("the shared Okta samples (/work/shared or ../shared) are not present on this machine")
    sample = shared / "okta-samples" / SAMPLE_NAME
    if not sample.is_file():
        pytest.skip(f"{sample} is missing from the shared samples")
    response = post(client, sample.read_bytes())
    assert response.status_code == 200
    assert response.json() == {"received": 1, "new": 1, "duplicates": 0, "rejected": 0}
    assert query(store.path, "SELECT delivery_id, event_time, source, event_type_version FROM deliveries") == [
        (
            "85b60edb-4263-4e13-993b-818e26201052",
            "2023-03-28T17:03:37.093Z",
            "https://{yourOktaDomain}/api/v1/eventHooks/who7hphp39JoHLni81d7",
            "1.0",
        )
    ]
    [(uuid, source_ref, payload)] = query(store.path, "SELECT uuid, source_ref, payload FROM raw_events")
    assert (uuid, source_ref) == ("f1d0b993-cc19-11ed-a688-db22c99ef6c4", "hook:85b60edb-4263-4e13-993b-818e26201052")
    assert json.loads(payload) == json.loads(sample.read_bytes())["data"]["events"][0]


def test_one_log_line_per_delivery_without_the_secret(client: httpx.Client, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="okta_calls.sources.hooks")
    post(client, envelope("d-log", [phone_event("u1"), phone_event("u2")]))
    post(client, envelope("d-log-bad", [phone_event("u3")]), headers={"Authorization": "wrong-" + SECRET})
    lines = [record.getMessage() for record in caplog.records if record.name == "okta_calls.sources.hooks"]
    delivered = [line for line in lines if line.startswith("delivery d-log:")]
    assert len(delivered) == 1
    assert "2 events, 2 new, 0 duplicates, 0 rejected" in delivered[0] and delivered[0].endswith(" ms")
    assert any("missing or wrong Authorization header" in line for line in lines)
    assert not any(SECRET in line for line in lines)


# --------------------------------------------------------------------------------------------- 413


def _raw_request(port: int, head: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(head)
    return sock


def _read_response(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _body_length(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def _body_length(data: bytes) -> int:
    for line in data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    return 0


def _head(extra: str) -> bytes:
    return (
        f"POST {HOOK} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: {SECRET}\r\n"
        f"Content-Type: application/json\r\n{extra}\r\n"
    ).encode()


class BodyCounter:
    """ASGI wrapper counting the request body bytes the wrapped app actually read."""

    def __init__(self, app: HookApp) -> None:
        self.app = app
        self.read = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        async def counting_receive() -> Any:
            message = await receive()
            self.read += len(message.get("body", b""))
            return message

        await self.app(scope, counting_receive, send)


def test_declared_body_over_the_limit_is_413_before_reading_it(receiver: Receiver, store: Store) -> None:
    fifty_mb = 50 * 1024 * 1024
    started = time.monotonic()
    with _raw_request(receiver.port, _head(f"Content-Length: {fifty_mb}\r\n")) as sock:
        response = _read_response(sock)  # not one byte of the body was sent: the server answered without it
    assert response.startswith(b"HTTP/1.1 413 ")
    assert b"connection: close" in response.lower()
    assert b"larger than 10485760 bytes" in response
    assert time.monotonic() - started < 5
    assert nothing_stored(store.path)


def test_streamed_body_over_the_limit_is_413_without_reading_it_all(store: Store) -> None:
    """A chunked 50 MB upload without Content-Length is refused as soon as it passes the limit."""
    limit = 1024 * 1024
    counter = BodyCounter(HookApp(store.commit, secret=SECRET, max_body=limit))
    chunk = b"x" * 16384
    framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
    sent, total = 0, 50 * 1024 * 1024
    with Receiver(counter) as receiver, _raw_request(receiver.port, _head("Transfer-Encoding: chunked\r\n")) as sock:
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                break  # the answer is there: stop uploading
            try:
                sock.sendall(framed)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        response = _read_response(sock)
    assert response.startswith(b"HTTP/1.1 413 ")
    assert sent < total / 4, f"the client could upload {sent} bytes before the server refused"
    assert limit < counter.read <= limit + 256 * 1024, f"the server read {counter.read} bytes"
    assert nothing_stored(store.path)


def test_body_at_the_limit_is_accepted(make_receiver: Callable[..., Receiver], store: Store) -> None:
    body = json.dumps(ten_events("d-big")).encode()
    receiver = make_receiver(store.commit, max_body=len(body))
    with httpx.Client(base_url=receiver.url) as http:
        assert post(http, body + b" ").status_code == 413
        assert post(http, body).status_code == 200
    assert count(store.path, "raw_events") == 10


# --------------------------------------------------------------------------------------------- 5xx


def test_database_locked_beyond_the_timeout_is_503_then_the_retry_is_stored(client: httpx.Client, store: Store) -> None:
    with closing(sqlite3.connect(store.path, isolation_level=None)) as other_writer:
        other_writer.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        response = post(client, ten_events("d-locked"))
        waited = time.monotonic() - started
        other_writer.execute("ROLLBACK")
    assert response.status_code == 503
    assert response.json() == {"error": "the archive is unavailable; retry later"}
    assert 0.4 < waited < 3.0, "the receiver should wait the busy timeout (0.5 s), and answer before Okta's 3 s"
    assert nothing_stored(store.path)
    assert post(client, ten_events("d-locked")).status_code == 200  # Okta's single retry
    assert count(store.path, "deliveries") == 1 and count(store.path, "raw_events") == 10


def test_disk_full_is_503_and_stores_nothing(client: httpx.Client, store: Store) -> None:
    store.archive.conn.execute("PRAGMA max_page_count = 1")  # clamps to the current size: no page can be added
    big = big_delivery("d-full")
    response = post(client, big)
    assert response.status_code == 503
    assert nothing_stored(store.path)
    store.archive.conn.execute("PRAGMA max_page_count = 1073741823")
    assert post(client, big).json()["new"] == 10


@pytest.mark.parametrize(
    ("error", "status"),
    [(ArchiveBusy("locked beyond the busy timeout"), 503), (RuntimeError("a bug"), 500)],
    ids=["archive-busy", "bug"],
)
def test_commit_failures_are_5xx_so_okta_retries(
    make_receiver: Callable[..., Receiver],
    store: Store,
    error: BaseException,
    status: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    receiver = make_receiver(Watched(store.commit, fail_with=error))
    with httpx.Client(base_url=receiver.url) as http:
        response = post(http, ten_events("d-5xx"))
    assert response.status_code == status
    assert "error" in response.json()
    assert nothing_stored(store.path)
    assert not any(SECRET in record.getMessage() for record in caplog.records)


def test_commit_slower_than_the_deadline_is_503_and_the_retry_is_harmless(
    make_receiver: Callable[..., Receiver], store: Store
) -> None:
    slow = Watched(store.commit, delay=1.5)
    receiver = make_receiver(slow, deadline=0.2)
    with httpx.Client(base_url=receiver.url) as http:
        assert post(http, ten_events("d-slow")).status_code == 503
        assert nothing_stored(store.path)  # answered while the commit was still running
        slow.delay = 0.0
        while slow.active:  # the commit that was already running completes anyway
            time.sleep(0.05)
        assert count(store.path, "deliveries") == 1
        retry = post(http, ten_events("d-slow"))
    assert retry.json() == {"received": 10, "new": 0, "duplicates": 10, "rejected": 0}
    assert count(store.path, "deliveries") == 1 and count(store.path, "raw_events") == 10


def test_a_backlog_over_half_the_deadline_is_refused_at_once(make_receiver: Callable[..., Receiver], store: Store) -> None:
    """Under overload new deliveries get 503 before their body is read; the accepted ones are all stored."""
    slow = Watched(store.commit, delay=0.3)
    receiver = make_receiver(slow, deadline=2.0)
    with httpx.Client(base_url=receiver.url) as http:
        assert post(http, ten_events("d-warm")).status_code == 200  # the writer learns: 0.3 s a delivery
    bodies = [ten_events(f"d-burst-{n}") for n in range(12)]
    responses = asyncio.run(_post_many(receiver.url, bodies))
    accepted = {body["eventId"] for body, response in zip(bodies, responses) if response.status_code == 200}
    refused = [response.json() for response in responses if response.status_code != 200]
    assert len(accepted) >= 3 and refused, [(r.status_code, r.text) for r in responses]
    assert all(answer == {"error": "too many deliveries at once; retry later"} for answer in refused), refused
    assert {delivery for (delivery,) in query(store.path, "SELECT delivery_id FROM deliveries")} == {"d-warm"} | accepted


# --------------------------------------------------------------------------------------------- concurrency


async def _post_many(url: str, bodies: list[dict[str, Any]], concurrency: int = 100) -> list[httpx.Response]:
    """POST every body, ``concurrency`` at a time at most."""
    gate = asyncio.Semaphore(concurrency)
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:

        async def one(body: dict[str, Any]) -> httpx.Response:
            async with gate:
                return await http.post(HOOK, content=json.dumps(body).encode(), headers=AUTH)

        return await asyncio.gather(*(one(body) for body in bodies))


def test_parallel_deliveries_are_all_committed_one_at_a_time(
    make_receiver: Callable[..., Receiver], store: Store
) -> None:
    watched = Watched(store.commit)
    receiver = make_receiver(watched)
    bodies = [ten_events(f"d-par-{n}") for n in range(20)]
    responses = asyncio.run(_post_many(receiver.url, bodies + bodies[:5]))
    assert [response.status_code for response in responses] == [200] * 25
    assert sum(response.json()["new"] for response in responses) == 200
    assert sum(response.json()["duplicates"] for response in responses) == 50
    assert count(store.path, "deliveries") == 20 and count(store.path, "raw_events") == 200
    assert count(store.path, "delivery_events") == 200
    assert query(store.path, "SELECT seen, inserted, duplicates FROM ingest_runs WHERE id = ?", store.run_id) == [
        (250, 200, 50)
    ]
    assert watched.max_active == 1


@dataclass
class RecordingGroup:
    """``Archive.transaction`` that records how many commits each committed group held."""

    archive: Archive
    watched: Watched
    sizes: list[int] = field(default_factory=list)

    @contextmanager
    def __call__(self) -> Iterator[None]:
        before = self.watched.calls
        with self.archive.transaction():
            yield
        self.sizes.append(self.watched.calls - before)


def test_deliveries_that_queue_up_share_one_transaction_and_a_bad_one_fails_alone(
    make_receiver: Callable[..., Receiver], store: Store
) -> None:
    # A delivery holding this event fails inside its own write, after its first rows went in.
    store.archive.conn.execute(
        "CREATE TEMP TRIGGER poison BEFORE INSERT ON main.raw_events WHEN NEW.uuid = 'poison' "
        "BEGIN SELECT RAISE(ABORT, 'poisoned event'); END"
    )
    slow = Watched(store.commit, delay=0.1)  # the others queue up behind the first
    groups = RecordingGroup(store.archive, slow)
    receiver = make_receiver(slow, group=groups)
    good = [ten_events(f"d-g-{n}") for n in range(6)]
    assert [response.status_code for response in asyncio.run(_post_many(receiver.url, good))] == [200] * 6
    assert max(groups.sizes) > 1  # some deliveries did share a transaction
    mixed = [ten_events(f"d-g-{n}") for n in range(6, 11)]
    mixed.insert(2, envelope("d-poison", [phone_event("fine"), phone_event("poison")]))
    responses = asyncio.run(_post_many(receiver.url, mixed))
    statuses = {body["eventId"]: response.status_code for body, response in zip(mixed, responses)}
    assert statuses == {**{f"d-g-{n}": 200 for n in range(6, 11)}, "d-poison": 500}
    assert count(store.path, "deliveries") == 11 and count(store.path, "raw_events") == 110
    assert query(store.path, "SELECT count(*) FROM raw_events WHERE uuid IN ('fine', 'poison')") == [(0,)]
    assert query(store.path, "SELECT seen, inserted FROM ingest_runs WHERE id = ?", store.run_id) == [(110, 110)]


def test_beside_an_api_sync_writer_and_a_reader_nobody_sees_database_is_locked(tmp_path: Path) -> None:
    """Deliveries while an API sync appends 1000-event pages and a reader runs queries, all on one file.

    The sync writes two pages a second, faster than Okta lets one token fetch them (at most 120 requests a
    minute, half of that per token by default), with each page in one transaction of ~200 ms. Deliveries come
    four at a time, and the app has no deadline of its own here: any 503 would be the database being locked.
    """
    db = tmp_path / "shared.db"
    stop, errors, pages, reads = threading.Event(), [], [0], [0]

    def api_sync() -> None:
        with Archive(db) as archive:
            run_id = archive.start_run("api", ["tests"])
            while not stop.is_set():
                page = [Incoming(phone_event(f"api-{pages[0]}-{n}"), None, "api") for n in range(1000)]
                try:
                    archive.append(page, run_id=run_id, kind="api")
                except Exception as error:  # noqa: BLE001 - collected for the assertion
                    errors.append(f"sync: {error}")
                pages[0] += 1
                stop.wait(0.5)

    def reader() -> None:
        with closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)) as conn:
            while not stop.is_set():
                try:
                    conn.execute("SELECT event_type, count(*) FROM events GROUP BY event_type").fetchall()
                    conn.execute("SELECT count(*) FROM deliveries JOIN delivery_events USING (delivery_id)").fetchall()
                except sqlite3.Error as error:
                    errors.append(f"reader: {error}")
                reads[0] += 1

    with Archive(db, timeout=DEFAULT_BUSY_TIMEOUT) as hook_archive:
        commit = archive_commit(hook_archive, hook_archive.start_run("hook", ["tests"]))
        app = HookApp(commit, secret=SECRET, deadline=None, group=hook_archive.transaction)
        workers = [threading.Thread(target=api_sync), threading.Thread(target=reader)]
        with Receiver(app) as receiver:  # stopped (its commits finished) before the archive closes
            for worker in workers:
                worker.start()
            try:
                bodies = [ten_events(f"d-mix-{n}") for n in range(60)]
                responses = asyncio.run(_post_many(receiver.url, bodies, concurrency=4))
            finally:
                stop.set()
                for worker in workers:
                    worker.join()
    assert [response.status_code for response in responses] == [200] * 60
    assert errors == []
    assert pages[0] > 0 and reads[0] > 0
    assert count(db, "deliveries") == 60
    assert count(db, "raw_events") == 600 + 1000 * pages[0]


# --------------------------------------------------------------------------------------------- the process


@pytest.mark.parametrize(
    ("options", "problem"),
    [({"secret": ""}, "secret is required"), ({"secret": SECRET, "path": "/health"}, "unusable hook path")],
)
def test_serve_hooks_refuses_bad_settings_before_touching_the_archive(
    tmp_path: Path, options: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        serve_hooks(tmp_path / "okta.db", **options)
    assert not (tmp_path / "okta.db").exists()


def test_a_taken_port_fails_the_run(tmp_path: Path) -> None:
    package = logging.getLogger("okta_calls")
    level = package.level
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        try:
            with pytest.raises(SystemExit):
                serve_hooks(tmp_path / "okta.db", secret=SECRET, port=taken.getsockname()[1], log_level="critical")
        finally:
            package.setLevel(level)  # serve_hooks sets up the process's logging
    [(kind, status, error)] = query(tmp_path / "okta.db", "SELECT source_kind, status, error FROM ingest_runs")
    assert (kind, status) == ("hook", "failed") and error.startswith("SystemExit")


@pytest.mark.slow
def test_kill_9_right_after_a_200_loses_no_acknowledged_delivery(tmp_path: Path) -> None:
    db = tmp_path / "okta.db"
    process = ReceiverProcess(db, tmp_path / "receiver.log")
    acknowledged: list[str] = []
    stop = threading.Event()

    def sender(name: str) -> None:
        with httpx.Client(base_url=process.url, timeout=5) as http:
            number = 0
            while not stop.is_set():
                event_id = f"d-{name}-{number}"
                try:
                    if post(http, ten_events(event_id)).status_code == 200:
                        acknowledged.append(event_id)
                except httpx.TransportError:
                    return  # the receiver is gone
                number += 1

    senders = [threading.Thread(target=sender, args=(str(n),)) for n in range(3)]
    try:
        for thread in senders:
            thread.start()
        time.sleep(1.0)
        with httpx.Client(base_url=process.url, timeout=5) as http:
            last = post(http, ten_events("d-last"))
            os.kill(process.proc.pid, signal.SIGKILL)  # at once, while the others are mid-flight
        stop.set()
        for thread in senders:
            thread.join()
    finally:
        process.stop()
    assert last.status_code == 200
    assert process.proc.returncode == -signal.SIGKILL
    acknowledged.append("d-last")
    assert len(acknowledged) > 10
    assert query(db, "PRAGMA integrity_check") == [("ok",)]
    stored = {delivery_id for (delivery_id,) in query(db, "SELECT delivery_id FROM deliveries")}
    assert set(acknowledged) <= stored
    linked = dict(query(db, "SELECT delivery_id, count(*) FROM delivery_events GROUP BY delivery_id"))
    assert all(linked[event_id] == 10 for event_id in acknowledged)
    archived = {uuid for (uuid,) in query(db, "SELECT uuid FROM raw_events")}
    assert {f"{event_id}-{n}" for event_id in acknowledged for n in range(10)} <= archived
    with Archive(db) as reopened:  # the archive opens cleanly after the crash
        assert reopened.counts()["deliveries"] == len(stored)
    assert SECRET not in process.log()


def projection_dump(db: Path) -> list[list[tuple[Any, ...]]]:
    """Every projection table's rows, in a stable order."""
    tables = {"events": "id", "targets": "event_id, position", "debug_data": "event_id, key",
              "ip_chain": "event_id, position", "actors": "id", "users": "id", "phones": "phone_number"}
    dump = [query(db, f"SELECT * FROM {table} ORDER BY {order}") for table, order in tables.items()]
    return [*dump, query(db, "SELECT rowid, * FROM events_fts ORDER BY rowid")]


@pytest.mark.slow
def test_kill_9_between_the_log_commit_and_the_projection_loses_nothing(tmp_path: Path) -> None:
    """Acknowledged, not yet projected, killed: the next command that opens the archive projects the events."""
    db = tmp_path / "okta.db"
    process = ReceiverProcess(db, tmp_path / "receiver.log", projection_interval=3600)
    try:
        with httpx.Client(base_url=process.url, timeout=5) as http:
            bodies = [ten_events(f"d-crash-{n}") for n in range(3)]
            bodies.append(envelope("d-crash-odd", [phone_event("d-crash-0-1"), {"no": "uuid"}, phone_event("odd")]))
            assert [post(http, body).status_code for body in bodies] == [200] * 4
        # in the window: the log is committed, the projections are not
        assert count(db, "raw_events") == 31 and count(db, "deliveries") == 4 and count(db, "rejects") == 1
        assert count(db, "projection_queue") == 31 and count(db, "events") == 0
        child = int(re.search(r"projector process (\d+) started", process.log()).group(1))  # type: ignore[union-attr]
        os.kill(process.proc.pid, signal.SIGKILL)
        process.proc.wait(timeout=10)
        deadline = time.monotonic() + 20  # the projector child sees its stdin close, projects the rest, exits
        while _alive(child):
            assert time.monotonic() < deadline, "the projector process outlived the killed receiver"
            time.sleep(0.05)
    finally:
        process.stop()
    status = subprocess.run([sys.executable, "-m", "okta_calls.cli", "status", str(db)], capture_output=True,
                            text=True, cwd=PROJECT, timeout=60)
    assert status.returncode == 0, status.stderr
    assert "events: 31" in status.stdout and "projection queue: 0 events" in status.stdout
    assert count(db, "projection_queue") == 0 and count(db, "events") == 31
    assert query(db, "SELECT event_count FROM phones") == [(31,)]
    caught_up = projection_dump(db)
    with Archive(db) as archive:
        archive.rebuild()
    assert projection_dump(db) == caught_up


def _alive(pid: int) -> bool:
    """The process exists and is not a zombie (Linux ``/proc``)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.slow
def test_sigterm_projects_every_acknowledged_event_before_exiting(tmp_path: Path) -> None:
    db = tmp_path / "okta.db"
    process = ReceiverProcess(db, tmp_path / "receiver.log", projection_interval=3600)
    try:
        with httpx.Client(base_url=process.url, timeout=5) as http:
            assert post(http, ten_events("d-drain")).status_code == 200
        assert count(db, "projection_queue") == 10
        process.proc.send_signal(signal.SIGTERM)
        assert process.proc.wait(timeout=15) == 0
    finally:
        process.stop()
    assert count(db, "projection_queue") == 0 and count(db, "events") == 10  # no reopening needed


@pytest.mark.slow
def test_sigterm_finishes_the_deliveries_and_the_run(tmp_path: Path) -> None:
    db = tmp_path / "okta.db"
    process = ReceiverProcess(db, tmp_path / "receiver.log")
    try:
        with httpx.Client(base_url=process.url, timeout=5) as http:
            assert post(http, ten_events("d-term")).status_code == 200
        process.proc.send_signal(signal.SIGTERM)
        assert process.proc.wait(timeout=15) == 0
    finally:
        process.stop()
    assert query(db, "SELECT source_kind, status, finished_at IS NOT NULL, inserted FROM ingest_runs") == [
        ("hook", "ok", 1, 10)
    ]
    log_text = process.log()
    assert "delivery d-term: 10 events, 10 new, 0 duplicates, 0 rejected" in log_text
    assert SECRET not in log_text


def test_receive_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "OKTA_HOOK_SECRET"}
    done = subprocess.run([sys.executable, "-m", "okta_calls.cli", "receive", str(tmp_path / "x.db")],
                          capture_output=True, text=True, env=env, cwd=PROJECT, timeout=60)
    assert done.returncode == 2 and "no Event Hook secret" in done.stderr
    assert not (tmp_path / "x.db").exists()
