"""The receiver's projection child (``okta_calls.projector_process``): it flattens outside the write lock, the
writer thread writes its rows in small transactions, exactly once whoever else projects; it is restarted or
replaced when it dies, and gone with its parent."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from okta_calls.archive import Archive
from okta_calls.generate import generate_events
from okta_calls.projector import Projector, flatten_payloads, queued_payloads
from okta_calls.projector_process import ProcessProjector, project_batch

from .test_archive import dump
from .test_projector import deferred, inline_archive

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def events() -> list[dict[str, Any]]:
    return list(generate_events(300, seed=5))


def wait_for(condition: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def process_projector(archive: Archive, **options: Any) -> ProcessProjector:
    fallback = Projector(archive.project_pending, interval=0.05)
    return ProcessProjector(archive.path, fallback, archive.project_rows, interval=0.05, **options)


def failing_once(write: Any) -> Any:
    """``write``, except that its first call fails as a write lock held too long would."""
    failures = [1]

    def flaky(rows: Any) -> int:
        if failures:
            failures.pop()
            raise RuntimeError("database is locked")
        return write(rows)

    return flaky


def drive(projector: ProcessProjector, until: Any, timeout: float = 20.0) -> None:
    """Be the receiver's writer thread: run the projector whenever it is due, until ``until()``."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, "timed out"
        due = projector.due()
        if due is not None and due <= 0:
            projector.run()
        else:
            time.sleep(0.005)


def test_rows_flattened_before_the_transaction_are_projected_once_when_another_projector_got_there_first(
    tmp_path: Path, events: list[dict[str, Any]]
) -> None:
    with inline_archive(tmp_path / "inline.db", events) as inline, Archive(tmp_path / "a.db") as archive:
        deferred(archive, events)
        proposal = flatten_payloads(queued_payloads(archive.conn, 200))  # read and flattened, no lock held
        assert archive.project_pending(50) == 50  # meanwhile another projector dequeues the first 50
        assert archive.project_rows(proposal) == 150  # only those still queued
        assert archive.project_rows(proposal) == 0  # and never twice
        while archive.project_pending(64):
            pass
        assert archive.pending_projections() == 0
        assert dump(archive) == dump(inline)


def test_project_batch_writes_step_events_per_transaction_and_equals_inline_projection(
    tmp_path: Path, events: list[dict[str, Any]]
) -> None:
    with inline_archive(tmp_path / "inline.db", events) as inline, Archive(tmp_path / "a.db") as archive:
        deferred(archive, events)
        commits: list[int] = []
        project_rows = archive.project_rows
        def counted(rows: Any) -> int:
            commits.append(len(rows))
            return project_rows(rows)

        archive.project_rows = counted  # type: ignore[method-assign]
        assert project_batch(archive, batch=120, step=25, pause=0) == 120
        assert commits == [25, 25, 25, 25, 20]
        while project_batch(archive, batch=120, step=25, pause=0):
            pass
        assert dump(archive) == dump(inline)


def test_the_child_flattens_the_writer_thread_writes_then_the_child_drains_on_finish(
    tmp_path: Path, events: list[dict[str, Any]]
) -> None:
    with inline_archive(tmp_path / "inline.db", events) as inline, Archive(tmp_path / "a.db") as archive:
        writes: list[int] = []
        project_rows = archive.project_rows

        def counted(rows: Any) -> int:
            writes.append(len(rows))
            return project_rows(rows)

        projector = process_projector(archive, batch=40, step=15)
        projector._write = counted  # type: ignore[method-assign]
        projector.start()
        assert projector.pid is not None
        deferred(archive, events[:100])
        projector.queued(100)
        time.sleep(0.3)
        assert archive.pending_projections() == 100  # the child never writes while the receiver runs
        drive(projector, lambda: archive.pending_projections() == 0)
        assert archive.counts()["events"] == 100
        assert writes and max(writes) <= 15 and sum(writes) == 100  # step events per transaction, each once
        deferred(archive, events[100:])
        projector.finish()  # the child projects what is queued itself, then exits
        assert archive.pending_projections() == 0 and archive.counts()["events"] == 300
        assert sum(writes) == 100
        assert projector.pid is None
        projector.finish()  # idempotent
        assert dump(archive) == dump(inline)


def test_a_failed_write_is_read_again_from_the_queue_and_projected_once(
    tmp_path: Path, events: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    with inline_archive(tmp_path / "inline.db", events) as inline, Archive(tmp_path / "a.db") as archive:
        projector = process_projector(archive, batch=50, step=20)
        projector._write = failing_once(archive.project_rows)  # type: ignore[method-assign]
        projector.start()
        deferred(archive, events)
        projector.queued(len(events))
        drive(projector, lambda: archive.pending_projections() == 0)
        assert "projection deferred" in caplog.text
        projector.finish()
        assert dump(archive) == dump(inline)


def test_a_failed_write_discards_the_rest_of_the_answer_in_flight(
    tmp_path: Path, events: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The write of an answer's first frame fails while its other frames are still on the way (a loaded
    machine): those frames must not move the watermark past the dropped events, or these stay queued."""
    from okta_calls import projector_process

    released = threading.Event()
    read = projector_process.read_frame
    hold = [False, False]  # hold the next frame; held once already

    def held(stream: Any) -> Any:
        if hold[0]:  # the answer's second frame arrives only after the first one's write failed
            hold[0] = False
            assert released.wait(10)
        frame = read(stream)
        if frame is not None and frame[0] and not frame[1] and not hold[1]:
            hold[:] = [True, True]
        return frame

    monkeypatch.setattr(projector_process, "read_frame", held)
    with inline_archive(tmp_path / "inline.db", events) as inline, Archive(tmp_path / "a.db") as archive:
        projector = process_projector(archive, batch=50, step=20)
        projector._write = failing_once(archive.project_rows)  # type: ignore[method-assign]
        write_step = projector._write_step

        def then_release(step: Any) -> None:
            write_step(step)
            released.set()

        projector._write_step = then_release  # type: ignore[method-assign]
        projector.start()
        deferred(archive, events)
        projector.queued(len(events))
        drive(projector, lambda: archive.pending_projections() == 0, timeout=10.0)
        projector.finish()
        assert dump(archive) == dump(inline)


def test_a_dead_child_is_replaced_by_the_writer_thread_then_restarted(
    tmp_path: Path, events: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    with Archive(tmp_path / "a.db") as archive:
        projector = process_projector(archive).start()
        first = projector.pid
        assert first is not None
        os.kill(first, signal.SIGKILL)
        wait_for(lambda: projector.pid is None)
        deferred(archive, events[:50])
        assert projector.run() is False and "projector process exited" in caplog.text
        projector.queued(50)  # no child: the in-thread fallback is told
        time.sleep(0.06)
        projector.run()  # the fallback's step, on this (the writer) thread
        assert archive.pending_projections() == 0 and archive.counts()["events"] == 50
        delay = projector.due()
        assert delay is not None and 0 < delay <= 1.0  # a restart is due within a second
        time.sleep(delay)
        projector.run()
        assert projector.pid not in (None, first)
        deferred(archive, events[50:])
        projector.queued(250)
        drive(projector, lambda: archive.pending_projections() == 0)
        projector.finish()


@pytest.mark.slow
def test_the_child_projects_what_is_queued_and_exits_when_its_parent_is_killed(
    tmp_path: Path, events: list[dict[str, Any]]
) -> None:
    db = tmp_path / "a.db"
    Archive(db).close()
    code = (
        "import sys, time; from okta_calls.archive import Archive; from okta_calls.projector import Projector; "
        "from okta_calls.projector_process import ProcessProjector; a = Archive(sys.argv[1]); "
        "p = ProcessProjector(a.path, Projector(a.project_pending), a.project_rows, interval=3600).start(); "
        "print(p.pid, flush=True); time.sleep(3600)"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT)}
    parent = subprocess.Popen([sys.executable, "-c", code, str(db)], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, env=env)
    try:
        assert parent.stdout is not None and parent.stderr is not None
        child = int(parent.stdout.readline())
        while b"ready" not in parent.stderr.readline():  # the child has opened the archive
            pass
        with Archive(db, catch_up=False) as archive:
            deferred(archive, events[:40])  # queued; nobody asks the child for them
            time.sleep(0.3)
            assert archive.pending_projections() == 40
            parent.send_signal(signal.SIGKILL)
            parent.wait(timeout=10)
            wait_for(lambda: not Path(f"/proc/{child}").exists() or _zombie(child))
            assert archive.pending_projections() == 0 and archive.counts()["events"] == 40
    finally:
        if parent.poll() is None:
            parent.kill()


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def test_lock_poll_gets_the_write_lock_soon_after_its_release_and_gives_up_at_the_timeout(tmp_path: Path) -> None:
    from okta_calls.archive import ArchiveBusy

    db = tmp_path / "a.db"
    with Archive(db, timeout=0.3) as archive, Archive(db) as other:
        archive.lock_poll = 0.0005
        other.conn.execute("BEGIN IMMEDIATE")
        started = time.monotonic()
        with pytest.raises(ArchiveBusy):
            archive.start_run("hook", ["locked"])
        assert 0.3 <= time.monotonic() - started < 1.0
        release = threading.Timer(0.1, lambda: other.conn.execute("COMMIT"))
        release.start()
        started = time.monotonic()
        archive.start_run("hook", ["after the release"])  # waits for the lock, then writes
        waited = time.monotonic() - started
        release.join()
        assert 0.09 <= waited < 0.25
        assert archive.conn.execute("PRAGMA busy_timeout").fetchone()[0] == 300  # restored


def test_frames_carry_a_step_each_and_a_frame_cut_short_reads_as_the_end(events: list[dict[str, Any]]) -> None:
    import io

    from okta_calls.projector_process import read_frame, send_frames

    flattened = flatten_payloads([(number, json.dumps(event)) for number, event in enumerate(events[:45], 1)])
    out = io.BytesIO()
    send_frames(out, flattened, 20)
    send_frames(out, [], 20)  # nothing queued: one empty, final frame
    stream = io.BytesIO(out.getvalue())
    frames = []
    while (frame := read_frame(stream)) is not None:
        frames.append(frame)
    assert [(len(rows), last) for rows, last in frames] == [(20, False), (20, False), (5, True), (0, True)]
    assert [row for rows, _ in frames for row in rows] == flattened
    cut = io.BytesIO(out.getvalue()[: len(out.getvalue()) // 2])  # the child died mid-answer
    received = []
    while (frame := read_frame(cut)) is not None:
        received.extend(frame[0])
    assert received == flattened[: len(received)] and len(received) < 45


def test_a_child_that_stops_answering_is_killed_and_replaced(
    tmp_path: Path, events: list[dict[str, Any]], caplog: pytest.LogCaptureFixture
) -> None:
    with Archive(tmp_path / "a.db") as archive:
        projector = process_projector(archive, answer_timeout=0.5).start()
        first = projector.pid
        assert first is not None
        drive(projector, lambda: projector._ask_at is None)  # its first answer: nothing queued
        os.kill(first, signal.SIGSTOP)  # alive, never answering
        try:
            deferred(archive, events[:60])
            projector.queued(60)
            drive(projector, lambda: archive.pending_projections() == 0)
        finally:
            if Path(f"/proc/{first}").exists():
                os.kill(first, signal.SIGKILL)
        assert "has not answered" in caplog.text
        assert projector.pid != first
        assert archive.counts()["events"] == 60
        projector.finish()
