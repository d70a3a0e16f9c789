"""The small value types that flow from a source into the archive.

Sources (``okta_calls.sources``) produce them; ``okta_calls.archive`` consumes them. Neither side knows the
other: this module is the contract between them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

SourceKind = Literal["file", "api", "hook"]


@dataclass(slots=True)
class Incoming:
    """One item read from a source: a parsed event, or something that could not be parsed.

    ``event`` is the decoded JSON value (normally a dict) or ``None`` when the text was not JSON; in that case
    ``error`` says why. ``raw`` is the text as received when the source has it, for the rejects table. For an
    object event, a one-line ``raw`` must be exactly the JSON text that orjson decoded ``event`` from: the
    archive then stores it as ``raw_events.payload`` byte for byte; otherwise it serialises ``event``.
    ``ref`` names where it came from (a file path, an API URL without credentials, a hook delivery id) and
    ``line`` the line number in a file or the position in a page or delivery (1-based).
    """

    event: Any
    raw: str | None
    ref: str
    line: int | None = None
    error: str | None = None


@dataclass(slots=True)
class Delivery:
    """An Okta Event Hook delivery envelope (``com.okta.event_hook``), minus its events."""

    event_id: str
    event_time: str | None
    source: str | None
    event_type: str | None
    event_type_version: str | None
    cloud_events_version: str | None
    content_type: str | None
    headers: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Cursor:
    """An API polling cursor: Okta's ``next`` URL for a given org and filter, saved with the page's events."""

    org: str
    query: str
    next_url: str


@dataclass(slots=True)
class BatchResult:
    """What one call to ``Archive.append`` did."""

    seen: int = 0
    inserted: int = 0
    duplicates: int = 0
    rejected: int = 0

    def add(self, other: BatchResult) -> None:
        self.seen += other.seen
        self.inserted += other.inserted
        self.duplicates += other.duplicates
        self.rejected += other.rejected
