"""The canned analytics: query files, the terminal report, and the generator's planted toll-fraud patterns coming
out on top of the lists that should find them."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from okta_calls import generate
from okta_calls.analytics import (
    QueryFileError,
    bind_params,
    connect_readonly,
    datasette_queries,
    load_queries,
    parse_query,
    run_query,
    sql_parameters,
)
from okta_calls.archive import Archive
from okta_calls.model import Incoming
from okta_calls.report import (
    ReportError,
    build_report,
    parse_moment,
    render_json,
    render_table,
)
from tests.test_datasette import IP_M, build_known_archive

REQUIRED = {
    "calls_per_day", "busiest_users", "shared_numbers", "many_numbers", "bursts", "destination_countries",
    "delivery_outcomes", "toll_fraud_suspects", "call_origins",
}


# --- query files -------------------------------------------------------------------------------------------


def test_every_query_file_parses_with_title_description_and_documented_params() -> None:
    queries = load_queries()
    assert REQUIRED <= set(queries)
    for name, query in queries.items():
        assert query.title and len(query.description) > 80, name
        assert set(query.param_names) == set(sql_parameters(query.sql)), name
        assert {"since", "until"} <= set(query.param_names), name
        assert all(param.description for param in query.params), name
        assert not any(param.startswith("_") for param in query.param_names), name  # Datasette drops _params
    config = datasette_queries()["toll_fraud_suspects"]
    assert config["title"] == "Toll-fraud suspects"
    assert config["params"] == ["since", "until", "window_minutes", "min_score", "limit"]
    assert "<code>min_score</code>" in config["description_html"]


def test_parse_query_header() -> None:
    query = parse_query(
        "demo",
        "-- title: Demo\n-- description: First line\n--   and a second one.\n"
        "-- param since: Start.\n--   Default: forever.\n-- a plain comment\nSELECT :since AS s, ':not' AS t;\n",
    )
    assert query.title == "Demo"
    assert query.description == "First line and a second one."
    assert [(p.name, p.description) for p in query.params] == [("since", "Start. Default: forever.")]
    assert query.sql == "SELECT :since AS s, ':not' AS t"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-- description: d\nSELECT 1", "title"),
        ("-- title: t\nSELECT 1", "description"),
        ("-- title: t\n-- description: d\n", "no SQL"),
        ("-- title: t\n-- description: d\nSELECT :x", "used but not documented: \\['x'\\]"),
        ("-- title: t\n-- description: d\n-- param y: why\nSELECT 1", "documented but unused: \\['y'\\]"),
    ],
)
def test_parse_query_rejects_bad_headers(text: str, message: str) -> None:
    with pytest.raises(QueryFileError, match=message):
        parse_query("bad", text)


def test_sql_parameters_ignore_strings_comments_and_casts() -> None:
    sql = "SELECT :a, ':b', \"c:d\" -- :e\n /* :f */ FROM t WHERE x = :a AND y::text = :g"
    assert sql_parameters(sql) == ("a", "g")


def test_bind_params_fills_blanks_and_rejects_unknown() -> None:
    query = load_queries()["bursts"]
    assert bind_params(query, {"by": "user", "limit": 3}) == {
        "since": "", "until": "", "window_minutes": "", "min_sends": "", "by": "user", "limit": "3",
    }
    with pytest.raises(KeyError, match="unknown parameters"):
        bind_params(query, {"nope": 1})


# --- the terminal report -----------------------------------------------------------------------------------


def test_parse_moment() -> None:
    now = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    assert parse_moment("7d", now=now) == "2026-03-03T12:00:00.000Z"
    assert parse_moment("90m", now=now) == "2026-03-10T10:30:00.000Z"
    assert parse_moment("2026-03-01") == "2026-03-01T00:00:00.000Z"
    assert parse_moment("2026-03-01 12:30") == "2026-03-01T12:30:00.000Z"
    assert parse_moment("2026-03-01T12:00+02:00") == "2026-03-01T10:00:00.000Z"
    assert parse_moment(None) is None and parse_moment("") is None
    with pytest.raises(ReportError, match="cannot read 'yesterday'"):
        parse_moment("yesterday")


@pytest.fixture(scope="module")
def known(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_known_archive(tmp_path_factory.mktemp("report") / "known.db")


def test_report_table_and_json(known: Path) -> None:
    report = build_report(str(known), since="2026-03-04", queries=["toll_fraud_suspects", "calls_per_day"])
    table = render_table(report, rows=3)
    assert "== Toll-fraud suspects (toll_fraud_suspects) ==" in table
    assert IP_M in table and "2026-03-05" in table and "2026-03-02" not in table
    assert "more row(s)" in table  # six suspects, three shown
    data = json.loads(render_json(report))
    assert data["since"] == "2026-03-04T00:00:00.000Z"
    assert [q["name"] for q in data["queries"]] == ["toll_fraud_suspects", "calls_per_day"]
    assert data["queries"][0]["rows"][0]["key"] == IP_M
    assert [row["day"] for row in data["queries"][1]["rows"]] == ["2026-03-04", "2026-03-05"]


def test_report_errors(known: Path, tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="no such archive"):
        build_report(str(tmp_path / "missing.db"))
    with pytest.raises(ReportError, match="no canned query 'nope'"):
        build_report(str(known), queries=["nope"])
    not_an_archive = tmp_path / "other.db"
    sqlite3.connect(not_an_archive).execute("CREATE TABLE t (x)").connection.commit()
    with pytest.raises(ReportError, match="is it an okta-calls archive"):
        build_report(str(not_an_archive), queries=["calls_per_day"])


# --- the generator's planted patterns ------------------------------------------------------------------------

EVENTS = 12_000  # above PLANT_MIN_EVENTS: the planted patterns are in


@pytest.fixture(scope="module", params=[1, 7])
def generated(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[sqlite3.Connection]:
    assert EVENTS >= generate.PLANT_MIN_EVENTS
    path = tmp_path_factory.mktemp(f"generated{request.param}") / "demo.db"
    events = list(generate.generate_events(EVENTS, seed=request.param))
    with Archive(path) as archive:
        run_id = archive.start_run("file", ["generated"])
        for start in range(0, len(events), 2000):
            batch = [Incoming(event=e, raw=None, ref="gen", line=start + i) for i, e in enumerate(events[start:start + 2000])]
            archive.append(batch, run_id=run_id, kind="file")
        archive.finish_run(run_id)
    conn = connect_readonly(str(path))
    yield conn
    conn.close()


def _planted_keys(conn: sqlite3.Connection) -> set[str]:
    """Every user, IP and number that belongs to a planted pattern (the patterns' own constants, plus the
    addresses the planted users sent from)."""
    users = {*generate.FRAUD_USER_IDS, *generate.SHARED_NUMBER_USER_IDS, generate.BURST_USER_ID}
    keys = {generate.FRAUD_IP, generate.SHARED_NUMBER, generate.BURST_NUMBER, *generate.FRAUD_NUMBERS, *users}
    marks = ",".join("?" * len(users))
    keys |= {row[0] for row in conn.execute(f"SELECT DISTINCT client_ip FROM events WHERE user_id IN ({marks})",
                                            sorted(users)) if row[0]}
    return keys


def test_planted_patterns_top_the_suspects(generated: sqlite3.Connection) -> None:
    rows = run_query(generated, "toll_fraud_suspects").dicts()
    keys = [row["key"] for row in rows]
    assert keys[0] == generate.FRAUD_IP
    planted = _planted_keys(generated)
    first_other = next((i for i, key in enumerate(keys) if key not in planted), len(keys))
    for headline in (generate.FRAUD_IP, generate.SHARED_NUMBER, generate.BURST_USER_ID):
        assert headline in keys[:first_other], (headline, rows[: first_other + 3])
    assert {row["kind"] for row in rows[:first_other]} == {"ip", "user", "phone"}


def test_planted_patterns_top_the_other_queries(generated: sqlite3.Connection) -> None:
    many = run_query(generated, "many_numbers").dicts()
    assert (many[0]["kind"], many[0]["key"]) == ("ip", generate.FRAUD_IP)
    assert many[0]["numbers"] == generate.FRAUD_DISTINCT_NUMBERS
    assert many[0]["users"] == len(generate.FRAUD_USER_IDS)
    shared = run_query(generated, "shared_numbers").dicts()
    assert (shared[0]["phone_number"], shared[0]["users"]) == (generate.SHARED_NUMBER, generate.SHARED_NUMBER_USERS)
    bursts = run_query(generated, "bursts", {"by": "user"}).dicts()
    assert bursts[0]["key"] == generate.BURST_USER_ID
    by_ip = run_query(generated, "bursts").dicts()
    assert generate.FRAUD_IP in [row["key"] for row in by_ip[:3]]
    countries = {row["phone_country"]: row for row in run_query(generated, "destination_countries").dicts()}
    assert countries[generate.FRAUD_COUNTRY]["sends"] >= generate.FRAUD_SENDS
