"""Deferred projection: the log committed first, the projections from ``projection_queue`` later.

Whatever order, batching, crash or concurrency, the projections must end up exactly what in-line projection
(and ``rebuild``) make, with every raw event projected once.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from okta_calls.archive import Archive
from okta_calls.generate import generate_events
from okta_calls.model import Incoming
from okta_calls.projector import Projector

from .test_archive import dump


def items(events: list[dict[str, Any]], ref: str = "test") -> list[Incoming]:
    return [Incoming(event, None, ref, line) for line, event in enumerate(events, start=1)]


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    """Realistic events whose users, actors and phones repeat, so the dimension merge is exercised."""
    return list(generate_events(600, seed=3))


def inline_archive(path: Path, events: list[dict[str, Any]]) -> Archive:
    archive = Archive(path)
    run = archive.start_run("file", ["inline"])
    for start in range(0, len(events), 100):
        archive.append(items(events[start : start + 100]), run_id=run, kind="file")
    return archive


def deferred(archive: Archive, events: list[dict[str, Any]], per_delivery: int = 10) -> int:
    """Append ``events`` as the receiver does (log only, queued); returns the run id."""
    run = archive.start_run("hook", ["deferred"])
    for start in range(0, len(events), per_delivery):
        archive.append(items(events[start : start + per_delivery]), run_id=run, kind="hook", project=False)
    return run


def queued(archive: Archive) -> int:
    return archive.pending_projections()


def test_deferred_append_commits_the_log_and_queues_the_events(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    with Archive(tmp_path / "a.db") as archive:
        deferred(archive, events[:30])
        assert archive.counts()["raw_events"] == 30
        assert archive.counts()["events"] == 0 and queued(archive) == 30
        assert archive.conn.execute("SELECT count(*) FROM raw_events WHERE published IS NULL").fetchone()[0] == 0
        assert archive.project_pending(20) == 20 and queued(archive) == 10
        assert archive.project_pending(20) == 10 and queued(archive) == 0
        assert archive.counts()["events"] == 30


def test_deferred_projection_equals_inline_projection_and_rebuild(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    with inline_archive(tmp_path / "inline.db", events) as inline, Archive(tmp_path / "deferred.db") as later:
        deferred(later, events)
        while later.project_pending(37):  # odd chunks: dimensions merged across many transactions
            pass
        assert dump(later) == dump(inline)
        later.rebuild()
        assert dump(later) == dump(inline)


def test_opening_the_archive_projects_what_a_crash_left_queued(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    db = tmp_path / "a.db"
    with Archive(db) as archive:
        deferred(archive, events[:50])  # and the receiver died before its projector ran
    with Archive(db, catch_up=False) as untouched:
        assert queued(untouched) == 50 and untouched.counts()["events"] == 0
    with Archive(db) as reopened, inline_archive(tmp_path / "inline.db", events[:50]) as inline:
        assert queued(reopened) == 0
        assert dump(reopened) == dump(inline)


def test_catch_up_waits_for_no_one_when_another_writer_holds_the_lock(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    db = tmp_path / "a.db"
    with Archive(db) as archive:
        deferred(archive, events[:20])
        archive.conn.execute("BEGIN IMMEDIATE")  # another writer, mid-transaction
        with Archive(db, timeout=0.1) as other:  # opens anyway, the events stay queued
            assert queued(other) == 20
        archive.conn.execute("ROLLBACK")


def test_rebuild_empties_the_queue_so_nothing_is_projected_twice(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    with Archive(tmp_path / "a.db") as archive:
        deferred(archive, events[:40])
        assert archive.rebuild() == 40
        assert queued(archive) == 0 and archive.project_pending() == 0
        assert archive.counts()["events"] == 40


def test_an_already_projected_queued_event_is_dequeued_not_duplicated(tmp_path: Path, events: list[dict[str, Any]]) -> None:
    with Archive(tmp_path / "a.db") as archive:
        run = archive.start_run("file", ["t"])
        archive.append(items(events[:5]), run_id=run, kind="file")
        archive.conn.execute("INSERT INTO projection_queue (raw_id) SELECT id FROM raw_events")
        before = dump(archive)
        assert archive.project_pending() == 5
        assert queued(archive) == 0 and dump(archive) == before


def test_receivers_in_line_writers_and_projectors_together_project_every_event_once(
    tmp_path: Path, events: list[dict[str, Any]]
) -> None:
    """A receiver (log only), a file ingest (in line) and two projectors in other connections, all at once."""
    db = tmp_path / "a.db"
    Archive(db).close()
    hook_events, file_events = events[:300], events[300:]
    stop = threading.Event()
    errors: list[str] = []

    def guarded(work: Any) -> Any:
        def run() -> None:
            try:
                work()
            except Exception as error:  # noqa: BLE001 - collected for the assertion
                errors.append(repr(error))

        return run

    def receiver() -> None:
        with Archive(db) as archive:
            deferred(archive, hook_events, per_delivery=5)

    def file_ingest() -> None:
        with Archive(db) as archive:
            run = archive.start_run("file", ["f"])
            for start in range(0, len(file_events), 20):
                archive.append(items(file_events[start : start + 20]), run_id=run, kind="file")

    def projector() -> None:
        with Archive(db) as archive:
            while not stop.is_set():
                archive.project_pending(13)

    writers = [threading.Thread(target=guarded(work)) for work in (receiver, file_ingest)]
    projectors = [threading.Thread(target=guarded(projector)) for _ in range(2)]
    for thread in writers + projectors:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    for thread in projectors:
        thread.join()
    assert errors == []
    with Archive(db) as archive:
        assert queued(archive) == 0
        assert archive.counts()["events"] == archive.counts()["raw_events"] == 600
        projected = dump(archive)
        archive.rebuild()
        assert dump(archive) == projected


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_projector_runs_an_interval_after_the_first_new_event_and_works_a_backlog_off_chunk_by_chunk() -> None:
    clock, calls, queue = FakeClock(), [], [0]

    def project(limit: int) -> int:
        calls.append(limit)
        done = min(limit, queue[0])
        queue[0] -= done
        return done

    projector = Projector(project, interval=0.25, chunk=100, clock=clock)
    assert projector.due() is None  # opening the archive caught up
    queue[0] = 250
    projector.queued(250)
    assert projector.due() == pytest.approx(0.25)
    projector.queued(10)  # more events do not postpone it
    clock.now += 0.25
    assert projector.due() == pytest.approx(0)
    assert [projector.run(), projector.due()] == [True, 0]
    assert [projector.run(), projector.run(), projector.due()] == [True, False, None]
    assert calls == [100, 100, 100]


def test_projector_failures_are_retried_later_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    clock = FakeClock()

    def project(limit: int) -> int:
        raise RuntimeError("database is locked")

    projector = Projector(project, interval=0.25, clock=clock)
    assert projector.run() is False
    assert projector.due() == pytest.approx(0.5)
    assert projector.run() is False and projector.due() == pytest.approx(1.0)
    assert "projection deferred" in caplog.text
