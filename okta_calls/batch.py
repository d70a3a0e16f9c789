"""Preparing a batch for the archive: keying, serialising and flattening, with no database.

``prepare`` is the CPU half of ``Archive.append``; being pure, it can run in a reader thread while the
previous batch is written (see ``okta_calls.ingest``).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from .flatten import EVENT_COLUMNS, SEARCH_COLUMNS, Rows
from .flatten import flatten as flatten_rows
from .jsonio import canonical, json_kind, loads, storable
from .model import Incoming
from .values import normalize_published

log = logging.getLogger(__name__)


def keying_error(item: Incoming) -> str | None:
    """Why ``item`` cannot be archived (it cannot be keyed by a uuid), or ``None`` when it can."""
    if item.error is not None:  # a source's reason: complete when it says what the item is not
        return item.error if item.error.startswith("not ") else f"not JSON: {item.error}"
    event = item.event
    if not isinstance(event, dict):
        return f"not a JSON object (got {json_kind(event)})"
    uuid = event.get("uuid", _MISSING)
    if uuid is _MISSING:
        return "no uuid field"
    if not isinstance(uuid, str):
        return f"uuid is not a string (got {json_kind(uuid)})"
    if not uuid.strip():
        return "uuid is empty"
    return None


_MISSING = object()




class Prepared(NamedTuple):
    """A keyed event ready to write: its payload text, provenance and projection rows (not the parsed event,
    which would double the memory a batch holds). Plain data, cheap to pickle."""

    payload: str
    ref: str
    line: int | None
    event_type: str | None
    rows: Rows

    def as_incoming(self) -> Incoming:
        return Incoming(loads(self.payload), self.payload, self.ref, self.line)


@dataclass(slots=True)
class PreparedBatch:
    """The CPU half of ``Archive.append``: keyed, serialised and flattened, not yet checked against the DB."""

    seen: int
    duplicates: int
    rejects: list[tuple[Incoming, str | None, str]]
    candidates: dict[str, Prepared]
    positions: list[tuple[int, str]]


def prepare(items: Sequence[Incoming], *, flatten: bool = True) -> PreparedBatch:
    """Key, serialise and flatten a batch. Pure: no database, so it can run in a worker thread while the
    previous batch is being written.

    ``flatten=False`` leaves the flattening to the deferred projector (``okta_calls.projector``): each
    ``Prepared.rows`` then holds only the keys the log needs (uuid, published, event type)."""
    rejects: list[tuple[Incoming, str | None, str]] = []
    candidates: dict[str, Prepared] = {}
    positions: list[tuple[int, str]] = []
    duplicates = 0
    for position, item in enumerate(items, start=1):
        reason = keying_error(item)
        if reason is not None:
            rejects.append((item, None, reason))
            continue
        uuid = item.event["uuid"]
        positions.append((item.line or position, uuid))
        earlier = candidates.get(uuid)
        if earlier is None:
            if item.raw is not None and "\n" not in item.raw:
                payload, safe_event = item.raw, item.event  # the exact text received (see Incoming.raw)
            else:
                payload, safe_event = storable(item.event)
            event_type = _scalar_text(safe_event.get("eventType"))
            flat = safe_flatten(safe_event) if flatten else _minimal(safe_event)
            candidates[uuid] = Prepared(payload, item.ref, item.line, event_type, flat)
        elif canonical(loads(earlier.payload)) == canonical(item.event):
            duplicates += 1
        else:
            rejects.append((item, uuid, conflict_reason(uuid)))
    return PreparedBatch(len(items), duplicates, rejects, candidates, positions)


def safe_flatten(event: dict[str, Any]) -> Rows:
    """``flatten``, except that a flattening bug gives a minimal row instead of losing the event."""
    try:
        return flatten_rows(event)
    except Exception:
        log.exception("could not flatten event %s; it is archived, its projection is minimal", event.get("uuid"))
        return _minimal(event)


def conflict_reason(uuid: str) -> str:
    return f"uuid {uuid} is already archived with different content; the archived version is kept"


def _scalar_text(value: Any) -> str | None:
    return value if isinstance(value, str) else None if value is None else str(value)


def _minimal(event: dict[str, Any]) -> Rows:
    row = (event["uuid"], normalize_published(event.get("published")), _scalar_text(event.get("eventType")))
    row += (None,) * (len(EVENT_COLUMNS) - len(row))
    return Rows(row, [], [], [], (None,) * len(SEARCH_COLUMNS), None, None, None)


@contextmanager
def fewer_gc_pauses(first_generation: int = 50_000) -> Iterator[None]:
    """Run the cyclic garbage collector less often while batches are parsed and flattened.

    Decoding and flattening allocate ~200 objects per event and none of them form cycles; at Python's default
    threshold (700) the collector ran so often that it doubled the time of both. Restored on exit.
    """
    old = gc.get_threshold()
    gc.set_threshold(first_generation, 20, 100)
    try:
        yield
    finally:
        gc.set_threshold(*old)
