"""Property-based tests (hypothesis): whatever Okta, a SIEM export or a damaged disk hands us."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from okta_calls.archive import Archive
from okta_calls.flatten import EVENT_COLUMNS, flatten_event
from okta_calls.ingest import ingest_paths
from okta_calls.model import Incoming

from .conftest import load_fixture

json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text()
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
# Okta's own keys, so the flattener's paths are exercised with hostile values.
OKTA_KEYS = ["published", "eventType", "version", "severity", "displayMessage", "actor", "client", "outcome",
             "target", "transaction", "debugContext", "request", "securityContext", "authenticationContext",
             "legacyEventType"]


def okta_shaped() -> st.SearchStrategy[dict[str, Any]]:
    fields = st.dictionaries(st.sampled_from(OKTA_KEYS), json_values, max_size=8)
    nested = st.fixed_dictionaries(
        {},
        optional={
            "client": st.fixed_dictionaries({}, optional={
                "ipAddress": json_values, "zone": json_values, "userAgent": json_values,
                "geographicalContext": st.fixed_dictionaries({}, optional={"geolocation": json_values, "postalCode": json_values}),
            }),
            "target": st.lists(st.fixed_dictionaries({}, optional={"type": st.sampled_from(["User", "MobilePhone", "x"]) | json_values,
                                                                  "id": json_values, "alternateId": json_values}), max_size=3) | json_values,
            "debugContext": st.fixed_dictionaries({}, optional={"debugData": st.dictionaries(
                st.sampled_from(["phoneNumber", "countryCallingCode", "smsProvider", "status", "threatSuspected", "requestId"]) | st.text(max_size=6),
                json_values, max_size=6) | json_values}),
            "securityContext": st.fixed_dictionaries({}, optional={"asNumber": json_values, "isProxy": json_values}),
        },
    )
    return st.builds(lambda a, b, uuid: {**a, **b, "uuid": uuid}, fields, nested, st.text(min_size=1).filter(str.strip))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(okta_shaped())
def test_any_object_with_a_string_uuid_flattens(event: dict[str, Any]) -> None:
    flat = flatten_event(event)
    assert list(flat.event) == list(EVENT_COLUMNS)
    assert flat.event["uuid"] == event["uuid"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(okta_shaped(), min_size=1, max_size=12), st.integers(1, 5))
def test_archived_whatever_the_shape_and_rebuild_equals_incremental(events: list[dict[str, Any]], batches: int) -> None:
    with Archive(":memory:") as archive:
        run = archive.start_run("file", ["h"])
        size = max(1, len(events) // batches)
        for start in range(0, len(events), size):
            chunk = events[start : start + size]
            archive.append([Incoming(e, None, "h", i) for i, e in enumerate(chunk, start + 1)], run_id=run, kind="file")
        distinct = len({e["uuid"] for e in events})
        assert archive.counts()["raw_events"] == archive.counts()["events"] == distinct
        tables = ("events", "targets", "debug_data", "ip_chain", "actors", "users", "phones")
        before = {t: sorted(map(repr, archive.conn.execute(f"SELECT * FROM {t}"))) for t in tables}
        archive.rebuild()
        after = {t: sorted(map(repr, archive.conn.execute(f"SELECT * FROM {t}"))) for t in tables}
        assert after == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.binary(max_size=200), min_size=1, max_size=6))
def test_arbitrary_bytes_never_crash_and_never_lose_the_good_lines(tmp_path_factory: Any, garbage: list[bytes]) -> None:
    good = [load_fixture("classic_voice_call.json"), load_fixture("ie_sms.json"), load_fixture("bare_minimum.json")]
    lines: list[bytes] = []
    for index in range(max(len(good), len(garbage))):
        if index < len(good):
            lines.append(json.dumps(good[index]).encode())
        if index < len(garbage):
            lines.append(garbage[index].replace(b"\n", b" "))
    path = Path(tmp_path_factory.mktemp("bytes")) / "mixed.ndjson"
    path.write_bytes(b"\n".join(lines) + b"\n")
    with Archive(":memory:") as archive:
        summary = ingest_paths(archive, [str(path)])
        archived = {u for (u,) in archive.conn.execute("SELECT uuid FROM raw_events")}
        assert {e["uuid"] for e in good} <= archived
        assert summary.result.seen == summary.result.inserted + summary.result.duplicates + summary.result.rejected
