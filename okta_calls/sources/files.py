"""Read LogEvents from files and stdin, whatever their packaging, in constant memory.

Formats, detected from the content (never the file name):
- NDJSON / JSON Lines: one JSON value per line (an event, or an Event Hook delivery envelope);
- a JSON array of events (or of envelopes), streamed element by element;
- a single event object or a single envelope, pretty-printed or not (and several concatenated);
- any of these gzip-compressed (by the magic bytes), from a path or ``-`` for stdin.
A UTF-8 BOM, CRLF line endings and blank lines are tolerated.

A line that is not JSON becomes an ``Incoming`` with ``error`` set, so the archive can reject it with its
file and line; the lines around it are read as usual. So does a line (or a value in an array) longer than
``MAX_EVENT``, which is skipped in chunks rather than held whole (a line of whitespace, however long, is a blank
line), invalid UTF-8 (in every format), and an Event Hook envelope whose ``data.events`` is not a list. A file that cannot be read at all (missing, binary,
truncated gzip) raises ``SourceError`` naming it, after everything read before the fault has been yielded.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import IO, Any

from ..jsonio import JSONError, decode
from ..model import Delivery, Incoming
from .envelope import HOOK_EVENT_TYPE, envelope_problem, is_delivery_envelope, parse_envelope

CHUNK = 1 << 20
# One event (a line, or one value of an array) larger than this is refused without being held whole: a System
# Log event is a few KB, and Okta's Event Hook deliveries are capped at 10 MB. This bounds the reader's memory.
MAX_EVENT = 16 << 20
HEAD = 2000  # characters of a refused item kept in ``rejects.raw``
BOM = b"\xef\xbb\xbf"
# Undecodable bytes, as the "surrogateescape" error handler maps them (U+DC80..U+DCFF). JSON text cannot hold
# them otherwise: a \udc80 escape is six ASCII characters.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")


class SourceError(Exception):
    """A file could not be read (or not read to its end); ``str()`` is one line that names it."""


@dataclass(slots=True)
class EnvelopeRead:
    """An Event Hook delivery envelope found in a file, with its events."""

    delivery: Delivery
    items: list[Incoming]


class Skipped:
    """Stands for an item the caller asked to skip (see ``read_source``)."""

    __slots__ = ()


SKIPPED = Skipped()
Read = Incoming | EnvelopeRead
Skip = Callable[[int], bool]


def read_source(
    path: str, *, stdin: IO[bytes] | None = None, skip: Skip | None = None, limit: int | None = None
) -> Iterator[Read | Skipped]:
    """Yield every event (or envelope) in ``path`` (``-`` is stdin) with its provenance.

    ``skip(i)`` true yields ``SKIPPED`` in place of item ``i`` (0-based, every item counted, bad ones too),
    without decoding it where the format allows (NDJSON): several reader processes share a file that way.
    ``limit`` reads at most that many bytes of the file (its size when an import started).
    """
    name = "<stdin>" if path == "-" else path
    try:
        if path == "-":
            raw: IO[bytes] = stdin if stdin is not None else sys.stdin.buffer
            stream = _maybe_gunzip(raw, name)
            yield from _read_stream(stream, name, skip)
        else:
            with open(path, "rb") as handle:
                stream = _maybe_gunzip(handle, name, limit)
                yield from _read_stream(stream, name, skip)
    except FileNotFoundError:
        raise SourceError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise SourceError(f"{name}: is a directory, not a file") from None
    except PermissionError:
        raise SourceError(f"{name}: permission denied") from None
    except (EOFError, gzip.BadGzipFile, zlib.error) as error:
        raise SourceError(f"{name}: the gzip data is truncated or corrupt ({error}); the events before it were read") from None
    except OSError as error:
        raise SourceError(f"{name}: cannot be read ({error.strerror or error})") from None


def _maybe_gunzip(handle: IO[bytes], name: str, limit: int | None = None) -> IO[bytes]:
    buffered = io.BufferedReader(_RawWrapper(handle, limit), CHUNK)
    if buffered.peek(2)[:2] == b"\x1f\x8b":
        return io.BufferedReader(_RawWrapper(gzip.GzipFile(fileobj=buffered, mode="rb")), CHUNK)
    return buffered


class _RawWrapper(io.RawIOBase):
    """Lets ``io.BufferedReader`` wrap any binary file-like object (stdin, BytesIO, a GzipFile).

    Reads with ``read1`` where there is one, so a truncated gzip stream gives up everything decompressed
    before the damage instead of failing a whole buffer-sized read.
    """

    def __init__(self, handle: IO[bytes], limit: int | None = None) -> None:
        self._read = getattr(handle, "read1", handle.read)
        self._left = limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        size = len(buffer) if self._left is None else min(len(buffer), self._left)
        if size == 0:
            return 0
        data = self._read(size)
        buffer[: len(data)] = data
        if self._left is not None:
            self._left -= len(data)
        return len(data)


def _read_stream(stream: IO[bytes], name: str, skip: Skip | None) -> Iterator[Read | Skipped]:
    head = stream.peek(8192)[:8192]  # type: ignore[attr-defined]
    if head.startswith(BOM):
        stream.read(len(BOM))
        head = head[len(BOM) :]
    first = head.lstrip()[:1]
    if not head.strip():
        return  # an empty file holds no events
    if first not in (b"{", b"[") and b"\x00" in head:
        raise SourceError(f"{name}: is not JSON text (binary data at the start)")
    if first == b"[":
        yield from _skipping(_read_values(stream, name, array=True), skip)
        return
    if first == b"{":
        line = stream.peek(CHUNK)  # type: ignore[attr-defined]
        newline = line.find(b"\n")
        if newline < 0 or _parses(line[:newline]):
            yield from _read_lines(stream, name, skip)
        else:
            yield from _skipping(_read_values(stream, name, array=False), skip)
        return
    yield from _read_lines(stream, name, skip)


def _skipping(reads: Iterator[Read], skip: Skip | None) -> Iterator[Read | Skipped]:
    """Items of a format that must be decoded to be counted: decoded, then skipped as asked."""
    if skip is None:
        yield from reads
        return
    for index, read in enumerate(reads):
        yield SKIPPED if skip(index) else read


def _parses(line: bytes) -> bool:
    try:
        decode(line)
        return True
    except JSONError:
        return False


def _bounded_lines(stream: IO[bytes]) -> Iterator[tuple[bytes, int]]:
    """``(line, length)`` for every line, holding at most ``MAX_EVENT`` bytes of one.

    A longer line comes back as its first ``HEAD`` bytes with its full length (the rest is read in chunks and
    dropped), or as ``b""`` when it is all whitespace.
    """
    while True:
        line = stream.readline(MAX_EVENT + 1)
        if not line:
            return
        if len(line) <= MAX_EVENT or line.endswith(b"\n"):
            yield line, len(line)
            continue
        head, length, blank = line[:HEAD], len(line), not line.strip()
        del line
        while True:
            more = stream.readline(CHUNK)
            length += len(more)
            blank = blank and not more.strip()
            if not more or more.endswith(b"\n"):
                break
        yield (b"" if blank else head), length


def _read_lines(stream: IO[bytes], name: str, skip: Skip | None = None) -> Iterator[Read | Skipped]:
    """NDJSON: one value per line; a bad line is an item with ``error`` set, never the end of the file.
    Every non-blank line is one item (an envelope line is one ``EnvelopeRead``), so ``skip`` needs no decoding."""
    index = -1
    for number, (line, length) in enumerate(_bounded_lines(stream), start=1):
        if number == 1 and line.startswith(BOM):
            line = line[len(BOM) :]
        if not line or line.isspace():  # blank (``strip`` would copy every line to find out)
            continue
        index += 1
        if skip is not None and skip(index):
            yield SKIPPED
            continue
        if length > len(line):
            reason = f"not read: line {number} is {length:,} bytes, longer than the {MAX_EVENT >> 20} MiB an event may take"
            yield Incoming(None, _text(line), name, number, reason)
            continue
        try:
            value, exact = decode(line)
        except JSONError as error:
            yield Incoming(None, _text(line.rstrip(b"\r\n")), name, number, str(error))
            continue
        yield from _expand(value, line, name, number, exact=exact)


def _expand(value: Any, raw: bytes | str | None, name: str, number: int, *, exact: bool = False) -> Iterator[Read]:
    """One decoded value as items. ``exact``: ``raw`` is the line that orjson decoded ``value`` from exactly,
    so it is kept as the event's payload, byte for byte as received."""
    if is_delivery_envelope(value):
        delivery, items = parse_envelope(value, ref=f"{name}:{number}", headers=None)
        yield EnvelopeRead(delivery, items)
    elif isinstance(value, dict) and value.get("eventType") == HOOK_EVENT_TYPE:
        problem = f"not an Event Hook delivery: {envelope_problem(value)}"
        yield Incoming(value, _text(raw) if isinstance(raw, bytes) else raw, name, number, problem)
    elif isinstance(value, dict):
        text = raw.strip().decode() if exact and isinstance(raw, bytes) else None
        yield Incoming(value, text, name, number)
    else:
        text = _text(raw.rstrip(b"\r\n")) if isinstance(raw, bytes) else raw
        yield Incoming(value, text, name, number)


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _read_values(stream: IO[bytes], name: str, *, array: bool) -> Iterator[Read]:
    """A JSON array (``array=True``) or a sequence of concatenated JSON values, streamed value by value."""
    decoder = json.JSONDecoder(parse_constant=_no_constant)
    # surrogateescape: an invalid byte survives decoding as one marked character, so the value holding it
    # is rejected (below) rather than archived with a replacement character.
    reader = io.TextIOWrapper(stream, encoding="utf-8", errors="surrogateescape", newline="")  # type: ignore[arg-type]
    buffer = ""
    pos = 0
    line = 1
    eof = False

    def fill() -> bool:
        nonlocal buffer, pos, eof
        if eof:
            return False
        chunk = reader.read(CHUNK)
        if not chunk:
            eof = True
            return False
        buffer = buffer[pos:] + chunk
        pos = 0
        return True

    def skip_space() -> None:
        nonlocal pos, line
        while True:
            end = len(buffer)
            while pos < end and buffer[pos] in " \t\r\n\ufeff":
                if buffer[pos] == "\n":
                    line += 1
                pos += 1
            if pos < end or not fill():
                return

    fill()
    skip_space()
    if array:
        pos += 1  # the "["
    while True:
        skip_space()
        if pos >= len(buffer):
            if array:
                yield Incoming(None, None, name, line, "the file ends inside the JSON array (truncated?)")
            return
        if array and buffer[pos] == "]":
            return
        start_line = line
        while True:
            try:
                value, end = decoder.raw_decode(buffer, pos)
                if end < len(buffer) or eof or not fill():
                    break
                continue  # a bare number may go on in the next chunk: decode again with more text
            except json.JSONDecodeError as error:
                if not eof and len(buffer) - pos < MAX_EVENT and fill():
                    continue
                reason = f"not JSON: {error.msg} (line {start_line + buffer.count(chr(10), pos, error.pos)})"
                if eof and (error.msg.startswith("Unterminated") or error.pos >= len(buffer.rstrip()) - 1):
                    reason = "not JSON: the file ends inside a JSON value (truncated?)"
                if len(buffer) - pos >= MAX_EVENT:
                    reason = f"not read: a JSON value longer than the {MAX_EVENT >> 20} MiB an event may take"
                yield Incoming(None, _clean(buffer[pos : pos + HEAD]), name, start_line, reason)
                return
            except RecursionError:
                yield Incoming(None, _clean(buffer[pos : pos + HEAD]), name, start_line, "not JSON: nested too deeply")
                return
        raw = buffer[pos:end]
        line += raw.count("\n")
        pos = end
        bad = _ESCAPED_BYTE.search(raw)
        if bad is not None:
            where = start_line + raw.count("\n", 0, bad.start())
            reason = f"not UTF-8: invalid byte 0x{ord(bad.group()) - 0xDC00:02x} at line {where}"
            yield Incoming(None, _clean(raw[:HEAD]), name, start_line, reason)
        else:
            yield from _expand(value, raw, name, start_line)
        skip_space()
        if array:
            if pos < len(buffer) and buffer[pos] == ",":
                pos += 1
            elif pos < len(buffer) and buffer[pos] == "]":
                return
            elif pos >= len(buffer):
                yield Incoming(None, None, name, line, "the file ends inside the JSON array (truncated?)")
                return
            else:
                yield Incoming(None, _clean(buffer[pos : pos + 200]), name, line, f"not JSON: expected ',' or ']' at line {line}")
                return


def _clean(text: str) -> str:
    """Text read with surrogateescape, made storable: undecodable bytes become U+FFFD."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")
