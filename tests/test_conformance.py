"""Every real public Okta sample in ../shared/okta-samples is archived and flattened as far as it goes.

These files are read in place; a user's clone has no ../shared, and there the tests skip with that reason.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from okta_calls.archive import Archive
from okta_calls.ingest import ingest_paths
from okta_calls.jsonio import canonical
from okta_calls.model import Incoming

LOG_EVENT_FILES = {
    # file -> (events in it, distinct uuids)
    "elastic-integrations__okta-system-no-flattened-events.ndjson": (17, 10),
    "ocsf-examples__okta-system-logs-raw.json": (6, 2),
    "okta-developer-docs__concepts-event-hooks__sample-delivery-payload.json": (1, 1),
    "okta-developer-docs__concepts-events-api-migration__logevent.json": (1, 1),
    "okta-developer-docs__guides-event-hook-implementation__event-object.json": (1, 1),
    "okta-developer-docs__reference-api-system-log__logevent-example.json": (1, 1),
    "okta-developer-docs__reference-rl-system-log-events.json": (3, 3),
    "okta-management-openapi-spec__ListLogs-examples.json": (2, 1),
}
NOT_EVENTS = (
    "okta-developer-docs__reference-system-log-query__error-examples.json",
    "okta-management-openapi-spec__error-examples.json",
    "okta-management-openapi-spec__telephony-inline-hook-request-example.json",
)


def events_in(path: Path) -> list[dict[str, Any]]:
    text = path.read_text()
    if path.suffix == ".ndjson":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    value = json.loads(text)
    if isinstance(value, dict) and "data" in value:
        return value["data"]["events"]
    return value if isinstance(value, list) else [value]


def test_every_sample_event_is_archived_exactly_once(samples_dir: Path, tmp_path: Path) -> None:
    with Archive(tmp_path / "samples.db") as archive:
        for name, (count, distinct) in LOG_EVENT_FILES.items():
            before = archive.counts()["raw_events"]
            summary = ingest_paths(archive, [str(samples_dir / name)])
            result = summary.result
            assert result.seen == count, name
            assert result.inserted + result.duplicates + result.rejected == count, name
            # rejects here are only the samples that reuse a uuid for other content (Elastic, OCSF, OpenAPI)
            assert all("already archived with different content" in reason for (reason,) in archive.conn.execute(
                "SELECT reason FROM rejects WHERE ingest_run = ?", (summary.run_id,)))
            new_uuids = {e["uuid"] for e in events_in(samples_dir / name)}
            archived = {u for (u,) in archive.conn.execute("SELECT uuid FROM raw_events")}
            assert new_uuids <= archived, name
            assert archive.counts()["raw_events"] - before == result.inserted <= distinct
        # the archived payload is the same JSON value as the first occurrence in its file
        for name in LOG_EVENT_FILES:
            seen: set[str] = set()
            for event in events_in(samples_dir / name):
                if event["uuid"] in seen:
                    continue
                seen.add(event["uuid"])
                (payload,) = archive.conn.execute("SELECT payload FROM raw_events WHERE uuid = ?", (event["uuid"],)).fetchone()
                stored = json.loads(payload)
                if stored != event:
                    continue  # archived earlier from another file that reuses this uuid (OpenAPI vs OCSF)
                assert canonical(stored) == canonical(event)
        assert archive.counts()["events"] == archive.counts()["raw_events"]


def test_sample_quirks_flatten(samples_dir: Path, tmp_path: Path) -> None:
    with Archive(tmp_path / "q.db") as archive:
        ingest_paths(archive, [str(samples_dir / name) for name in LOG_EVENT_FILES])
        row = lambda sql, *args: archive.conn.execute(sql, args).fetchone()  # noqa: E731
        # impossible date kept as received
        assert row("SELECT published FROM events WHERE published LIKE '2017-09-31%'") == ("2017-09-31T22:23:07.777Z",)
        # the rate-limit violation with an SMS phone: Identity Engine phone fields and DENY
        assert row(
            "SELECT phone_number, country_calling_code, outcome_result, rate_limit_subtype FROM events "
            "WHERE uuid = 'a0b60b8a-3aa2-11eb-8d69-abfc0c06b0f7'"
        ) == ("+1555555555", "1", "DENY", "SMS")
        # numeric postalCode and integer version from the OpenAPI examples become text
        assert row("SELECT count(*) FROM events WHERE client_postal_code = '10013' AND version = '0'")[0] >= 1
        # "null" strings are nulls in the projection, kept verbatim in the raw log
        assert row("SELECT count(*) FROM events WHERE client_zone = 'null' OR client_ip = 'null'") == (0,)
        assert row("SELECT count(*) FROM raw_events WHERE payload LIKE '%\"zone\":\"null\"%'")[0] >= 1
        # the hook sample's ipChain sits inside `client`; it still lands in ip_chain
        assert row("SELECT ip FROM ip_chain JOIN events ON events.id = ip_chain.event_id WHERE events.uuid = 'f1d0b993-cc19-11ed-a688-db22c99ef6c4'") == ("142.126.158.61",)


def test_ip_address_actor_is_not_a_user(samples_dir: Path) -> None:
    """OCSF's security.threat.detected has an actor of type "IP address" (and reuses another event's uuid,
    so in an archive it is a rejected conflict): flattened on its own, it names no user."""
    from okta_calls.flatten import flatten_event

    events = events_in(samples_dir / "ocsf-examples__okta-system-logs-raw.json")
    [threat] = [e for e in events if e["actor"]["type"] == "IP address"]
    row = flatten_event(threat).event
    assert row["actor_type"] == "IP address" and row["user_id"] is None


def test_not_events_are_rejected_with_a_reason(samples_dir: Path, tmp_path: Path) -> None:
    with Archive(tmp_path / "n.db") as archive:
        summary = ingest_paths(archive, [str(samples_dir / name) for name in NOT_EVENTS])
        assert summary.result.inserted == 0 and summary.result.rejected == summary.result.seen > 0
        reasons = {r for (r,) in archive.conn.execute("SELECT reason FROM rejects")}
        assert reasons == {"no uuid field"}


def test_phone_fragments_give_the_same_columns(samples_dir: Path) -> None:
    """Okta's Classic vs Identity Engine fragments, completed into events, flatten to the same phone columns."""
    from okta_calls.flatten import flatten_event

    classic, identity = json.loads((samples_dir / "okta-developer-docs__guides-oie-upgrade-event-hooks__phone-fragments.json").read_text())
    a = flatten_event({"uuid": "a", **classic}).event
    b = flatten_event({"uuid": "b", **identity}).event
    assert a["phone_number"] == b["phone_number"] == "+14xxxxxxxxx"
    assert a["country_calling_code"] == b["country_calling_code"] == "1"
    assert a["phone_id"] == "mbl3p075rwLbODqXZ0g7" and b["phone_id"] is None


def test_panther_logs_unwrapped(samples_dir: Path, tmp_path: Path) -> None:
    """Panther's test logs are wrapped and partial (3 have no published): they archive all the same."""
    wrappers = json.loads((samples_dir / "panther-analysis__okta_rules_test_logs.json").read_text())
    with Archive(tmp_path / "p.db") as archive:
        run = archive.start_run("file", ["panther"])
        items = [Incoming({**w["Log"], "uuid": f"panther-{i}"}, None, "panther", i) for i, w in enumerate(wrappers, 1)]
        result = archive.append(items, run_id=run, kind="file")
        assert result.inserted == len(wrappers) == 24
        assert archive.conn.execute("SELECT count(*) FROM events WHERE published IS NULL").fetchone()[0] == 3
        # "2022-03-22 14:21:53.225" is normalised to Okta's own form
        assert archive.conn.execute("SELECT count(*) FROM events WHERE published = '2022-03-22T14:21:53.225Z'").fetchone()[0] >= 1
