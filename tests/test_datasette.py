"""Datasette over a small archive with known answers: metadata, pages, facets, search, views and every canned
query, through Datasette's own test client (``ds.client``).

The fixture archive (``build_known_archive``, also used by test_analytics and test_browser) tells this story:

* Alice, Bob and Carol share one phone number ``SHARED``: Alice (Classic Engine, home IP ``IP_A``) gets a voice
  call and an SMS on the 2nd and a failed SMS on the 3rd; Bob (Identity Engine) and Carol (Identity Engine)
  one SMS each.
* Mallory pumps SMS from a datacenter proxy ``IP_M`` to six Latvian numbers (``LV_NUMBERS``) within 20 minutes
  on the 4th: four accepted (three undelivered, one delivered), the last two denied, then one rate-limit
  violation.
* Dave asks for twelve voice calls to his own number within nine minutes on the 5th (``IP_D``): ten accepted
  (five completed, five unanswered), the last two denied, and one rate-limit violation.

Every accepted send has exactly one receive_status a few seconds later, as Okta logs them.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from okta_calls.analytics import load_queries
from okta_calls.archive import Archive
from okta_calls.model import Delivery, Incoming
from okta_calls.serve import (
    PLACEHOLDER_DATABASE,
    ServeError,
    ServeOptions,
    auth_problem,
    build_datasette,
    build_metadata,
    check_exposure,
    database_name,
    is_loopback,
    password_overlay,
    prepare,
)

DB_NAME = "calls-2026"  # not the placeholder: the metadata must follow the file's name

# --- the fixture archive, with known answers ---------------------------------------------------------------

T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)

SHARED = "+14155550101"
DAVE_PHONE = "+13125550104"
LV_NUMBERS = tuple(f"+3712000000{i}" for i in range(1, 7))

IP_A, IP_B, IP_C, IP_M, IP_D = "198.51.100.10", "198.51.100.20", "198.51.100.30", "203.0.113.99", "192.0.2.40"


@dataclass(frozen=True, slots=True)
class Person:
    id: str
    login: str
    name: str
    ip: str
    city: str
    lat: float
    lon: float
    asn: int
    proxy: bool = False


ALICE = Person("00uALICE0000000001d7", "alice@example.com", "Alice Archer", IP_A, "Boston", 42.36, -71.06, 7922)
BOB = Person("00uBOB000000000001d7", "bob@example.com", "Bob Baker", IP_B, "Denver", 39.74, -104.99, 7018)
CAROL = Person("00uCAROL0000000001d7", "carol@example.com", "Carol Cook", IP_C, "Austin", 30.27, -97.74, 701)
MALLORY = Person("00uMALLORY00000001d7", "mallory@example.net", "User 1", IP_M, "North Bergen", 40.79, -74.02, 14061, True)
DAVE = Person("00uDAVE00000000001d7", "dave@example.com", "Dave Dunn", IP_D, "Chicago", 41.88, -87.63, 20115)

DELIVERY_ID = "hook-delivery-0001"
DELIVERED_UUID = "0000-alice-voice-1"


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class _Builder:
    """Makes LogEvents in either engine's shape, with sequential uuids."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.count = 0

    def _base(self, uuid: str | None, at: datetime, event_type: str, person: Person, result: str) -> dict[str, Any]:
        self.count += 1
        return {
            "uuid": uuid or f"known-{self.count:04d}",
            "published": _iso(at),
            "eventType": event_type,
            "version": "0",
            "severity": "WARN" if result == "DENY" else "INFO",
            "displayMessage": event_type.replace("_", " "),
            "actor": {"id": person.id, "type": "User", "alternateId": person.login, "displayName": person.name},
            "client": {
                "userAgent": {"rawUserAgent": "Mozilla/5.0", "os": "Mac OS X", "browser": "CHROME"},
                "zone": "null",
                "device": "Computer",
                "ipAddress": person.ip,
                "geographicalContext": {
                    "city": person.city,
                    "state": None,
                    "country": "United States",
                    "postalCode": None,
                    "geolocation": {"lat": person.lat, "lon": person.lon},
                },
            },
            "outcome": {"result": result, "reason": "Blocked by Okta" if result == "DENY" else None},
            "securityContext": {"asNumber": person.asn, "asOrg": f"as{person.asn}", "isp": None,
                                "domain": None, "isProxy": person.proxy},
            "transaction": {"type": "WEB", "id": f"tx-{self.count}"},
            "debugContext": {"debugData": {"smsProvider": "TWILIO"}},
            "target": [{"id": person.id, "type": "User", "alternateId": person.login, "displayName": person.name}],
        }

    def add(
        self,
        at: datetime,
        event_type: str,
        person: Person,
        phone: str,
        *,
        result: str = "SUCCESS",
        classic: bool = False,
        status: str | None = None,
        uuid: str | None = None,
        extra_debug: dict[str, Any] | None = None,
    ) -> None:
        event = self._base(uuid, at, event_type, person, result)
        debug = event["debugContext"]["debugData"]
        if classic:
            event["target"].append(
                {"id": f"mbl{self.count:017d}", "type": "MobilePhone", "alternateId": phone, "displayName": "Mobile Phone"}
            )
        else:
            debug["phoneNumber"] = phone
            debug["countryCallingCode"] = "371" if phone.startswith("+371") else "1"
        if status is not None:
            debug["status"] = status
        debug.update(extra_debug or {})
        self.events.append(event)

    def send(
        self,
        at: datetime,
        channel: str,
        person: Person,
        phone: str,
        *,
        result: str = "SUCCESS",
        status: str | None = None,
        classic: bool = False,
        uuid: str | None = None,
    ) -> None:
        """A send, and its receive_status five seconds later when the provider got it."""
        kind = "system.voice.send_phone_verification_call" if channel == "voice" else (
            "system.sms.send_phone_verification_message")
        self.add(at, kind, person, phone, result=result, classic=classic, uuid=uuid)
        if status is not None:
            self.add(at + timedelta(seconds=5), f"system.{channel}.receive_status", person, phone,
                     classic=classic, status=status)

    def rate_limit(self, at: datetime, person: Person, phone: str, subtype: str) -> None:
        self.add(at, "system.operation.rate_limit.violation", person, phone, result="DENY",
                 extra_debug={"operationRateLimitSubtype": subtype})


def known_events() -> list[dict[str, Any]]:
    """Every event of the story, in the order Okta would log them."""
    b = _Builder()
    b.send(T0, "voice", ALICE, SHARED, classic=True, status="completed", uuid=DELIVERED_UUID)
    b.send(T0 + timedelta(minutes=5), "sms", ALICE, SHARED, classic=True, status="delivered")
    b.send(T0 + timedelta(hours=2), "sms", BOB, SHARED, status="delivered")
    b.send(T0 + timedelta(days=1, hours=-1), "sms", ALICE, SHARED, classic=True, result="FAILURE", status="failed")
    b.send(T0 + timedelta(days=1, hours=2), "sms", CAROL, SHARED, status="delivered")
    start = datetime(2026, 3, 4, 1, 0, 0, tzinfo=UTC)
    statuses = ("undelivered", "undelivered", "delivered", "undelivered", None, None)
    for index, (number, status) in enumerate(zip(LV_NUMBERS, statuses)):
        b.send(start + timedelta(minutes=4 * index), "sms", MALLORY, number,
               result="DENY" if status is None else "SUCCESS", status=status)
    b.rate_limit(start + timedelta(minutes=21), MALLORY, LV_NUMBERS[-1], "SMS")
    burst = datetime(2026, 3, 5, 8, 0, 0, tzinfo=UTC)
    for index in range(12):
        denied = index >= 10
        status = None if denied else ("completed" if index < 5 else "no-answer")
        b.send(burst + timedelta(seconds=45 * index), "voice", DAVE, DAVE_PHONE, classic=True,
               result="DENY" if denied else "SUCCESS", status=status)
    b.rate_limit(burst + timedelta(minutes=9), DAVE, DAVE_PHONE, "Voice call")
    return b.events


def build_known_archive(path: Path) -> Path:
    """Write the story into a new archive at ``path``; Alice's first call arrives through an Event Hook."""
    events = known_events()
    with Archive(path) as archive:
        run_id = archive.start_run("file", ["known"])
        hooked = [Incoming(event=e, raw=None, ref="hook", line=1) for e in events if e["uuid"] == DELIVERED_UUID]
        others = [Incoming(event=e, raw=None, ref="known", line=i) for i, e in enumerate(events, 1)
                  if e["uuid"] != DELIVERED_UUID]
        archive.append(
            hooked,
            run_id=run_id,
            kind="hook",
            delivery=Delivery(
                event_id=DELIVERY_ID,
                event_time="2026-03-02T10:00:01.000Z",
                source="https://example.okta.com/api/v1/eventHooks/who1234",
                event_type="com.okta.event_hook",
                event_type_version="1.0",
                cloud_events_version="0.1",
                content_type="application/json",
                headers={"Content-Type": "application/json", "Authorization": "[redacted]"},
            ),
        )
        archive.append(others, run_id=run_id, kind="file")
        archive.finish_run(run_id)
    return path



class Client:
    """Datasette's test client driven from synchronous tests on one private event loop."""

    def __init__(self, datasette: Any) -> None:
        self.datasette = datasette
        self.loop = asyncio.new_event_loop()
        self.loop.run_until_complete(datasette.invoke_startup())

    def get(self, path: str) -> Any:
        return self.loop.run_until_complete(self.datasette.client.get(path))

    def json(self, path: str) -> Any:
        response = self.get(path)
        assert response.status_code == 200, (path, response.status_code, response.text[:500])
        return response.json()

    def rows(self, query: str, **params: str) -> list[dict[str, Any]]:
        args = "".join(f"&{key}={value}" for key, value in params.items())
        return self.json(f"/{DB_NAME}/{query}.json?_shape=objects{args}")["rows"]

    def close(self) -> None:
        self.loop.close()


@pytest.fixture(scope="module")
def archive_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_known_archive(tmp_path_factory.mktemp("known") / f"{DB_NAME}.db")


@pytest.fixture(scope="module")
def client(archive_path: Path) -> Iterator[Client]:
    datasette = build_datasette(archive_path)
    wrapper = Client(datasette)
    yield wrapper
    wrapper.close()


# --- metadata and instance ---------------------------------------------------------------------------------


def test_metadata_follows_the_file_name(client: Client) -> None:
    metadata = client.json("/-/metadata.json")
    assert list(metadata["databases"]) == [DB_NAME]
    assert PLACEHOLDER_DATABASE not in metadata["databases"]
    assert metadata["title"] == "okta-calls"
    assert metadata["license"] and metadata["source"]
    tables = metadata["databases"][DB_NAME]["tables"]
    assert tables["events"]["sort_desc"] == "published"
    assert tables["events"]["facets"] == [
        "event_type", "outcome_result", "client_country", "country_calling_code", "provider", "actor_type",
    ]
    for hidden in ("sync_state", "archive_meta", "_sqlite_migrations", "events_fts"):
        assert tables[hidden]["hidden"] is True
    assert set(metadata["databases"][DB_NAME]["queries"]) == set(load_queries())


def test_every_table_and_column_is_described(client: Client, archive_path: Path) -> None:
    import sqlite3

    tables = client.json("/-/metadata.json")["databases"][DB_NAME]["tables"]
    conn = sqlite3.connect(archive_path)
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'events_fts_%'"
        )
    ]
    assert set(names) == set(tables)
    for name in names:
        assert tables[name]["description"], name
        columns = {row[1] for row in conn.execute(f"PRAGMA table_info([{name}])")}
        assert columns == set(tables[name]["columns"]), name
        assert all(tables[name]["columns"].values()), name


def test_served_mutable_without_facet_suggestions(client: Client) -> None:
    database = client.datasette.get_database(DB_NAME)
    assert database.is_mutable  # ?mode=ro, never immutable: a running ingest shows up live
    assert client.datasette.setting("suggest_facets") is False
    plugins = {plugin["name"] for plugin in client.json("/-/plugins.json")}
    assert {"datasette-cluster-map", "datasette-dashboards"} <= plugins


# --- the events table --------------------------------------------------------------------------------------


def test_events_newest_first_with_default_facets(client: Client) -> None:
    data = client.json(f"/{DB_NAME}/events.json?_shape=objects")
    assert data["filtered_table_rows_count"] == 44
    published = [row["published"] for row in data["rows"]]
    assert published == sorted(published, reverse=True)
    assert published[0] == "2026-03-05T08:09:00.000Z"  # Dave's rate-limit violation
    facets = data["facet_results"]
    assert set(facets) == {
        "event_type", "outcome_result", "client_country", "country_calling_code", "provider", "actor_type",
    }
    outcomes = {item["value"]: item["count"] for item in facets["outcome_result"]["results"]}
    assert outcomes == {"SUCCESS": 37, "DENY": 6, "FAILURE": 1}
    types = {item["value"]: item["count"] for item in facets["event_type"]["results"]}
    assert types == {
        "system.voice.send_phone_verification_call": 13,
        "system.sms.send_phone_verification_message": 10,
        "system.voice.receive_status": 11,
        "system.sms.receive_status": 8,
        "system.operation.rate_limit.violation": 2,
    }
    codes = {item["value"]: item["count"] for item in facets["country_calling_code"]["results"]}
    assert codes == {"1": 33, "371": 11}


def test_filter_on_event_type_sorted_by_published(client: Client) -> None:
    data = client.json(
        f"/{DB_NAME}/events.json?_shape=objects&event_type=system.voice.send_phone_verification_call"
        "&_sort_desc=published"
    )
    assert data["filtered_table_rows_count"] == 13
    assert data["rows"][0]["user_id"] == DAVE.id and data["rows"][0]["outcome_result"] == "DENY"
    assert data["rows"][-1]["user_id"] == ALICE.id
    facet = {item["value"]: item["count"] for item in data["facet_results"]["outcome_result"]["results"]}
    assert facet == {"SUCCESS": 11, "DENY": 2}


def test_full_text_search(client: Client) -> None:
    by_name = client.json(f"/{DB_NAME}/events.json?_shape=objects&_search=Archer")
    assert by_name["filtered_table_rows_count"] == 6  # Alice's three sends and three delivery reports
    assert {row["user_id"] for row in by_name["rows"]} == {ALICE.id}
    by_message = client.json(f"/{DB_NAME}/events.json?_shape=objects&_search=rate")
    assert by_message["filtered_table_rows_count"] == 2
    by_email = client.json(f"/{DB_NAME}/events.json?_shape=objects&_search=alice@example.com")
    assert by_email["filtered_table_rows_count"] == 6


def test_event_html_page_has_the_map(client: Client) -> None:
    response = client.get(f"/{DB_NAME}/events")
    assert response.status_code == 200
    assert "datasette-cluster-map" in response.text
    assert "DATASETTE_CLUSTER_MAP_LATITUDE_COLUMN = \"latitude\"" in response.text


# --- views -------------------------------------------------------------------------------------------------


def test_calls_view(client: Client) -> None:
    data = client.json(f"/{DB_NAME}/calls.json?_shape=objects&_size=100")
    rows = data["rows"]
    assert len(rows) == 23
    assert [row["published"] for row in rows] == sorted((row["published"] for row in rows), reverse=True)
    bob = [row for row in rows if row["user_alternate_id"] == "bob@example.com"]
    assert bob[0]["phone_number"] == SHARED and bob[0]["phone_id"] is None  # Identity Engine shape
    alice_voice = next(row for row in rows if row["uuid"] == DELIVERED_UUID)
    assert alice_voice["channel"] == "voice" and alice_voice["phone_id"].startswith("mbl")  # Classic Engine
    latvia = [row for row in rows if row["phone_country"] == "LV"]
    assert len(latvia) == 6 and {row["high_cost_destination"] for row in latvia} == {1}
    assert {row["destination_country"] for row in latvia} == {"Latvia"}


CARD_FIELDS = (
    "Date and Time", "Message", "Event ID", "Event Type", "Event Time", "Version",
    "Actor ID", "Actor Alternate ID", "Actor Display Name", "Actor Type",
    "Okta User ID", "Okta User Alternate ID", "Okta User Display Name", "Okta User Type",
    "Phone ID", "Phone Alternate ID", "Phone Display Name", "Phone Type",
    "UUID", "Event Details", "Headers", "Source", "Debug Data",
)


def test_card_view_has_every_workflows_card_output(client: Client) -> None:
    data = client.json(f"/{DB_NAME}/card.json?_shape=objects&_size=100")
    assert len(data["rows"]) == 44
    assert tuple(data["rows"][0]) == CARD_FIELDS
    hooked = next(row for row in data["rows"] if row["UUID"] == DELIVERED_UUID)
    assert hooked["Event ID"] == DELIVERY_ID
    assert hooked["Event Time"] == "2026-03-02T10:00:01.000Z"
    assert hooked["Source"] == "https://example.okta.com/api/v1/eventHooks/who1234"
    assert json.loads(hooked["Headers"])["Authorization"] == "[redacted]"
    assert hooked["Okta User Alternate ID"] == ALICE.login and hooked["Okta User Type"] == "User"
    assert hooked["Phone Alternate ID"] == SHARED and hooked["Phone Type"] == "MobilePhone"
    assert hooked["Phone Display Name"] == "Mobile Phone" and hooked["Phone ID"].startswith("mbl")
    assert json.loads(hooked["Event Details"])["uuid"] == DELIVERED_UUID
    assert json.loads(hooked["Debug Data"])["smsProvider"] == "TWILIO"
    identity = next(row for row in data["rows"] if row["Okta User Alternate ID"] == "bob@example.com")
    assert identity["Phone ID"] is None and identity["Phone Alternate ID"] == SHARED
    assert identity["Event ID"] is None  # read from a file, not delivered by a hook


# --- canned queries ----------------------------------------------------------------------------------------


def test_every_canned_query_has_title_and_description(client: Client) -> None:
    queries = client.json("/-/metadata.json")["databases"][DB_NAME]["queries"]
    for name, query in queries.items():
        assert query["title"] and query["description_html"], name
        page = client.get(f"/{DB_NAME}/{name}")
        assert page.status_code == 200 and query["title"] in page.text, name


def test_calls_per_day(client: Client) -> None:
    rows = client.rows("calls_per_day")
    assert [(r["day"], r["sends"], r["voice"], r["sms"], r["success"], r["failure"], r["deny"], r["rate_limited"])
            for r in rows] == [
        ("2026-03-02", 3, 1, 2, 3, 0, 0, 0),
        ("2026-03-03", 2, 0, 2, 1, 1, 0, 0),
        ("2026-03-04", 6, 0, 6, 4, 0, 2, 1),
        ("2026-03-05", 12, 12, 0, 10, 0, 2, 1),
    ]
    assert [r["deny_pct"] for r in rows] == [0.0, 0.0, 33.33, 16.67]
    window = client.rows("calls_per_day", since="2026-03-03", until="2026-03-05")
    assert [r["day"] for r in window] == ["2026-03-03", "2026-03-04"]


def test_busiest_users(client: Client) -> None:
    rows = client.rows("busiest_users")
    assert [(r["user_alternate_id"], r["sends"], r["numbers"], r["denied"], r["failed"]) for r in rows] == [
        ("dave@example.com", 12, 1, 2, 0),
        ("mallory@example.net", 6, 6, 2, 0),
        ("alice@example.com", 3, 1, 0, 1),
        ("bob@example.com", 1, 1, 0, 0),
        ("carol@example.com", 1, 1, 0, 0),
    ]
    assert len(client.rows("busiest_users", limit="2")) == 2


def test_shared_numbers(client: Client) -> None:
    rows = client.rows("shared_numbers")
    assert [(r["phone_number"], r["users"], r["sends"], r["phone_country"]) for r in rows] == [(SHARED, 3, 5, "US")]
    assert rows[0]["users_list"].split(", ") == sorted(["alice@example.com", "bob@example.com", "carol@example.com"])
    assert client.rows("shared_numbers", min_users="4") == []


def test_many_numbers(client: Client) -> None:
    rows = client.rows("many_numbers")
    assert [(r["kind"], r["key"], r["numbers"], r["users"], r["extra_numbers"], r["sends_in_window"]) for r in rows] == [
        ("ip", IP_M, 6, 1, 5, 6),
        ("user", MALLORY.id, 6, 1, 5, 6),
    ]
    assert rows[0]["window_start"] == "2026-03-04T01:00:00.000Z"
    # A 10-minute window catches three of the six numbers (sent 4 minutes apart).
    short = client.rows("many_numbers", window_minutes="10")
    assert [r["numbers"] for r in short] == [3, 3]


def test_bursts(client: Client) -> None:
    rows = client.rows("bursts")
    assert [(r["kind"], r["key"], r["window_start"], r["sends"], r["users"], r["numbers"], r["denied"]) for r in rows] == [
        ("ip", IP_D, "2026-03-05T08:00:00.000Z", 12, 1, 1, 2),
    ]
    by_user = client.rows("bursts", by="user")
    assert [(r["key"], r["sends"], r["sends_per_user"]) for r in by_user] == [(DAVE.id, 12, 12.0)]
    assert [r["key"] for r in client.rows("bursts", by="asn")] == [str(DAVE.asn)]
    assert len(client.rows("bursts", by="user,ip")) == 2
    assert client.rows("bursts", min_sends="13") == []


def test_destination_countries(client: Client) -> None:
    rows = client.rows("destination_countries")
    assert [(r["phone_country"], r["sends"], r["denied"], r["high_cost"], r["users"], r["numbers"]) for r in rows] == [
        ("US", 17, 2, 0, 4, 2),
        ("LV", 6, 2, 1, 1, 6),
    ]
    assert rows[1]["country"] == "Latvia" and rows[1]["deny_pct"] == 33.33


def test_delivery_outcomes(client: Client) -> None:
    rows = client.rows("delivery_outcomes")
    got = [(r["provider"], r["phone_country"], r["channel"], r["sends"], r["denied"], r["failed"], r["reports"],
            r["delivered"], r["report_failed"], r["delivered_pct"]) for r in rows]
    assert got == [
        ("TWILIO", "US", "voice", 13, 2, 0, 11, 6, 5, 54.5),
        ("TWILIO", "LV", "sms", 6, 2, 0, 4, 1, 3, 25.0),
        ("TWILIO", "US", "sms", 4, 0, 1, 4, 3, 1, 100.0),
    ]


def test_call_origins(client: Client) -> None:
    rows = client.rows("call_origins")
    assert [(r["city"], r["sends"], r["denied"]) for r in rows] == [
        ("Chicago", 12, 2), ("North Bergen", 6, 2), ("Boston", 3, 0), ("Austin", 1, 0), ("Denver", 1, 0),
    ]
    page = client.get(f"/{DB_NAME}/call_origins")
    assert "datasette-cluster-map" in page.text  # exactly one latitude/longitude pair: the map shows


def test_toll_fraud_suspects(client: Client) -> None:
    rows = client.rows("toll_fraud_suspects")
    assert [(r["kind"], r["key"], r["score"]) for r in rows] == [
        ("ip", IP_M, 6.18),
        ("user", MALLORY.id, 6.18),
        ("ip", IP_D, 5.17),
        ("phone", DAVE_PHONE, 5.17),
        ("user", DAVE.id, 5.17),
        ("phone", SHARED, 2.6),
    ]
    top = rows[0]
    assert (top["sends"], top["numbers"], top["denied"], top["rate_limited"], top["high_cost_sends"],
            top["proxied"], top["failed_reports"]) == (6, 6, 2, 1, 6, 6, 3)
    assert "6 numbers for 1 user(s) in one window" in top["signals"]
    assert rows[-1]["signals"].startswith("used by 3 users")
    assert [r["key"] for r in client.rows("toll_fraud_suspects", min_score="6")] == [IP_M, MALLORY.id]


def test_canned_query_with_every_parameter_blank(client: Client) -> None:
    """Datasette sends '' for a blank form field: every query must fall back to its defaults."""
    for name, query in load_queries().items():
        blanks = "".join(f"&{param}=" for param in query.param_names)
        data = client.json(f"/{DB_NAME}/{name}.json?_shape=objects{blanks}")
        assert data["rows"] == client.rows(name), name


# --- dashboards --------------------------------------------------------------------------------------------


def test_dashboard_points_at_the_served_database(client: Client) -> None:
    response = client.get("/-/dashboards/okta-calls")
    assert response.status_code == 200
    for chart in ("per-day", "outcomes", "countries", "suspects", "map"):
        assert f"chart-{chart}" in response.text
    charts = client.datasette.plugin_config("datasette-dashboards")["okta-calls"]["charts"]
    assert {chart["db"] for chart in charts.values()} == {DB_NAME}
    queries = load_queries()
    assert charts["per-day"]["query"] == queries["calls_per_day"].sql
    # What a chart fetches: the query's SQL as ad hoc SQL, with the dashboard's filters as parameters.
    data = client.json(f"/{DB_NAME}.json?_shape=objects&sql={_quote(charts['suspects']['query'])}&since=2026-03-04")
    assert data["rows"][0]["key"] == IP_M


def _quote(text: str) -> str:
    from urllib.parse import quote

    return quote(text, safe="")


# --- serve: names, exposure ---------------------------------------------------------------------------------


def test_database_name_is_the_stem() -> None:
    assert database_name("/home/x/okta/calls-2026.db") == "calls-2026"
    metadata = build_metadata(Path("/tmp/okta-calls.db"))
    assert list(metadata["databases"]) == ["okta-calls"]
    assert "toll_fraud_suspects" in metadata["databases"]["okta-calls"]["queries"]


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True), ("localhost", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.10", False), ("example.com", False)],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def test_refuses_non_loopback_without_auth() -> None:
    metadata = build_metadata(Path("/tmp/okta-calls.db"))
    check_exposure("127.0.0.1", False, metadata, plugins=set())
    with pytest.raises(ServeError, match="refusing to listen on 0.0.0.0"):
        check_exposure("0.0.0.0", False, metadata, plugins=set())
    check_exposure("0.0.0.0", True, metadata, plugins=set())  # --public


def test_auth_counts_only_when_it_keeps_visitors_out() -> None:
    plugin = {"plugins": {"datasette-auth-passwords": {"admin_password_hash": "pbkdf2_sha256$..."}}}
    assert "not installed" in (auth_problem(plugin, set()) or "")
    assert "no top-level 'allow'" in (auth_problem(plugin, {"datasette-auth-passwords"}) or "")
    guarded = {**plugin, "allow": {"id": "admin"}}
    assert auth_problem(guarded, {"datasette-auth-passwords"}) is None
    check_exposure("0.0.0.0", False, guarded, plugins={"datasette-auth-passwords"})


def test_password_from_the_environment() -> None:
    assert password_overlay({}) == {}
    overlay = password_overlay({"OKTA_CALLS_PASSWORD_HASH": "pbkdf2_sha256$x", "OKTA_CALLS_USERNAME": "sec"})
    assert overlay["allow"] == {"id": "sec"}
    assert overlay["plugins"]["datasette-auth-passwords"] == {"sec_password_hash": {"$env": "OKTA_CALLS_PASSWORD_HASH"}}


def test_prepare_checks_the_file_and_the_host(archive_path: Path, tmp_path: Path) -> None:
    with pytest.raises(ServeError, match="no such archive file"):
        prepare(ServeOptions(str(tmp_path / "missing.db")), environ={})
    with pytest.raises(ServeError, match="refusing"):
        prepare(ServeOptions(str(archive_path), host="0.0.0.0"), environ={})
    overlay = tmp_path / "extra.yml"
    overlay.write_text("title: Our calls\ndatabases:\n  okta-calls:\n    description: ours\n")
    datasette = prepare(ServeOptions(str(archive_path), metadata_path=str(overlay)), environ={})
    assert datasette.metadata("title") == "Our calls"
    assert datasette.metadata("description", database=DB_NAME) == "ours"
    assert datasette.metadata("queries", database=DB_NAME)


def test_password_env_needs_the_plugin(archive_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {"OKTA_CALLS_PASSWORD_HASH": "pbkdf2_sha256$480000$x$y"}
    monkeypatch.setattr("okta_calls.serve.installed_plugins", lambda: set())  # as on a machine without it
    with pytest.raises(ServeError, match="not installed"):
        prepare(ServeOptions(str(archive_path), host="0.0.0.0"), environ=environ)


def test_a_running_ingest_shows_up_live(tmp_path: Path) -> None:
    """Datasette serves the file mutable: events appended after start-up appear on the next request."""
    events = known_events()
    path = tmp_path / "live.db"
    with Archive(path) as archive:
        run_id = archive.start_run("file", ["first"])
        archive.append([Incoming(event=e, raw=None, ref="first") for e in events[:10]], run_id=run_id, kind="file")
    live = Client(build_datasette(path))
    try:
        assert live.json("/live/events.json")["filtered_table_rows_count"] == 10
        with Archive(path) as archive:
            run_id = archive.start_run("file", ["second"])
            archive.append([Incoming(event=e, raw=None, ref="second") for e in events[10:]], run_id=run_id, kind="file")
        assert live.json("/live/events.json")["filtered_table_rows_count"] == len(events)
    finally:
        live.close()
