"""API sync: pull the System Log page by page into the archive, crash-safe and resumable.

Sits above ``sources.okta_api`` and ``archive`` and knows both; the CLI only parses options and prints.

The cursor is Okta's own ``next`` link. Each page's events and that page's ``next`` URL are committed by ONE
``Archive.append`` call (one transaction), in ``sync_state`` keyed by (org, query). A run resumes from the
stored URL and never rebuilds a cursor from ``published``; so a crash at any moment (kill -9 included) loses
nothing and, since the archive keys events by ``uuid``, archives nothing twice. A bounded backfill
(``since`` + ``until``) passes no cursor and leaves the polling cursor alone.

While a page is being committed the next one is already being fetched (one page ahead, on one worker
thread): Okta's paging is sequential, so this is the only overlap there is, and it hides the commit time.
"""

from __future__ import annotations

import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from types import FrameType
from typing import Any

from .archive import Archive, ArchiveError
from .batch import PreparedBatch, fewer_gc_pauses, prepare
from .model import BatchResult, Cursor
from .redact import Redactor
from .redaction import redact_pages, settle
from .sources.okta_api import (
    DEFAULT_LIMIT,
    OktaClient,
    OktaInterrupted,
    Page,
    build_start_url,
    default_since,
    redact_url,
)

__all__ = [
    "ALL_EVENTS_KEY",
    "SyncProgress",
    "SyncResult",
    "parse_time_option",
    "query_key_for",
    "stop_on_signals",
    "sync",
]

log = logging.getLogger(__name__)

ALL_EVENTS_KEY = "(all events)"


def query_key_for(filter_expr: str | None) -> str:
    """The ``sync_state`` key of a filter: the filter itself, or ``(all events)`` for no filter."""
    return filter_expr.strip() if filter_expr else ALL_EVENTS_KEY


@dataclass(slots=True)
class SyncProgress:
    """Where a sync is, reported after every committed page (and when it starts waiting for new events)."""

    pages: int
    result: BatchResult
    elapsed_s: float
    page_events: int = 0
    caught_up: bool = False
    next_poll_in_s: float | None = None

    @property
    def events_per_s(self) -> float:
        """Events received per second since the run started."""
        return self.result.seen / self.elapsed_s if self.elapsed_s > 0 else 0.0


@dataclass(slots=True)
class SyncResult:
    """What a sync run did. ``status`` is ``ok`` or ``interrupted`` (failures raise after recording)."""

    run_id: int
    status: str
    pages: int = 0
    result: BatchResult = field(default_factory=BatchResult)
    elapsed_s: float = 0.0
    next_url: str | None = None
    bounded: bool = False

    @property
    def events_per_s(self) -> float:
        return self.result.seen / self.elapsed_s if self.elapsed_s > 0 else 0.0


class _Prefetcher:
    """Iterate a page generator one page ahead on a worker thread, which also prepares (keys and flattens)
    the page for the archive while the previous one is written; errors surface in order."""

    def __init__(self, pages: Iterator[Page]) -> None:
        self._pages = pages
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="okta-prefetch")
        self._future: Future[tuple[Page, PreparedBatch] | None] | None = None

    def _next(self) -> tuple[Page, PreparedBatch] | None:
        page = next(self._pages, None)
        return None if page is None else (page, prepare(page.items))

    def __iter__(self) -> Iterator[tuple[Page, PreparedBatch]]:
        self._future = self._executor.submit(self._next)
        while True:
            page = self._future.result()
            if page is None:
                return
            self._future = self._executor.submit(self._next)
            yield page

    def close(self) -> None:
        """Wait for a fetch in flight (its page is dropped: the cursor before it is what was committed)."""
        future = self._future
        if future is not None and not future.done():
            try:
                future.result()
            except BaseException:  # noqa: BLE001 - a fetch nobody will use; its error is moot
                log.debug("dropped the prefetch in flight", exc_info=True)
        self._executor.shutdown(wait=True)
        close = getattr(self._pages, "close", None)
        if callable(close):
            close()

    def __enter__(self) -> _Prefetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@fewer_gc_pauses()
def sync(
    archive: Archive,
    client: OktaClient,
    *,
    org: str | None = None,
    filter: str | None = None,  # noqa: A002 - the API's own parameter name
    query_key: str | None = None,
    since: datetime | str | None = None,
    until: datetime | str | None = None,
    limit: int = DEFAULT_LIMIT,
    follow: bool = False,
    interval: float = 15.0,
    stop_event: threading.Event | None = None,
    on_progress: Callable[[SyncProgress], None] | None = None,
    sleep: Callable[[float], Any] | None = None,
    prefetch: bool = True,
    clock: Callable[[], float] = time.monotonic,
    redactor: Redactor | None = None,
) -> SyncResult:
    """Archive the System Log events matching ``filter`` as one ingest run.

    Polling (no ``until``): resume from the stored ``next`` URL for (org, query key), or start at ``since``
    (default: 90 days back). Without ``follow`` the run ends after a page shorter than ``limit``; with it,
    it sleeps ``interval`` seconds and polls the last ``next`` URL again, until ``stop_event`` is set.
    Bounded (``since`` and ``until``): a backfill that ends with the last page and never touches the cursor.

    ``stop_event`` (shared with the client, which it also interrupts) ends the run after the current page's
    commit; the run is recorded as ``interrupted``. Okta and archive errors are recorded as ``failed`` on the
    run and raised; the cursor stays at the last committed page. With ``redactor`` every event is redacted
    before it is archived (``okta_calls.redaction``).
    """
    org = org or client.org_url
    key = query_key or query_key_for(filter)
    stop = stop_event or client.stop_event
    previous_stop = client.stop_event
    client.stop_event = stop  # the client's waits end when the caller asks the run to stop
    bounded = until is not None
    if bounded:
        url = build_start_url(org, since=since or default_since(), until=until, filter=filter, limit=limit)
    else:
        stored = archive.get_cursor(org, key)
        if stored is not None:
            if since is not None:
                log.info("resuming from the saved cursor for [%s]; --since applies to a first run only", key)
            url = stored
        else:
            url = build_start_url(org, since=since or default_since(), filter=filter, limit=limit)
    settle(archive, redactor)  # refuses a missing or wrong key before anything is written
    run_id = archive.start_run("api", [redact_url(url)])
    outcome = SyncResult(run_id=run_id, status="ok", bounded=bounded, next_url=None if bounded else url)
    started = clock()

    def report(page_events: int = 0, caught_up: bool = False, next_poll: float | None = None) -> None:
        outcome.elapsed_s = clock() - started
        if on_progress is not None:
            on_progress(
                SyncProgress(outcome.pages, outcome.result, outcome.elapsed_s, page_events, caught_up, next_poll)
            )

    def commit(page: Page, prepared: PreparedBatch | None = None) -> None:
        cursor = None
        if not bounded:
            if page.next_url is not None:
                cursor = Cursor(org, key, page.next_url)
            else:
                log.warning("Okta sent a polling page without a next link; the cursor stays where it was")
        batch = prepared if prepared is not None else prepare(page.items)
        outcome.result.add(archive.write(batch, run_id=run_id, kind="api", cursor=cursor))
        outcome.pages += 1
        if cursor is not None:
            outcome.next_url = cursor.next_url
        report(len(page.items))

    try:
        while True:
            last: Page | None = None
            pages = redact_pages(client.pages(url), redactor)
            if prefetch:
                with _Prefetcher(pages) as ahead:
                    for page, prepared in ahead:
                        commit(page, prepared)
                        last = page
                        if stop.is_set():
                            break
            else:
                for page in pages:
                    commit(page)
                    last = page
                    if stop.is_set():
                        break
            if stop.is_set():
                outcome.status = "interrupted"
                break
            if bounded or not follow or last is None or last.next_url is None:
                break
            url = last.next_url
            _idle_checkpoint(archive, stop)
            report(caught_up=True, next_poll=interval)
            if sleep is not None:
                sleep(interval)
            else:
                stop.wait(interval)
            if stop.is_set():
                outcome.status = "interrupted"
                break
    except OktaInterrupted:
        outcome.status = "interrupted"
    except KeyboardInterrupt:
        _finish(archive, run_id, "interrupted", "interrupted by the user")
        raise
    except Exception as error:
        _finish(archive, run_id, "failed", str(error))
        raise
    finally:
        client.stop_event = previous_stop
    outcome.elapsed_s = clock() - started
    _finish(archive, run_id, outcome.status, "stopped by request" if outcome.status == "interrupted" else None)
    log.info(
        "sync run %d %s: %d pages, %d events (%d new) in %.1f s",
        run_id, outcome.status, outcome.pages, outcome.result.seen, outcome.result.inserted, outcome.elapsed_s,
    )
    return outcome


def _finish(archive: Archive, run_id: int, status: str, error: str | None) -> None:
    """Record the end of the run; an archive that cannot even do that is logged, not raised over the cause."""
    try:
        archive.finish_run(run_id, status, error)
    except ArchiveError:
        log.warning("could not record the end of sync run %d", run_id, exc_info=True)


CHECKPOINT_ATTEMPTS = 5


def _idle_checkpoint(archive: Archive, stop: threading.Event) -> None:
    """Checkpoint the WAL while waiting for new events, so readers cannot make it grow without bound.

    Each attempt keeps other writers (a live ``receive``) out for at most ``Archive.checkpoint``'s short wait,
    and succeeds only if every reader of an older snapshot finishes within it; with readers back to back
    that takes a few tries, so it tries a few times, letting the other writers in between.
    """
    for attempt in range(CHECKPOINT_ATTEMPTS):
        try:
            if archive.checkpoint():
                return
        except ArchiveError:
            log.debug("WAL checkpoint skipped", exc_info=True)
            return
        if stop.wait(0.1 * (attempt + 1)):
            return
    log.debug("the WAL could not be truncated: readers kept old snapshots open")


_RELATIVE_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_time_option(text: str, *, now: datetime | None = None) -> datetime:
    """Parse ``--since``/``--until``: ISO 8601 (a date, or a time; naive means UTC) or ``30d``/``12h``/``15m`` ago."""
    value = text.strip()
    relative = _RELATIVE_RE.match(value)
    if relative:
        amount, unit = float(relative.group(1)), relative.group(2)
        return (now or datetime.now(timezone.utc)) - timedelta(**{_UNITS[unit]: amount})
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"not a time: {text!r} (use ISO 8601 like 2026-01-31T12:00:00Z, or 7d, 12h, 30m)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


@contextmanager
def stop_on_signals(
    stop_event: threading.Event, *, on_signal: Callable[[str], None] | None = None
) -> Iterator[threading.Event]:
    """While inside, SIGINT and SIGTERM set ``stop_event`` (the run ends after the current page).

    A second SIGINT raises ``KeyboardInterrupt`` as usual, for when the current page takes too long. The
    previous handlers are restored on exit. Only the main thread can install handlers; elsewhere this does
    nothing but yield the event.
    """
    if threading.current_thread() is not threading.main_thread():
        yield stop_event
        return

    def handle(signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if stop_event.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop_event.set()
        log.info("%s received: stopping after the current page", name)
        if on_signal is not None:
            on_signal(name)

    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield stop_event
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
