"""Sustained combined load: `ingest --follow`, `receive` and `serve` on ONE archive at once, for N seconds.

Usage (from the project root, in its virtualenv)::

    python benchmarks/load_run.py --seconds 600                 # the README's figures
    python benchmarks/load_run.py --seconds 40 --preload 5000 --json out.json   # what tests/test_load.py runs

What runs, each in its own process, on one database file:

- the loopback Okta (``python -m tests.fake_okta --produce R``) adding ``--okta-rate`` new telephony events per
  second, and ``okta-calls ingest DB --org ... --follow --interval 1`` pulling them;
- ``okta-calls receive DB`` and a poster sending deliveries of 10 events at ``--hook-rate`` per second, open
  loop, several in flight at once (latency counts from the moment a delivery was due);
- ``okta-calls serve DB`` and ``--readers`` threads asking it, back to back, for the events page (HTML, six
  facets), a facet, the ``calls`` view, canned queries and ad hoc SQL.

A sampler reads the size of ``DB-wal`` every 0.1 s. At the end the poster and the producer stop, the follower
is stopped with SIGTERM (it finishes its page), one plain ``okta-calls ingest --org`` catches up, the receiver
and Datasette get SIGTERM; then the archive is checked: every event the fake Okta holds (read back through its
API) and every acknowledged delivery's events are in ``raw_events`` exactly once, ``events`` has one row per
raw event, and ``PRAGMA integrity_check`` is ok. It prints (and with ``--json`` writes) every HTTP status seen
by readers and poster, "database is locked" sightings (answers and the three logs), the WAL's peak size and the
latency percentiles. Exit status 1 when a check fails.

The WAL bound it checks: a writer restarts the WAL once it is past ``wal_limit`` (``--wal-limit-mb``, passed to
every process as ``OKTA_CALLS_WAL_LIMIT_MB``; 512 MiB by default). ``receive``'s checkpoint thread looks every
second, holds Datasette's new queries back and gives the running ones up to 5 s (``RESTART_WAIT``) before it
truncates; the writers keep writing meanwhile. So the peak may pass the limit by what the writers write in
that time: the bound is ``wal_limit`` plus the most WAL written in any ``BOUND_WINDOW`` seconds of the run
(5 s of waiting, 1 s between looks, 1 s for the last copy and the truncation).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuid_module
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

import httpx

from okta_calls.walgate import ENV_WAL_LIMIT

PROJECT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "okta_calls.cli"]
TOKEN = "load-run-token-0123456789"
SECRET = "load-run-hook-secret"
HOOK = "/okta/event-hook"
LOCKED = "database is locked"
MIB = 1 << 20
DEFAULT_WAL_LIMIT_MB = 512  # okta_calls.archive.WAL_LIMIT
BOUND_WINDOW = 7.0  # seconds: the restart's wait for readers (5) + the checkpoint thread's interval (1) + 1


def reader_paths(name: str) -> list[tuple[str, str]]:
    """(kind, path) pairs the readers cycle through: what a security analyst clicks on, and ad hoc SQL."""
    sql = "select event_type, count(*) from events group by event_type"
    return [
        ("events page", f"/{name}/events"),
        ("facet", f"/{name}/events.json?_facet=phone_country&_size=10"),
        ("newest raw", f"/{name}/raw_events.json?_sort_desc=id&_size=20"),
        ("calls view", f"/{name}/calls.json?_size=20"),
        ("canned: calls_per_day", f"/{name}/calls_per_day.json"),
        ("canned: toll_fraud_suspects", f"/{name}/toll_fraud_suspects.json"),
        ("canned: shared_numbers", f"/{name}/shared_numbers.json"),
        ("ad hoc SQL", f"/{name}.json?sql={sql.replace(' ', '+')}"),
        ("ad hoc SQL", f"/{name}.json?sql=select+count(*)+from+raw_events"),
    ]


@dataclass
class Timings:
    """Statuses and latencies of one kind of client."""

    statuses: Counter[str] = field(default_factory=Counter)
    latencies_ms: list[float] = field(default_factory=list)
    locked: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, status: str, ms: float, body: str = "") -> None:
        with self.lock:
            self.statuses[status] += 1
            self.latencies_ms.append(ms)
            if LOCKED in body:
                self.locked += 1

    def percentile(self, q: float) -> float:
        with self.lock:
            data = sorted(self.latencies_ms)
        return data[min(len(data) - 1, int(q * len(data)))] if data else 0.0


@dataclass
class Report:
    seconds: float
    okta_rate: float
    hook_rate: float
    readers: int
    preload: int
    reader_statuses: dict[str, int] = field(default_factory=dict)
    reader_statuses_by_kind: dict[str, dict[str, int]] = field(default_factory=dict)
    reader_p50_ms: float = 0.0
    reader_p99_ms: float = 0.0
    reader_requests: int = 0
    poster_statuses: dict[str, int] = field(default_factory=dict)
    delivery_p50_ms: float = 0.0
    delivery_p99_ms: float = 0.0
    deliveries_acknowledged: int = 0
    locked_in_answers: int = 0
    locked_in_logs: dict[str, int] = field(default_factory=dict)
    tracebacks_in_logs: dict[str, int] = field(default_factory=dict)
    wal_peak_bytes: int = 0
    wal_final_bytes: int = 0
    wal_samples: int = 0
    wal_peak_mib_per_10s: list[float] = field(default_factory=list)
    wal_limit_bytes: int = 0
    wal_most_written_in_window: int = 0
    wal_bound_bytes: int = 0
    wal_restarts: int = 0
    wal_restarts_given_up: int = 0
    api_events_served: int = 0
    api_events_archived: int = 0
    hook_events_acknowledged: int = 0
    hook_events_archived: int = 0
    raw_events: int = 0
    events: int = 0
    duplicates_in_log: int = 0
    integrity: str = ""
    follow_exit: int | None = None
    catch_up_exit: int | None = None
    receive_exit: int | None = None
    serve_exit: int | None = None
    load_average: str = ""
    failures: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------- processes


WAL_ENV: dict[str, str] = {}  # OKTA_CALLS_WAL_LIMIT_MB for every okta-calls process, from --wal-limit-mb


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[Any], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited with {process.returncode}")
        try:
            httpx.get(url, timeout=5)
            return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def start(args: list[str], log: Path, **options: Any) -> subprocess.Popen[Any]:
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "OKTA_HOOK_SECRET": SECRET, **WAL_ENV}
    env.pop("OKTA_API_TOKEN", None)
    options.setdefault("cwd", log.parent)
    with open(log, "wb") as log_file:
        return subprocess.Popen(args, env=env, stderr=log_file, **options)


def stop(process: subprocess.Popen[Any], timeout: float = 120) -> int:
    """SIGTERM, wait; kill only if it does not end in ``timeout`` seconds. The exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return int(process.returncode)


@contextmanager
def fake_okta(workdir: Path, rate: float) -> Iterator[tuple[str, subprocess.Popen[Any]]]:
    process = start([sys.executable, "-m", "tests.fake_okta", "--events", "0", "--produce", str(rate),
                     "--token", TOKEN, "--rate-limit", "100000"], workdir / "fake_okta.log",
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=PROJECT)
    assert process.stdout is not None and process.stdin is not None
    try:
        yield process.stdout.readline().strip(), process
    finally:
        process.stdin.close()
        process.wait(timeout=30)


def stop_producing(process: subprocess.Popen[Any]) -> int:
    """Tell the fake Okta to stop adding events; how many it holds."""
    stdin: IO[str] | None = process.stdin
    assert stdin is not None and process.stdout is not None
    stdin.write("stop\n")
    stdin.flush()
    return int(process.stdout.readline())


def served_uuids(base_url: str) -> list[str]:
    """Every event the fake Okta serves, read back through its own API (a fresh polling walk)."""
    uuids: list[str] = []
    since = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 7 * 86400))
    url: str | None = f"{base_url}/api/v1/logs?limit=1000&since={since}"
    with httpx.Client(headers={"Authorization": f"SSWS {TOKEN}"}, timeout=60) as http:
        while url:
            response = http.get(url)
            response.raise_for_status()
            page = response.json()
            uuids += [event["uuid"] for event in page]
            url = response.links.get("next", {}).get("url") if page else None
    return uuids


# --------------------------------------------------------------------------------------------- clients


def delivery(number: int, run: str) -> tuple[str, bytes, list[str]]:
    """A delivery of 10 telephony events: its id, body and the events' uuids."""
    from tests.fake_okta import PHONE_EVENT_TYPES, make_event, okta_time

    now = time.time()
    events = []
    for k in range(10):
        event = make_event(10_000_000 + number * 10 + k, published=now, event_type=PHONE_EVENT_TYPES[k % 2])
        event["uuid"] = str(uuid_module.uuid5(uuid_module.NAMESPACE_URL, f"{run}/{number}/{k}"))
        events.append(event)
    event_id = f"load-{run}-{number:07d}"
    body = {"eventType": "com.okta.event_hook", "eventTypeVersion": "1.0", "cloudEventsVersion": "0.1",
            "source": "https://load.okta.com/api/v1/eventHooks/whoLOAD", "eventId": event_id,
            "eventTime": okta_time(now), "contentType": "application/json", "data": {"events": events}}
    return event_id, json.dumps(body).encode(), [e["uuid"] for e in events]


class Poster:
    """Okta's side of the hook: ``rate`` deliveries a second, open loop, up to 16 in flight."""

    def __init__(self, url: str, rate: float, run: str) -> None:
        self.url, self.rate, self.run = url, rate, run
        self.timings = Timings()
        self.acknowledged: dict[str, list[str]] = {}
        self._stop = threading.Event()
        self._pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="poster")
        self._local = threading.local()
        self._thread = threading.Thread(target=self._schedule, name="poster", daemon=True)

    def _client(self) -> httpx.Client:
        if not hasattr(self._local, "client"):
            self._local.client = httpx.Client(base_url=self.url, timeout=30)
        client: httpx.Client = self._local.client
        return client

    def _send(self, number: int, due: float) -> None:
        event_id, body, uuids = delivery(number, self.run)
        try:
            response = self._client().post(HOOK, content=body, headers={"Authorization": SECRET,
                                                                       "Content-Type": "application/json"})
            status, text = str(response.status_code), response.text
        except httpx.HTTPError as error:
            status, text = type(error).__name__, ""
        self.timings.record(status, (time.monotonic() - due) * 1000, text)
        if status == "200":
            with self.timings.lock:
                self.acknowledged[event_id] = uuids

    def _schedule(self) -> None:
        began, number = time.monotonic(), 0
        while not self._stop.is_set():
            due = began + number / self.rate
            wait = due - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                break
            self._pool.submit(self._send, number, due)
            number += 1

    def start(self) -> Poster:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self._pool.shutdown(wait=True)


class Readers:
    """``count`` threads asking Datasette for pages back to back, each starting at a different page."""

    def __init__(self, url: str, name: str, count: int) -> None:
        self.url, self.paths, self.count = url, reader_paths(name), count
        self.timings = Timings()
        self.by_kind: dict[str, Counter[str]] = {}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._read, args=(n,), daemon=True) for n in range(count)]

    def _read(self, offset: int) -> None:
        rng = random.Random(offset)
        with httpx.Client(base_url=self.url, timeout=60) as http:
            number = offset
            while not self._stop.is_set():
                kind, path = self.paths[number % len(self.paths)] if rng.random() < 0.8 else rng.choice(self.paths)
                started = time.monotonic()
                try:
                    response = http.get(path)
                    status, text = str(response.status_code), response.text
                except httpx.HTTPError as error:
                    status, text = type(error).__name__, ""
                self.timings.record(status, (time.monotonic() - started) * 1000, text)
                with self.timings.lock:
                    self.by_kind.setdefault(kind, Counter())[status] += 1
                number += 1

    def start(self) -> Readers:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()


class WalSampler:
    """The WAL file's size every ``every`` seconds: the peak, and how many samples."""

    def __init__(self, db: Path, every: float = 0.1) -> None:
        self.wal = Path(f"{db}-wal")
        self.every = every
        self.peak = 0
        self.samples = 0
        self.peaks_per_10s: list[int] = []
        self.most_written = 0  # the most the WAL grew in any BOUND_WINDOW seconds (writes since its last restart)
        self._recent: list[tuple[float, int]] = []
        self._began = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                size = self.wal.stat().st_size
            except FileNotFoundError:
                size = 0
            self.peak = max(self.peak, size)
            self.samples += 1
            self._track_growth(size)
            window = int((time.monotonic() - self._began) // 10)
            while len(self.peaks_per_10s) <= window:
                self.peaks_per_10s.append(0)
            self.peaks_per_10s[window] = max(self.peaks_per_10s[window], size)

    def _track_growth(self, size: int) -> None:
        """Growth over the last BOUND_WINDOW seconds, counted from the smallest size since (a restart resets)."""
        now = time.monotonic()
        self._recent = [(t, s) for t, s in self._recent if now - t <= BOUND_WINDOW] + [(now, size)]
        low = size
        for _, earlier in reversed(self._recent):
            low = min(low, earlier)
        self.most_written = max(self.most_written, size - low)

    def start(self) -> WalSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# --------------------------------------------------------------------------------------------- the run


def preload(db: Path, events: int, workdir: Path) -> None:
    """A realistic archive for the readers: ``events`` generated events, ingested from a file."""
    if events <= 0:
        return
    source = workdir / "preload.ndjson"
    subprocess.run([*CLI, "generate", str(events), "--seed", "7", "--days", "30", "-o", str(source)], check=True,
                   cwd=PROJECT)
    subprocess.run([*CLI, "ingest", str(db), str(source), "--silent"], check=True, cwd=PROJECT,
                   stdout=subprocess.DEVNULL)
    source.unlink()


def count_in_log(path: Path, needle: str) -> int:
    return path.read_text(errors="replace").count(needle) if path.exists() else 0


def run(args: argparse.Namespace, workdir: Path) -> Report:
    db = workdir / "load.db"
    report = Report(args.seconds, args.okta_rate, args.hook_rate, args.readers, args.preload)
    preload(db, args.preload, workdir)
    serve_port, receive_port = free_port(), free_port()
    with fake_okta(workdir, args.okta_rate) as (okta_url, okta):
        api = [*CLI, "ingest", str(db), "--org", okta_url, "--token", TOKEN, "--since", "2d", "--limit", "200",
               "--silent"]
        follow = start([*CLI, "-v", *api[len(CLI):], "--follow", "--interval", "1"], workdir / "follow.log")
        receive = start([*CLI, "receive", str(db), "--port", str(receive_port)], workdir / "receive.log")
        serve = start([*CLI, "serve", str(db), "--port", str(serve_port)], workdir / "serve.log",
                      stdout=subprocess.DEVNULL)
        wait_until_up(f"http://127.0.0.1:{receive_port}/health", receive)
        wait_until_up(f"http://127.0.0.1:{serve_port}/-/versions.json", serve)
        sampler = WalSampler(db).start()
        poster = Poster(f"http://127.0.0.1:{receive_port}", args.hook_rate, run=uuid_module.uuid4().hex[:8]).start()
        readers = Readers(f"http://127.0.0.1:{serve_port}", db.stem, args.readers).start()
        began = time.monotonic()
        while time.monotonic() - began < args.seconds:
            time.sleep(1.0)
            for name, process in (("ingest --follow", follow), ("receive", receive), ("serve", serve)):
                if process.poll() is not None:
                    report.failures.append(f"{name} exited early with {process.returncode}")
            if report.failures:
                break
        report.load_average = " ".join(Path("/proc/loadavg").read_text().split()[:3]) \
            if Path("/proc/loadavg").exists() else ""
        poster.stop()
        readers.stop()
        produced = stop_producing(okta)
        report.follow_exit = stop(follow)
        catch_up = subprocess.run(api, cwd=workdir, capture_output=True, text=True, timeout=600,
                                  env={**os.environ, "PYTHONPATH": str(PROJECT), **WAL_ENV})
        report.catch_up_exit = catch_up.returncode
        report.receive_exit = stop(receive)
        report.serve_exit = stop(serve)
        sampler.stop()
        served = served_uuids(okta_url)
        if len(served) != produced:
            report.failures.append(f"the fake Okta holds {produced} events but served {len(served)}")
    report.wal_peak_bytes, report.wal_samples = sampler.peak, sampler.samples
    report.wal_peak_mib_per_10s = [round(size / 2**20, 1) for size in sampler.peaks_per_10s]
    report.wal_final_bytes = Path(f"{db}-wal").stat().st_size if Path(f"{db}-wal").exists() else 0
    report.wal_limit_bytes = int(args.wal_limit_mb * MIB)
    report.wal_most_written_in_window = sampler.most_written
    report.wal_bound_bytes = report.wal_limit_bytes + sampler.most_written
    report.reader_statuses = dict(readers.timings.statuses)
    report.reader_statuses_by_kind = {kind: dict(counts) for kind, counts in readers.by_kind.items()}
    report.reader_requests = len(readers.timings.latencies_ms)
    report.reader_p50_ms, report.reader_p99_ms = readers.timings.percentile(0.5), readers.timings.percentile(0.99)
    report.poster_statuses = dict(poster.timings.statuses)
    report.delivery_p50_ms, report.delivery_p99_ms = poster.timings.percentile(0.5), poster.timings.percentile(0.99)
    report.deliveries_acknowledged = len(poster.acknowledged)
    report.locked_in_answers = readers.timings.locked + poster.timings.locked
    logs = {"ingest --follow": "follow.log", "receive": "receive.log", "serve": "serve.log",
            "catch-up ingest": None}
    for name, file in logs.items():
        text = catch_up.stderr if file is None else (workdir / file).read_text(errors="replace")
        report.locked_in_logs[name] = text.count(LOCKED)
        report.wal_restarts += text.count("; restarted it in ")
        report.wal_restarts_given_up += text.count("readers kept it")
        report.tracebacks_in_logs[name] = text.count("Traceback")
    check_archive(db, report, set(served), {u for uuids in poster.acknowledged.values() for u in uuids},
                  set(poster.acknowledged))
    judge(report)
    return report


def check_archive(db: Path, report: Report, served: set[str], acknowledged: set[str], deliveries: set[str]) -> None:
    with closing(sqlite3.connect(db)) as conn:
        report.integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
        api = [u for (u,) in conn.execute("SELECT uuid FROM raw_events WHERE source_kind = 'api'")]
        hook = [u for (u,) in conn.execute("SELECT uuid FROM raw_events WHERE source_kind = 'hook'")]
        report.raw_events = conn.execute("SELECT count(*) FROM raw_events").fetchone()[0]
        report.duplicates_in_log = report.raw_events - conn.execute(
            "SELECT count(DISTINCT uuid) FROM raw_events").fetchone()[0]
        report.events = conn.execute("SELECT count(*) FROM events").fetchone()[0]
        stored = {d for (d,) in conn.execute("SELECT delivery_id FROM deliveries")}
    report.api_events_served, report.api_events_archived = len(served), len(api)
    report.hook_events_acknowledged, report.hook_events_archived = len(acknowledged), len(hook)
    if set(api) != served or len(api) != len(served):
        report.failures.append(f"API: {len(served - set(api))} served events missing, "
                               f"{len(api) - len(set(api))} twice, {len(set(api) - served)} unknown")
    if not acknowledged <= set(hook):
        report.failures.append(f"hooks: {len(acknowledged - set(hook))} acknowledged events missing")
    if not deliveries <= stored:
        report.failures.append(f"hooks: {len(deliveries - stored)} acknowledged deliveries missing")


def judge(report: Report) -> None:
    if report.integrity != "ok":
        report.failures.append(f"integrity_check: {report.integrity}")
    if report.duplicates_in_log:
        report.failures.append(f"{report.duplicates_in_log} events twice in raw_events")
    if report.events != report.raw_events:
        report.failures.append(f"events has {report.events} rows for {report.raw_events} raw events")
    for who, statuses in (("readers", report.reader_statuses), ("poster", report.poster_statuses)):
        bad = {s: n for s, n in statuses.items() if not s.isdigit() or s.startswith("5")}
        if bad:
            report.failures.append(f"{who} saw {bad}")
    if report.locked_in_answers or any(report.locked_in_logs.values()):
        report.failures.append(f"'{LOCKED}': {report.locked_in_answers} answers, logs {report.locked_in_logs}")
    if any(report.tracebacks_in_logs.values()):
        report.failures.append(f"tracebacks in logs: {report.tracebacks_in_logs}")
    if report.wal_peak_bytes > report.wal_bound_bytes:
        report.failures.append(f"WAL peak {report.wal_peak_bytes / MIB:.0f} MiB over its bound "
                               f"{report.wal_bound_bytes / MIB:.0f} MiB")
    if report.follow_exit != 0 or report.catch_up_exit != 0 or report.receive_exit != 0:
        report.failures.append(f"exit codes: follow {report.follow_exit}, catch-up {report.catch_up_exit}, "
                               f"receive {report.receive_exit}")


def render(report: Report) -> str:
    mib = 1024 * 1024
    lines = [
        f"load run: {report.seconds:.0f} s, {report.okta_rate:g} API events/s, {report.hook_rate:g} deliveries/s "
        f"(x10 events), {report.readers} readers, preload {report.preload:,} (load average {report.load_average})",
        f"readers: {report.reader_requests:,} requests, statuses {report.reader_statuses}, "
        f"p50 {report.reader_p50_ms:.0f} ms, p99 {report.reader_p99_ms:.0f} ms",
    ]
    lines += [f"  {kind}: {statuses}" for kind, statuses in sorted(report.reader_statuses_by_kind.items())]
    lines += [
        f"poster: {sum(report.poster_statuses.values()):,} deliveries, statuses {report.poster_statuses}, "
        f"p50 {report.delivery_p50_ms:.0f} ms, p99 {report.delivery_p99_ms:.0f} ms",
        f"'{LOCKED}': {report.locked_in_answers} answers; logs {report.locked_in_logs}",
        f"WAL: peak {report.wal_peak_bytes / mib:.1f} MiB over {report.wal_samples:,} samples, "
        f"{report.wal_final_bytes / mib:.1f} MiB at the end; peak MiB per 10 s: {report.wal_peak_mib_per_10s}",
        f"WAL bound: limit {report.wal_limit_bytes / mib:.0f} MiB + {report.wal_most_written_in_window / mib:.1f} "
        f"MiB (most written in {BOUND_WINDOW:g} s) = {report.wal_bound_bytes / mib:.1f} MiB; "
        f"{report.wal_restarts} restarts, {report.wal_restarts_given_up} given up",
        f"API: {report.api_events_archived:,} archived of {report.api_events_served:,} served; hooks: "
        f"{report.hook_events_archived:,} archived, {report.hook_events_acknowledged:,} acknowledged; "
        f"raw_events {report.raw_events:,}, events {report.events:,}, twice {report.duplicates_in_log}; "
        f"integrity {report.integrity}",
        "OK" if not report.failures else "FAILED: " + "; ".join(report.failures),
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--okta-rate", type=float, default=20, help="new API events per second")
    parser.add_argument("--hook-rate", type=float, default=20, help="hook deliveries (10 events) per second")
    parser.add_argument("--readers", type=int, default=4, help="Datasette reader threads")
    parser.add_argument("--preload", type=int, default=100_000, help="events in the archive before the run")
    parser.add_argument("--wal-limit-mb", type=float, default=DEFAULT_WAL_LIMIT_MB,
                        help="the WAL limit of every okta-calls process (OKTA_CALLS_WAL_LIMIT_MB)")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (default: a temporary one)")
    args = parser.parse_args(argv)
    WAL_ENV[ENV_WAL_LIMIT] = f"{args.wal_limit_mb:g}"
    if args.keep:
        args.keep.mkdir(parents=True, exist_ok=True)
        report = run(args, args.keep.resolve())
    else:
        with tempfile.TemporaryDirectory(prefix="okta-load-") as tmp:
            report = run(args, Path(tmp))
    print(render(report), flush=True)
    if args.json:
        args.json.write_text(json.dumps(asdict(report), indent=2, default=str))
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.path.insert(0, str(PROJECT))
    sys.exit(main())
