"""The hook writer thread wakes for background work that gets ready on another thread (``HookWriter.wake``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from contextlib import nullcontext
from typing import Any

from okta_calls.sources.hook_writer import HookWriter


class ReadyLater:
    """Background work that another thread makes ready (as the projector child's frames do)."""

    def __init__(self) -> None:
        self.ready = False
        self.ran = threading.Event()
        self.wake: Callable[[], None] | None = None

    def bind(self, wake: Callable[[], None]) -> None:
        self.wake = wake

    def due(self) -> float | None:
        return 0.0 if self.ready else None  # None: the writer waits for deliveries only

    def run(self) -> bool:
        self.ready = False
        self.ran.set()
        return False

    def finish(self) -> None:
        pass


def test_wake_makes_the_idle_writer_run_background_work_ready_on_another_thread() -> None:
    background = ReadyLater()
    committed: list[Any] = []
    writer = HookWriter(lambda delivery, items: committed.append(delivery), nullcontext, 4, background)
    assert background.wake is not None  # bound when the writer was made
    try:
        writer.submit("d1", []).result(timeout=5)  # type: ignore[arg-type]
        assert not background.ran.wait(0.2)  # nothing due: the writer sleeps until a delivery or a wake
        background.ready = True
        background.wake()
        assert background.ran.wait(2)
        writer.submit("d2", []).result(timeout=5)  # type: ignore[arg-type]
        assert committed == ["d1", "d2"]  # wakes are not deliveries
    finally:
        writer.close()
