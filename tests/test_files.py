"""Reading files: every packaging Okta events arrive in, detected from content, streamed."""

from __future__ import annotations

import gzip
import io
import json
from pathlib import Path

import pytest

from okta_calls.model import Incoming
from okta_calls.sources.files import EnvelopeRead, SourceError, read_source

EVENTS = [{"uuid": f"u-{i}", "eventType": "system.sms.send_phone_verification_message", "n": i} for i in range(5)]


def events_of(reads: list[object]) -> list[object]:
    out = []
    for read in reads:
        if isinstance(read, EnvelopeRead):
            out.extend(item.event for item in read.items)
        else:
            assert isinstance(read, Incoming)
            out.append(read.event)
    return out


def write(tmp_path: Path, name: str, data: bytes) -> str:
    path = tmp_path / name
    path.write_bytes(data)
    return str(path)


NDJSON = "\n".join(json.dumps(e) for e in EVENTS).encode()
ARRAY = json.dumps(EVENTS, indent=2).encode()
ENVELOPE = json.dumps(
    {"eventType": "com.okta.event_hook", "eventId": "d-1", "eventTime": "2026-01-01T00:00:00.000Z", "data": {"events": EVENTS}},
    indent=4,
).encode()


@pytest.mark.parametrize(
    "data",
    [
        NDJSON,
        NDJSON.replace(b"\n", b"\r\n") + b"\r\n",
        b"\xef\xbb\xbf" + NDJSON,
        b"\n\n" + NDJSON.replace(b"\n", b"\n\n   \n") + b"\n\n",
        ARRAY,
        b"\xef\xbb\xbf" + ARRAY.replace(b"\n", b"\r\n"),
        json.dumps(EVENTS).encode(),
        ENVELOPE,
        b"".join(json.dumps(e, indent=2).encode() + b"\n" for e in EVENTS),  # concatenated pretty objects
    ],
    ids=["ndjson", "crlf", "bom", "blank-lines", "array", "bom-crlf-array", "one-line-array", "envelope", "concatenated"],
)
def test_formats_detected_from_content(tmp_path: Path, data: bytes) -> None:
    # a misleading name: the content decides
    path = write(tmp_path, "events.csv", data)
    assert events_of(list(read_source(path))) == EVENTS
    gz = write(tmp_path, "plain-name.txt", gzip.compress(data))
    assert events_of(list(read_source(gz))) == EVENTS


def test_stdin_gzip() -> None:
    reads = list(read_source("-", stdin=io.BytesIO(gzip.compress(NDJSON))))
    assert events_of(reads) == EVENTS
    assert reads[0].ref == "<stdin>" and reads[0].line == 1


def test_single_object(tmp_path: Path) -> None:
    path = write(tmp_path, "one.json", json.dumps(EVENTS[0], indent=2).encode())
    assert events_of(list(read_source(path))) == [EVENTS[0]]


def test_envelope_keeps_delivery_fields(tmp_path: Path) -> None:
    [read] = list(read_source(write(tmp_path, "hook.json", ENVELOPE)))
    assert isinstance(read, EnvelopeRead)
    assert read.delivery.event_id == "d-1" and read.delivery.event_time == "2026-01-01T00:00:00.000Z"
    assert [item.line for item in read.items] == [1, 2, 3, 4, 5]


def test_bad_lines_are_items_with_errors_and_line_numbers(tmp_path: Path) -> None:
    lines = [json.dumps(EVENTS[0]), "{not json", "", json.dumps(EVENTS[1]), "\x00\x01binary", "[1, 2]", json.dumps(EVENTS[2])]
    reads = list(read_source(write(tmp_path, "mixed.ndjson", "\n".join(lines).encode())))
    assert [(r.line, r.error is not None) for r in reads] == [(1, False), (2, True), (4, False), (5, True), (6, False), (7, False)]
    assert reads[1].raw == "{not json" and reads[1].error
    assert reads[4].event == [1, 2]  # valid JSON but not an object: the archive rejects it


def test_invalid_utf8_line(tmp_path: Path) -> None:
    data = json.dumps(EVENTS[0]).encode() + b"\n" + b'{"uuid": "bad-\xff\xfe"}\n' + json.dumps(EVENTS[1]).encode()
    reads = list(read_source(write(tmp_path, "latin.ndjson", data)))
    assert [r.error is None for r in reads] == [True, False, True]


def test_truncated_array_keeps_the_complete_elements(tmp_path: Path) -> None:
    path = write(tmp_path, "cut.json", ARRAY[: ARRAY.index(b'"u-3"') + 3])
    reads = list(read_source(path))
    assert [r.event for r in reads[:3]] == EVENTS[:3]
    assert reads[-1].error and "truncated" in reads[-1].error


def test_missing_file_names_it(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="nope.json: no such file"):
        list(read_source(str(tmp_path / "nope.json")))


def test_binary_file_names_it(tmp_path: Path) -> None:
    path = write(tmp_path, "photo.jpg", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(range(256)) * 10)
    with pytest.raises(SourceError, match="photo.jpg: is not JSON text"):
        list(read_source(path))


def test_truncated_gzip_yields_what_was_read_then_names_the_file(tmp_path: Path) -> None:
    big = b"\n".join(json.dumps({"uuid": f"g-{i}", "pad": "x" * 200}).encode() for i in range(5000))
    blob = gzip.compress(big)
    path = write(tmp_path, "cut.gz", blob[: len(blob) // 2])
    got = []
    with pytest.raises(SourceError, match="cut.gz: the gzip data is truncated"):
        for read in read_source(path):
            got.append(read)
    assert len(got) > 100 and all(r.error is None for r in got)
    assert [r.event["uuid"] for r in got] == [f"g-{i}" for i in range(len(got))]


def test_array_elements_larger_than_a_chunk(tmp_path: Path) -> None:
    events = [{"uuid": f"big-{i}", "debugContext": {"debugData": {"blob": "y" * 3_000_000}}} for i in range(3)]
    reads = list(read_source(write(tmp_path, "big.json", json.dumps(events).encode())))
    assert events_of(reads) == events


def test_empty_file(tmp_path: Path) -> None:
    assert list(read_source(write(tmp_path, "empty.json", b"  \n"))) == []


def test_integers_beyond_64_bits_keep_their_value(tmp_path: Path) -> None:
    """orjson would turn them into floats; they must come out exact."""
    big = 123456789012345678901234567890
    reads = list(read_source(write(tmp_path, "big.ndjson", b'{"uuid": "b", "n": %d, "m": -9223372036854775809}\n' % big)))
    assert reads[0].event == {"uuid": "b", "n": big, "m": -9223372036854775809}
    assert reads[0].raw is None  # not the fast path: the archive serialises the exact value itself
