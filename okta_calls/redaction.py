"""Redacted archives: the key, the archive's setting, and redaction at the seam where sources hand over events.

- The key comes from ``OKTA_CALLS_REDACT_KEY`` or a key file (refused when group or others may read it); it
  never enters the database, a log line, an error message or a command line. ``new_key_file`` makes one.
- The archive records ``redaction`` (the token scheme) and ``redaction_key_fingerprint`` in ``archive_meta``
  the first time a redacted write is settled (``settle``), and from then on refuses every write without that
  key: ``settle`` says so in one line before anything is written, and SQLite triggers on the log tables refuse
  an insert from any connection that did not settle with the key (another tool, an older okta-calls).
- ``redact_items``, ``redact_reads``, ``redact_pages`` and ``redact_delivery`` turn what a source yields into
  the same values, redacted; with no redactor they hand them on untouched. Every ingest path calls them before
  ``batch.prepare``, so the raw log and every projection hold only tokens.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import secrets
import sqlite3
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .jsonio import storable
from .model import Delivery, Incoming
from .redact import MIN_KEY_BYTES, TOKEN_SCHEME, Redactor
from .sources.files import EnvelopeRead, Read, Skipped

__all__ = [
    "KEY_ENV",
    "META_FINGERPRINT",
    "META_SCHEME",
    "RedactionError",
    "choose_redactor",
    "load_key",
    "new_key_file",
    "redact_delivery",
    "redact_items",
    "redact_pages",
    "redact_reads",
    "settle",
    "stored_fingerprint",
]

log = logging.getLogger(__name__)

KEY_ENV = "OKTA_CALLS_REDACT_KEY"
META_SCHEME = "redaction"
META_FINGERPRINT = "redaction_key_fingerprint"
SQL_FUNCTION = "okta_calls_redaction_key"
_GUARDED_TABLES = ("raw_events", "rejects", "deliveries")
_MIGRATE = (
    "to redact what it holds, ingest its raw log into a new archive: "
    "sqlite3 {path} 'SELECT payload FROM raw_events ORDER BY id' | okta-calls ingest --redact NEW.db -"
)


class RedactionError(ValueError):
    """Redaction cannot go ahead (no key, the wrong key, an unredacted archive...). One line, never the key."""


# --- the key -----------------------------------------------------------------------------------------------


def load_key(key_file: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None) -> bytes | None:
    """The redaction key from ``key_file`` (first) or ``$OKTA_CALLS_REDACT_KEY``; ``None`` when neither is set.

    Surrounding whitespace is ignored. A key file that group or others may access is refused, as is a key
    shorter than ``MIN_KEY_BYTES`` bytes.
    """
    if key_file is not None:
        path = Path(key_file)
        _check_private(path)
        try:
            key = path.read_bytes().strip()
        except OSError as error:
            raise RedactionError(f"cannot read the redaction key file {path}: {error.strerror}") from None
        where = f"the redaction key file {path}"
    else:
        value = (os.environ if environ is None else environ).get(KEY_ENV, "").strip()
        if not value:
            return None
        key, where = value.encode("utf-8"), f"${KEY_ENV}"
    if len(key) < MIN_KEY_BYTES:
        raise RedactionError(
            f"{where} holds {len(key)} bytes; a redaction key needs at least {MIN_KEY_BYTES} "
            "(make one with: okta-calls redact-keygen PATH)"
        )
    return key


def _check_private(path: Path) -> None:
    """Refuse a key file that group or others may read or write (as ``auth.json`` is refused)."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as error:
        raise RedactionError(f"cannot read the redaction key file {path}: {error.strerror}") from None
    if os.name == "posix" and mode & 0o077:
        raise RedactionError(
            f"the redaction key file {path} is accessible by group or others (mode {mode:04o}); run: chmod 600 {path}"
        )


def new_key_file(path: str | os.PathLike[str]) -> Path:
    """Write a new random key (32 bytes, as 64 hex digits) to ``path``, mode 0600; never overwrites a file."""
    file = Path(path)
    fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(secrets.token_hex(32) + "\n")
    return file


def choose_redactor(key: bytes | None, *, requested: bool, archive_fingerprint: str | None) -> Redactor | None:
    """The redactor a command should write with: one when ``--redact`` was asked for or the archive is redacted.

    ``--redact`` without a key is refused here; a redacted archive without a key is refused by ``settle``
    (which every write path calls), with the archive's name. A key alone does not redact an archive that is
    not redacted (a warning says so).
    """
    if key is None:
        if requested:
            raise RedactionError(
                f"--redact needs a key: set {KEY_ENV} or pass --redact-key-file (make one with: okta-calls redact-keygen PATH)"
            )
        return None
    if requested or archive_fingerprint is not None:
        return Redactor(key)
    log.warning("a redaction key is set but this archive is not redacted and --redact was not given: "
                "events are stored as received")
    return None


# --- the archive's setting ---------------------------------------------------------------------------------


class _Archive(Protocol):
    path: str
    conn: sqlite3.Connection

    def meta(self, key: str) -> str | None: ...

    def transaction(self) -> Any: ...


def stored_fingerprint(archive: _Archive) -> str | None:
    """The key fingerprint a redacted archive records, or ``None`` for an archive that is not redacted."""
    return archive.meta(META_FINGERPRINT)


def fingerprint_at(path: str | os.PathLike[str]) -> str | None:
    """``stored_fingerprint`` of the archive file at ``path``, read-only; ``None`` when there is none yet."""
    if not os.path.exists(path):
        return None
    try:
        conn = sqlite3.connect(f"file:{os.fspath(path)}?mode=ro", uri=True)
        try:
            row = conn.execute("SELECT value FROM archive_meta WHERE key = ?", (META_FINGERPRINT,)).fetchone()
        finally:
            conn.close()
    except sqlite3.Error:
        return None  # not an archive yet, or unreadable: opening it for the write will say why
    return row[0] if row else None


def settle(archive: _Archive, redactor: Redactor | None) -> None:
    """Check that writing to ``archive`` with ``redactor`` (or without one) is allowed; raise before any write.

    - A redacted archive needs the key it was made with: none, or another one, is a ``RedactionError``.
    - A redactor for an archive that is not redacted yet makes it a redacted one, if it holds nothing yet
      (no event, reject or delivery); one that already holds unredacted data is refused.
    Then the connection can pass the triggers that keep a redacted archive's log tables redacted.
    """
    stored = stored_fingerprint(archive)
    if redactor is None:
        if stored is not None:
            raise RedactionError(
                f"{archive.path} is a redacted archive (key fingerprint {stored}): give its key with {KEY_ENV} "
                "or --redact-key-file; nothing was written"
            )
        return
    if stored is None:
        _make_redacted(archive, redactor)
    elif stored != redactor.fingerprint:
        raise RedactionError(
            f"{archive.path} was redacted with another key (fingerprint {stored}; this key's is "
            f"{redactor.fingerprint}); nothing was written"
        )
    fingerprint = redactor.fingerprint
    archive.conn.create_function(SQL_FUNCTION, 0, lambda: fingerprint, deterministic=True)


def _make_redacted(archive: _Archive, redactor: Redactor) -> None:
    with archive.transaction():
        conn = archive.conn
        if conn.execute("SELECT value FROM archive_meta WHERE key = ?", (META_FINGERPRINT,)).fetchone():
            return settle(archive, redactor)  # made redacted meanwhile by another process: check it again
        held = [table for table in _GUARDED_TABLES if conn.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]]
        if held:
            raise RedactionError(
                f"{archive.path} already holds data that is not redacted ({', '.join(held)}); --redact applies to "
                f"a new archive only. {_MIGRATE.format(path=archive.path)}"
            )
        conn.executemany(
            "INSERT INTO archive_meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            [(META_SCHEME, TOKEN_SCHEME), (META_FINGERPRINT, redactor.fingerprint)],
        )
        for table in _GUARDED_TABLES:
            conn.execute(_guard_trigger(table, redactor.fingerprint))
    log.info("%s: redacted archive (key fingerprint %s)", archive.path, redactor.fingerprint)


def _guard_trigger(table: str, fingerprint: str) -> str:
    """A trigger refusing inserts into ``table`` from a connection that did not ``settle`` with the key."""
    assert fingerprint.isalnum()  # a hex digest: safe inside the SQL text
    return (
        f"CREATE TRIGGER IF NOT EXISTS {table}_redaction_key BEFORE INSERT ON {table} "
        f"WHEN {SQL_FUNCTION}() IS NOT '{fingerprint}' "
        f"BEGIN SELECT RAISE(ABORT, 'this archive is redacted: writes need its key (fingerprint {fingerprint})'); END"
    )


# --- redaction at the seam ---------------------------------------------------------------------------------


def redact_item(item: Incoming, redactor: Redactor) -> Incoming:
    """One source item, redacted: a JSON value field by field (``raw`` becomes its new JSON text); text that
    was not JSON is withheld (see ``Redactor.withheld``): only its length and keyed hash are kept."""
    if item.error is not None:
        raw = redactor.withheld(item.raw) if item.raw is not None else None
        return Incoming(None, raw, item.ref, item.line, item.error)
    event = redactor.redact_value(item.event)
    payload, safe = storable(event)
    # Text orjson cannot write (lone surrogates, huge integers) is left to ``batch.prepare`` to make storable.
    return Incoming(event, payload if safe is event else None, item.ref, item.line, None)


def redact_items(items: Iterable[Incoming], redactor: Redactor | None) -> list[Incoming]:
    """``items`` redacted (a new list; the items given are not changed), or as they are without a redactor."""
    if redactor is None:
        return items if isinstance(items, list) else list(items)
    return [redact_item(item, redactor) for item in items]


def redact_delivery(delivery: Delivery, redactor: Redactor | None) -> Delivery:
    """An Event Hook delivery with its headers (``X-Forwarded-For``...) and extra envelope fields redacted."""
    if redactor is None:
        return delivery
    headers = None if delivery.headers is None else {k: redactor.text(v) for k, v in delivery.headers.items()}
    return dataclasses.replace(delivery, headers=headers, extra=redactor.redact_value(delivery.extra))


def redact_reads(reads: Iterable[Read | Skipped], redactor: Redactor | None) -> Iterator[Read | Skipped]:
    """What ``sources.files.read_source`` yields (items and delivery envelopes), redacted."""
    for read in reads:
        if redactor is None:
            yield read
        elif isinstance(read, EnvelopeRead):
            yield EnvelopeRead(redact_delivery(read.delivery, redactor), redact_items(read.items, redactor))
        elif isinstance(read, Incoming):
            yield redact_item(read, redactor)
        else:
            yield read  # sources.files.SKIPPED: another reader's item


class _HasItems(Protocol):
    items: list[Incoming]


P = TypeVar("P", bound=_HasItems)


def redact_pages(pages: Iterator[P], redactor: Redactor | None) -> Iterator[P]:
    """System Log pages (``sources.okta_api.Page``) with their events redacted; ``close()`` closes ``pages``."""
    return pages if redactor is None else _RedactedPages(pages, redactor)


class _RedactedPages(Iterator[P]):
    """An iterator of pages, each a copy with redacted items; closing it closes the pages it reads."""

    def __init__(self, pages: Iterator[P], redactor: Redactor) -> None:
        self._pages = pages
        self._redactor = redactor

    def __next__(self) -> P:
        page = next(self._pages)
        return dataclasses.replace(page, items=redact_items(page.items, self._redactor))  # type: ignore[type-var]

    def close(self) -> None:
        close = getattr(self._pages, "close", None)
        if callable(close):
            close()
