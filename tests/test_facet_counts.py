"""The events table's default facets from kept counts (okta_calls/facet_counts.py, okta_calls/datasette_plugin.py).

Every figure must equal what ``GROUP BY`` gives on the same data: on the fixture archive, while events are
appended between requests and during them, after ``okta-calls rebuild``, after a hand-made change the counts
cannot follow, and for any page the counts do not cover (which must run Datasette's own facet SQL).
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from okta_calls import datasette_plugin, facet_counts
from okta_calls.archive import Archive
from okta_calls.facet_counts import Counts, Identity, sqlite_order
from okta_calls.generate import generate_events
from okta_calls.model import Incoming
from okta_calls.schema import create_indexes, create_projection_tables, create_views, drop_projections
from okta_calls.serve import ServeOptions, build_datasette, build_metadata, prepare

from .test_datasette import DB_NAME, Client, build_known_archive

FACETS = ["event_type", "outcome_result", "client_country", "country_calling_code", "provider", "actor_type"]
OFF = {"plugins": {datasette_plugin.PLUGIN_NAME: {"facet_counts": False}}}


def group_by(path: Path, column: str) -> dict[Any, int]:
    """The facet as Datasette's SQL counts it, straight from the file."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute(f"SELECT {column}, count(*) FROM events WHERE {column} IS NOT NULL GROUP BY 1")
        return dict(rows.fetchall())
    finally:
        conn.close()


def facet_counts_of(client: Client, path: str) -> dict[str, dict[Any, int]]:
    results = client.json(path)["facet_results"]
    return {name: {item["value"]: item["count"] for item in facet["results"]} for name, facet in results.items()}


def without_timing(html: str) -> str:
    """A page without its "Queries took 9.8ms" footer."""
    return re.sub(r"took [0-9.]+ ?ms", "took ...", html)


def kept(client: Client) -> datasette_plugin.DatabaseCounts:
    counts = datasette_plugin.database_counts(client.datasette, DB_NAME)
    assert counts is not None
    return counts


def open_client(path: Path, *, counted: bool = True) -> Client:
    metadata = build_metadata(path, None if counted else OFF)
    client = Client(build_datasette(path, metadata=metadata, settings={"default_facet_size": 50}))
    if counted:
        assert datasette_plugin.wait_until_counted(client.datasette, timeout=30)
    return client


def assert_exact(client: Client, path: Path) -> None:
    """Every default facet of the unfiltered events page equals GROUP BY on the file."""
    facets = facet_counts_of(client, f"/{path.stem}/events.json")
    assert list(facets) == FACETS
    for column in FACETS:
        assert facets[column] == group_by(path, column), column


def append(archive: Archive, events: list[dict[str, Any]], ref: str) -> None:
    run_id = archive.start_run("file", [ref])
    archive.append([Incoming(event=e, raw=None, ref=ref, line=i) for i, e in enumerate(events, 1)],
                   run_id=run_id, kind="file")
    archive.finish_run(run_id)


@pytest.fixture
def archive_path(tmp_path: Path) -> Path:
    return build_known_archive(tmp_path / f"{DB_NAME}.db")


@pytest.fixture
def client(archive_path: Path) -> Iterator[Client]:
    client = open_client(archive_path)
    yield client
    client.close()


def test_serve_registers_the_plugin_and_counts_at_start_up(archive_path: Path) -> None:
    """`okta-calls serve`'s own start-up (prepare) counts in the background; requests then use the counts."""
    datasette = prepare(ServeOptions(str(archive_path)), environ={})  # start-up ran on a loop that is gone now
    assert datasette_plugin.wait_until_counted(datasette, timeout=30)
    client = Client(datasette)
    try:
        plugins = {plugin["name"]: plugin for plugin in client.json("/-/plugins.json")}
        assert {"register_facet_classes", "startup"} <= set(plugins[datasette_plugin.__name__]["hooks"])
        counts = kept(client)
        assert counts.recounts == 1 and counts.refreshes == 0
        assert_exact(client, archive_path)
        assert counts.refreshes == 1
    finally:
        client.close()


# --- the same answers as Datasette's own column facet --------------------------------------------------------


def test_default_facets_come_from_the_kept_counts(client: Client, archive_path: Path) -> None:
    before = kept(client).refreshes
    assert_exact(client, archive_path)
    assert kept(client).refreshes == before + 1  # answered from the counts, not by GROUP BY
    assert kept(client).recounts == 1  # counted once, at start-up


@pytest.mark.parametrize("query", [
    "",
    "?_facet_size=2",  # truncated facets
    "?_facet=event_type&_facet=client_city",  # a repeated facet (hideable) and one the counts do not keep
    "?_sort=published",
    "?outcome_result=DENY",  # filtered: Datasette's SQL
    "?_search=Mallory",
    "?_size=5&_next=40",
])
def test_same_json_and_html_as_datasettes_column_facet(archive_path: Path, query: str) -> None:
    counted, plain = open_client(archive_path), open_client(archive_path, counted=False)
    try:
        for suffix in (".json", ""):
            path = f"/{DB_NAME}/events{suffix}{query}"
            ours, theirs = counted.get(path), plain.get(path)
            assert ours.status_code == theirs.status_code == 200
            if suffix:
                assert ours.json()["facet_results"] == theirs.json()["facet_results"]
            else:  # the whole page: facet lists, counts, links and which can be hidden
                assert without_timing(ours.text) == without_timing(theirs.text)
                assert ours.text.count('<div class="facet-info ') >= 6
    finally:
        counted.close()
        plain.close()


def test_filtered_and_searched_pages_run_group_by(client: Client) -> None:
    counts = kept(client)
    before = counts.refreshes
    for query in ("?outcome_result=DENY", "?_search=Mallory", "?_where=id>3", "?_size=5&_next=40"):
        client.json(f"/{DB_NAME}/events.json{query}")
    assert counts.refreshes == before
    deny = facet_counts_of(client, f"/{DB_NAME}/events.json?outcome_result=DENY")
    assert deny["outcome_result"] == {"DENY": 6}


def test_turned_off_in_the_metadata(archive_path: Path) -> None:
    plain = open_client(archive_path, counted=False)
    try:
        assert datasette_plugin.enabled(plain.datasette) is False
        plain.json(f"/{DB_NAME}/events.json")
        counts = datasette_plugin.database_counts(plain.datasette, DB_NAME)
        assert counts is not None and counts.counts is None and counts.refreshes == 0
    finally:
        plain.close()


# --- kept exact as the archive changes ---------------------------------------------------------------------


def test_events_added_between_requests_are_counted(client: Client, archive_path: Path) -> None:
    events = list(generate_events(600, seed=7))
    with Archive(archive_path) as archive:  # one writer kept open, as `ingest --follow` and `receive` do
        for start in range(0, len(events), 150):
            append(archive, events[start:start + 150], f"batch-{start}")
            assert_exact(client, archive_path)
    counts = kept(client)
    assert counts.recounts == 1  # every batch was added to the counts, none counted again from scratch
    assert counts.counts is not None and counts.counts.total == 44 + 600


def test_events_added_during_requests_are_counted_whole_batches(client: Client, archive_path: Path) -> None:
    """A writer appends batches of 7 while pages are requested: every page counts whole batches only."""
    events = list(generate_events(7 * 40, seed=11))
    done = threading.Event()

    def writer() -> None:
        with Archive(archive_path) as archive:
            for start in range(0, len(events), 7):
                append(archive, events[start:start + 7], f"live-{start}")
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    seen = []
    while not done.is_set():
        facets = facet_counts_of(client, f"/{DB_NAME}/events.json")
        seen.append(sum(facets["event_type"].values()))  # event_type is never null
    thread.join()
    assert all((total - 44) % 7 == 0 for total in seen), seen
    assert seen == sorted(seen)
    assert_exact(client, archive_path)


def test_counts_after_rebuild(client: Client, archive_path: Path) -> None:
    with Archive(archive_path) as archive:
        append(archive, list(generate_events(200, seed=3)), "more")
    assert_exact(client, archive_path)
    with Archive(archive_path) as archive:
        archive.rebuild()
    assert_exact(client, archive_path)  # the schema changed: GROUP BY while the counts are made again
    assert datasette_plugin.wait_until_counted(client.datasette, timeout=30)
    assert kept(client).recounts == 2
    assert_exact(client, archive_path)  # from the new counts


def test_a_rebuild_that_changes_values_under_the_same_ids(client: Client, archive_path: Path) -> None:
    """Same ids, same row count, other values: only the schema version tells; the counts must follow it."""
    assert_exact(client, archive_path)
    conn = sqlite3.connect(archive_path)
    with conn:  # what `okta-calls rebuild` does, with other values
        conn.execute("CREATE TEMP TABLE saved AS SELECT * FROM events")
        drop_projections(conn)
        create_projection_tables(conn)
        conn.execute("INSERT INTO events SELECT * FROM saved")
        conn.execute("UPDATE events SET outcome_result = 'CHANGED' WHERE outcome_result = 'SUCCESS'")
        create_indexes(conn, projection=True)
        create_views(conn)
    conn.close()
    assert group_by(archive_path, "outcome_result") == {"CHANGED": 37, "DENY": 6, "FAILURE": 1}
    assert_exact(client, archive_path)
    assert datasette_plugin.wait_until_counted(client.datasette, timeout=30)
    assert_exact(client, archive_path)


def test_a_deleted_event_is_noticed(client: Client, archive_path: Path) -> None:
    """Rows are never deleted outside a rebuild; if one is, the total no longer adds up and GROUP BY answers."""
    events = list(generate_events(40, seed=9))
    for added in ([], events):  # the deletion alone, then with new events counted in the same request
        assert_exact(client, archive_path)
        conn = sqlite3.connect(archive_path)
        with conn:
            conn.execute("DELETE FROM events WHERE id = (SELECT min(id) FROM events WHERE outcome_result = 'DENY')")
        conn.close()
        if added:
            with Archive(archive_path) as archive:
                append(archive, added, "after-delete")
        assert_exact(client, archive_path)
        assert datasette_plugin.wait_until_counted(client.datasette, timeout=30)
        assert_exact(client, archive_path)


def test_too_many_new_events_are_counted_again(client: Client, archive_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(facet_counts, "DELTA_LIMIT", 10)
    with Archive(archive_path) as archive:
        append(archive, list(generate_events(50, seed=5)), "burst")
    assert_exact(client, archive_path)  # 50 new > 10: GROUP BY, and a recount starts
    assert datasette_plugin.wait_until_counted(client.datasette, timeout=30)
    assert kept(client).recounts == 2
    assert_exact(client, archive_path)


# --- the counting itself ------------------------------------------------------------------------------------


def test_order_and_merge_match_sqlite() -> None:
    """Ties in count are ordered by value as SQLite orders them (numbers, then text by UTF-8 bytes)."""
    values = ["b", "a", "é", "Z", "ß", 3, 10, 2.5, "10", None, "a", "b", "é", 3, None, "日本", "\U0001f600"]
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (v)")
    conn.executemany("INSERT INTO t VALUES (?)", [(value,) for value in values])
    expected = conn.execute(
        "SELECT v, count(*) AS count FROM t WHERE v IS NOT NULL GROUP BY v ORDER BY count DESC, v LIMIT 100"
    ).fetchall()
    half = len(values) // 2
    counts = Counts(Identity(1, None), 0, 0, {"v": {}})
    counts = counts.merged([(value, 1) for value in values[:half]], half)
    counts = counts.merged([(value, 1) for value in values[half:]], len(values))
    assert counts.facet_rows("v", 100) == expected
    assert counts.total == len(values)
    assert sorted(["a", 3, "Z"], key=sqlite_order) == [3, "Z", "a"]


def test_an_error_while_refreshing_falls_back(client: Client, archive_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_args: Any) -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(datasette_plugin, "refresh", broken)
    before = kept(client).refreshes
    assert_exact(client, archive_path)  # Datasette's GROUP BY answered
    assert kept(client).refreshes == before
