"""``okta-calls receive``: the archive, the Event Hook ASGI app and uvicorn, glued together.

The receiver is one ingest run of kind ``hook`` for as long as it runs: every delivery is committed with
``Archive.append(..., kind="hook", delivery=..., project=False)`` on the app's single writer thread before Okta
gets its 200; deliveries that arrive while the writer is busy share one ``Archive.transaction()``. That commit
is the log (raw events, delivery, links, rejects) and the queue of events to project. A child process flattens
the queued events a few hundred milliseconds later, many deliveries at a time, and the writer thread writes
their rows in small transactions between delivery groups (``okta_calls.projector_process``); while that child
is down, the writer thread flattens them too (``okta_calls.projector.Projector``). The archive's busy timeout is kept under Okta's 3 s so that a database held by another writer (an API sync, a
rebuild) gives a 503, which Okta retries once, rather than a silent timeout.
"""

from __future__ import annotations

import gc
import logging
import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

import uvicorn

from .archive import Archive, ArchiveError
from .checkpointer import BACKSTOP_PAGES, Checkpointer
from .model import BatchResult, Delivery, Incoming
from .projector import DEFAULT_CHUNK, DEFAULT_INTERVAL, Projector
from .projector_process import ProcessProjector
from .redact import Redactor
from .redaction import redact_delivery, redact_items, settle
from .sources.hooks import (
    DEFAULT_DEADLINE,
    DEFAULT_MAX_BODY,
    DEFAULT_PATH,
    Commit,
    HookApp,
    check_options,
)

__all__ = ["DEFAULT_BUSY_TIMEOUT", "DEFAULT_PORT", "archive_commit", "archive_projector", "serve_hooks"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 8002
DEFAULT_BUSY_TIMEOUT = 2.0  # seconds a delivery waits for another writer; Okta waits 3 s in all
LOCK_POLL = 0.0005  # seconds between a waiting delivery group's tries at the write lock (Archive.lock_poll)
_LOG_FORMAT = "okta-calls: %(levelname)s: %(message)s"


def archive_commit(
    archive: Archive,
    run_id: int,
    *,
    projector: Projector | ProcessProjector | None = None,
    redactor: Redactor | None = None,
) -> Commit:
    """The ``commit`` callable for ``HookApp``: one delivery, one archive transaction (redacted first if asked).

    With a ``projector`` the transaction holds the log only and queues the new events for it; without one the
    projections are written in the same transaction."""

    def commit(delivery: Delivery, items: list[Incoming]) -> BatchResult:
        delivery, items = redact_delivery(delivery, redactor), redact_items(items, redactor)
        if projector is None:
            return archive.append(items, run_id=run_id, kind="hook", delivery=delivery)
        result = archive.append(items, run_id=run_id, kind="hook", delivery=delivery, project=False)
        projector.queued(result.inserted)
        return result

    return commit


def archive_projector(archive: Archive, *, interval: float = DEFAULT_INTERVAL, chunk: int = DEFAULT_CHUNK) -> Projector:
    """The receiver's deferred projection of ``archive`` (the ``background`` of ``HookApp``)."""
    return Projector(archive.project_pending, interval=interval, chunk=chunk)


def serve_hooks(
    db_path: str | os.PathLike[str],
    *,
    secret: str,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    path: str = DEFAULT_PATH,
    max_body: int = DEFAULT_MAX_BODY,
    log_level: str = "info",
    auth_header: str = "Authorization",
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    deadline: float | None = DEFAULT_DEADLINE,
    redactor: Redactor | None = None,
    projection_interval: float = DEFAULT_INTERVAL,
    projection_process: bool = True,
) -> None:
    """Serve the Event Hook endpoint for ``db_path`` until SIGINT/SIGTERM; blocks.

    Only ``path`` and ``GET /health`` are served. Deliveries in flight when the signal arrives are committed
    and answered before the process exits, and every event it archived is projected; the ingest run is then
    marked finished. ``projection_interval`` is how long an acknowledged event may wait for its projection
    when deliveries are few (see ``okta_calls.projector``); with ``projection_process`` (the default on POSIX)
    the projection runs in a child process (``okta_calls.projector_process``), else on the writer thread.
    Raises ``ArchiveError`` when the archive cannot be opened, ``ValueError`` (before touching the archive) when
    ``secret`` is empty or ``path`` or ``max_body`` unusable, and ``SystemExit`` when uvicorn cannot listen (the
    port is taken).
    """
    check_options(secret=secret, path=path, max_body=max_body)
    _setup_logging(log_level)
    archive = Archive(db_path, timeout=busy_timeout)
    archive.lock_poll = LOCK_POLL  # another writer (an API sync) holds the lock a few ms at a time: take it at once after
    if archive.projections_stale:
        log.warning("%s: the projections were built by another version; run 'okta-calls rebuild' when idle", db_path)
    try:
        settle(archive, redactor)  # refuses a missing or wrong key before anything is written
        run_id = archive.start_run("hook", [f"http://{host}:{port}{path}"])
        projector: Projector | ProcessProjector = archive_projector(archive, interval=projection_interval)
        if projection_process and os.name == "posix":
            projector = ProcessProjector(
                archive.path, projector, archive.project_rows, interval=projection_interval, log_level=log_level
            ).start()
        app = HookApp(
            archive_commit(archive, run_id, projector=projector, redactor=redactor),
            secret=secret,
            path=path,
            max_body=max_body,
            auth_header=auth_header,
            deadline=deadline,
            group=archive.transaction,
            background=projector,
        )
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,  # the app logs one line per delivery itself
            lifespan="on",
            server_header=False,
            timeout_graceful_shutdown=10,
        )
        log.info("receiving Okta Event Hook deliveries on http://%s:%d%s into %s", host, port, path, db_path)
        # WAL checkpoints in their own thread, not inside a delivery's COMMIT (okta_calls.checkpointer)
        archive.conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_PAGES}")
        # the WAL's bound too: its wait for readers must not hold up the writer thread (okta_calls.walgate)
        checkpointer = Checkpointer(archive.path, wal_limit=archive.wal_limit).start()
        # Everything allocated so far lives as long as the receiver: keep the collector from scanning it again
        # and again (a full collection paused every thread, the event loop's too, for ~10 ms).
        gc.freeze()
        archive.wal_limit = None
        status, error = "failed", None
        try:
            with _stop_signals_raise():
                uvicorn.Server(config).run()
            status = "ok"
        except _Stopped as stop:
            log.info("stopped by %s; every acknowledged delivery is committed", stop)
            status = "ok"
        except BaseException as failure:  # SystemExit when the port is taken, ...
            error = f"{type(failure).__name__}: {failure}"
            raise
        finally:
            app.close()
            projector.finish()  # idempotent: the writer thread finished it, unless it never started
            checkpointer.stop()
            _finish(archive, run_id, status, error)
    finally:
        archive.close()


class _Stopped(Exception):
    """SIGINT or SIGTERM ended the server (uvicorn re-raises the signal once it has shut down)."""


def _raise_stopped(signum: int, frame: FrameType | None) -> None:
    raise _Stopped(signal.Signals(signum).name)


@contextmanager
def _stop_signals_raise() -> Iterator[None]:
    """While serving, make the signal uvicorn re-raises after its graceful shutdown an exception, not a kill.

    Without this, SIGTERM's default action would end the process before the ingest run is marked finished.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.signal(sig, _raise_stopped) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _finish(archive: Archive, run_id: int, status: str, error: str | None) -> None:
    try:
        archive.finish_run(run_id, status=status, error=error)
    except ArchiveError as failure:
        log.warning("could not mark ingest run %d as %s: %s", run_id, status, failure)


def _setup_logging(level: str) -> None:
    """Let the package's INFO lines (one per delivery) through, with a handler if the caller set none."""
    package = logging.getLogger("okta_calls")
    package.setLevel(level.upper())
    if not logging.getLogger().handlers and not package.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_LOG_FORMAT))
        package.addHandler(handler)
