"""The System Log client against a real HTTP server on loopback (``fake_okta.FakeOkta``)."""

from __future__ import annotations

import logging
import random
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from okta_calls.auth import SSWSAuth
from okta_calls.sources.okta_api import (
    TELEPHONY_FILTER,
    InvalidOrgUrl,
    OktaApiError,
    OktaClient,
    OktaInterrupted,
    OktaProtocolError,
    OktaRateLimited,
    OktaUnavailable,
    Page,
    build_start_url,
    choose_filter,
    telephony_filter,
    validate_org_url,
)
from tests.fake_okta import FakeOkta, Fault, make_event, okta_time

TOKEN = "test-api-token-0123456789"
SERVER_EPOCH = 1_800_000_000.0  # the fake server's clock: far from the local clock on purpose


class FakeClock:
    """A monotonic clock that only moves when something sleeps; the server's clock follows it."""

    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []
        self._lock = threading.Lock()

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.sleeps.append(seconds)
            self.t += seconds

    def server_now(self) -> float:
        return SERVER_EPOCH + self.t

    def wall(self) -> float:
        return 12345.0  # a local wall clock that is plainly wrong: the client must use the server's Date


@pytest.fixture()
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture()
def server(clock: FakeClock) -> Iterator[FakeOkta]:
    with FakeOkta(api_token=TOKEN, now=clock.server_now) as fake:
        yield fake


def make_client(server: FakeOkta, clock: FakeClock, **options: Any) -> OktaClient:
    settings: dict[str, Any] = dict(
        clock=clock.monotonic, wall_clock=clock.wall, sleep=clock.sleep, rng=random.Random(7), jitter_s=0.0
    )
    settings.update(options)
    auth = settings.pop("auth", SSWSAuth(TOKEN))
    return OktaClient(server.base_url, auth, **settings)


def start_url(server: FakeOkta, **options: Any) -> str:
    options.setdefault("since", okta_time(SERVER_EPOCH - 86400))
    options.setdefault("filter", TELEPHONY_FILTER)
    return build_start_url(server.base_url, **options)


def uuids(pages: list[Page]) -> list[str]:
    return [item.event["uuid"] for page in pages for item in page.items]


def events_at(count: int, start: int = 0, **kwargs: Any) -> list[dict[str, Any]]:
    """Events published in the hour before the server's clock, one a second."""
    return [make_event(n, published=SERVER_EPOCH - 3600 + n, **kwargs) for n in range(start, start + count)]


# --------------------------------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "origin"),
    [
        ("https://acme.okta.com", "https://acme.okta.com"),
        ("https://acme.okta.com/", "https://acme.okta.com"),
        ("https://ACME.okta.com:443", "https://acme.okta.com"),
        ("https://login.acme.example:8443", "https://login.acme.example:8443"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.9.9.9", "http://127.9.9.9"),
        ("http://[::1]:9000", "http://[::1]:9000"),
        ("http://localhost:1234", "http://localhost:1234"),
    ],
)
def test_org_url_accepted(url: str, origin: str) -> None:
    assert validate_org_url(url) == origin


@pytest.mark.parametrize(
    "url",
    [
        "",
        "acme.okta.com",
        "http://acme.okta.com",
        "http://10.0.0.1:8080",
        "ftp://acme.okta.com",
        "https://acme.okta.com/api/v1",
        "https://acme.okta.com?x=1",
        "https://user:pass@acme.okta.com",
        "https://acme-admin.okta.com",
        "https://acme.okta.com:notaport",
    ],
)
def test_org_url_refused(url: str) -> None:
    with pytest.raises(InvalidOrgUrl) as caught:
        validate_org_url(url)
    assert "\n" not in str(caught.value)
    assert "pass" not in str(caught.value).replace("pass credentials", "")


def test_filters() -> None:
    assert telephony_filter(None) == 'eventType sw "system.voice." or eventType sw "system.sms."'
    assert telephony_filter(["system.voice.send_phone_verification_call", "system.sms.receive_status"]) == (
        'eventType eq "system.voice.send_phone_verification_call" or eventType eq "system.sms.receive_status"'
    )
    with pytest.raises(ValueError):
        telephony_filter(['x" or eventType pr'])
    assert choose_filter() == TELEPHONY_FILTER
    assert choose_filter(all_events=True) is None
    assert choose_filter(filter_expr=' outcome.result eq "DENY" ') == 'outcome.result eq "DENY"'
    with pytest.raises(ValueError):
        choose_filter(["system.sms.receive_status"], all_events=True)


def test_build_start_url() -> None:
    url = httpx.URL(build_start_url("https://acme.okta.com", since="2026-01-01T00:00:00.000Z", filter="a eq \"b\""))
    assert url.path == "/api/v1/logs"
    assert dict(url.params) == {
        "since": "2026-01-01T00:00:00.000Z",
        "filter": 'a eq "b"',
        "limit": "1000",
        "sortOrder": "ASCENDING",
    }
    bounded = httpx.URL(
        build_start_url("https://acme.okta.com", since="2026-01-01T00:00:00Z", until="2026-01-02T00:00:00Z")
    )
    assert bounded.params["until"] == "2026-01-02T00:00:00Z"
    with pytest.raises(ValueError):
        build_start_url("https://acme.okta.com", since=None, limit=1001)


# --------------------------------------------------------------------------------------------------- paging


def test_pages_follow_next_and_stop_after_a_short_page(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(2500))
    with make_client(server, clock) as client:
        pages = list(client.pages(start_url(server)))
    assert [len(p.items) for p in pages] == [1000, 1000, 500]
    assert all(p.next_url for p in pages), "a polling request has a next link on every page"
    assert [p.is_last for p in pages] == [False, False, True]
    assert uuids(pages) == [e["uuid"] for e in events_at(2500)]
    requests = server.log_requests()
    assert len(requests) == 3
    assert "since" in requests[0].query and "after" not in requests[0].query
    for request, page in zip(requests[1:], pages, strict=False):
        assert "after" in request.query and "since" not in request.query
        assert page.next_url and page.next_url.endswith(request.target)
    first = pages[1]
    assert first.items[0].ref == first.url and first.self_url == first.url
    assert [item.line for item in first.items[:3]] == [1, 2, 3]
    assert all(item.raw is None and item.error is None for page in pages for item in page.items)
    assert pages[0].rate_limit is not None and pages[0].rate_limit.limit == server.rate_limit


def test_empty_polling_page_has_next_and_new_events_appear_at_the_next_poll(
    server: FakeOkta, clock: FakeClock
) -> None:
    server.add_events(events_at(1000))
    with make_client(server, clock) as client:
        pages = list(client.pages(start_url(server)))
        assert [len(p.items) for p in pages] == [1000, 0]
        empty = pages[-1]
        assert empty.next_url is not None and empty.is_short and empty.is_last
        again = list(client.pages(empty.next_url))
        assert [len(p.items) for p in again] == [0] and again[0].next_url
        server.add_events(events_at(3, start=1000))
        more = list(client.pages(again[0].next_url))
    assert uuids(more) == [e["uuid"] for e in events_at(3, start=1000)]


def test_polling_order_is_persistence_order_not_published(server: FakeOkta, clock: FakeClock) -> None:
    late = make_event(1, published=SERVER_EPOCH - 7200)  # published before the others, persisted after
    server.add_events([make_event(0, published=SERVER_EPOCH - 3600), make_event(2, published=SERVER_EPOCH - 3500)])
    server.add_events([late])
    with make_client(server, clock) as client:
        pages = list(client.pages(start_url(server, limit=2)))
    assert uuids(pages) == [make_event(n)["uuid"] for n in (0, 2, 1)]


def test_same_event_on_two_pages_is_passed_on(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(6))
    with make_client(server, clock) as client:
        server.inject(Fault("delay", seconds=0), Fault.overlap())
        pages = list(client.pages(start_url(server, limit=3)))
    seen = Counter(uuids(pages))
    assert len(seen) == 6 and max(seen.values()) == 2, "the client hands duplicates on; the archive keeps one"


def test_filter_and_event_types_select_events(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(
        [make_event(0, event_type="system.sms.send_phone_verification_message", published=SERVER_EPOCH - 10),
         make_event(1, event_type="user.session.start", published=SERVER_EPOCH - 9),
         make_event(2, event_type="system.voice.receive_status", published=SERVER_EPOCH - 8)]
    )
    with make_client(server, clock) as client:
        assert len(uuids(list(client.pages(start_url(server))))) == 2
        narrow = start_url(server, filter=telephony_filter(["system.voice.receive_status"]))
        assert uuids(list(client.pages(narrow))) == [make_event(2)["uuid"]]
        everything = start_url(server, filter=None)
        assert len(uuids(list(client.pages(everything)))) == 3


def test_non_object_elements_still_become_items(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events([make_event(0, published=SERVER_EPOCH - 5), [1, 2], "text", None])
    with make_client(server, clock) as client:
        (page,) = list(client.pages(start_url(server, filter=None, since=okta_time(SERVER_EPOCH - 60))))
    assert [item.event for item in page.items][1:] == [[1, 2], "text", None]
    assert [item.raw for item in page.items] == [None, "[1,2]", '"text"', "null"]
    assert [item.line for item in page.items] == [1, 2, 3, 4]


def test_bounded_request_is_ordered_by_published_and_ends_without_next(
    server: FakeOkta, clock: FakeClock
) -> None:
    server.add_events([make_event(n, published=SERVER_EPOCH - 1000 + (5 - n)) for n in range(5)])
    server.add_events([make_event(9, published=SERVER_EPOCH - 5000)])  # outside the window
    url = start_url(server, since=okta_time(SERVER_EPOCH - 2000), until=okta_time(SERVER_EPOCH), limit=2)
    with make_client(server, clock) as client:
        pages = list(client.pages(url))
    assert [len(p.items) for p in pages] == [2, 2, 1]
    assert pages[-1].next_url is None and not pages[0].polling
    assert uuids(pages) == [make_event(n)["uuid"] for n in (4, 3, 2, 1, 0)]


def test_stop_event_ends_paging_after_the_current_page(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(50))
    stop = threading.Event()
    with make_client(server, clock, stop_event=stop) as client:
        pages = []
        for page in client.pages(start_url(server, limit=10)):
            pages.append(page)
            stop.set()
    assert len(pages) == 1 and len(server.log_requests()) == 1


def test_next_link_to_another_host_is_refused() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(
            200, json=[make_event(0)], headers={"Link": '<https://evil.example/api/v1/logs?after=x>; rel="next"'}
        )

    client = OktaClient("https://acme.okta.com", SSWSAuth(TOKEN), transport=httpx.MockTransport(handler))
    with pytest.raises(OktaProtocolError, match="outside the org"):
        list(client.pages(build_start_url("https://acme.okta.com", since=None, limit=1)))
    assert all(url.startswith("https://acme.okta.com/") for url in seen)
    with pytest.raises(OktaProtocolError):
        client.get("https://evil.example/api/v1/logs")


def test_raw_get_paginates(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(5))
    with make_client(server, clock) as client:
        target = start_url(server, limit=2).removeprefix(server.base_url)
        responses = list(client.iter_raw(target, paginate=True))
        single = list(client.iter_raw(target))
    assert [len(r.json()) for r in responses] == [2, 2, 1]
    assert len(single) == 1


# --------------------------------------------------------------------------------------------------- rate limits


def test_429_waits_until_reset_measured_by_the_server_date(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(3))
    waits: list[tuple[float, str]] = []
    server.inject(Fault.rate_limited(reset_in=30))
    with make_client(server, clock, on_wait=lambda s, r: waits.append((s, r))) as client:
        pages = list(client.pages(start_url(server)))
    assert len(uuids(pages)) == 3
    # Reset = server time + 30 s, Date = server time: the wait is Reset - Date + 1 s (Date's resolution).
    assert clock.sleeps == [31.0]
    assert "429" in waits[0][1] and "E0000047" in waits[0][1]
    assert [r.status for r in server.log_requests()] == [429, 200]


def test_429_wait_includes_jitter(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(1))
    server.inject(Fault.rate_limited(reset_in=10))
    with make_client(server, clock, jitter_s=2.0) as client:
        list(client.pages(start_url(server)))
    assert 11.0 <= clock.sleeps[0] <= 13.0


def test_429_without_end_gives_up_with_a_clear_error(server: FakeOkta, clock: FakeClock) -> None:
    server.inject(*[Fault.rate_limited(reset_in=5) for _ in range(5)])
    with make_client(server, clock, max_rate_limit_waits=3) as client, pytest.raises(OktaRateLimited) as caught:
        list(client.pages(start_url(server)))
    assert "E0000047" in str(caught.value) and "\n" not in str(caught.value)
    assert len(clock.sleeps) == 3


def test_pacing_keeps_a_run_under_the_share_of_the_bucket(clock: FakeClock) -> None:
    waits: list[str] = []
    with FakeOkta(events_at(40), api_token=TOKEN, rate_limit=10, now=clock.server_now) as server:
        with make_client(server, clock, max_share=0.8, on_wait=lambda s, r: waits.append(r)) as client:
            pages = list(client.pages(start_url(server, limit=1)))
        requests = server.log_requests()
    assert len(uuids(pages)) == 40
    assert all(r.status == 200 for r in requests), "pacing must avoid every 429"
    per_window = Counter(int(r.at // 60) for r in requests)
    assert max(per_window.values()) <= 8, per_window
    assert waits and all("pacing" in w for w in waits)


def test_pacing_does_not_wait_below_the_share(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(30))
    with make_client(server, clock) as client:
        list(client.pages(start_url(server, limit=1)))
    assert clock.sleeps == []


# --------------------------------------------------------------------------------------------------- faults


def test_transient_faults_are_retried_with_capped_exponential_backoff(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(3))
    server.inject(Fault.query_timeout(), Fault.unavailable(), Fault.drop(), Fault.truncate(), Fault.query_timeout())
    waits: list[str] = []
    with make_client(server, clock, backoff_cap_s=5.0, on_wait=lambda s, r: waits.append(r)) as client:
        pages = list(client.pages(start_url(server)))
    assert len(uuids(pages)) == 3
    assert clock.sleeps == [1.0, 2.0, 4.0, 5.0, 5.0]
    assert "HTTP 500 E0000009" in waits[0] and "HTTP 503" in waits[1]
    assert "RemoteProtocolError" in waits[2]


def test_backoff_jitter_stays_within_the_ceiling(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(1))
    server.inject(*[Fault.query_timeout() for _ in range(4)])
    with make_client(server, clock, jitter_s=1.0) as client:
        list(client.pages(start_url(server)))
    for attempt, slept in enumerate(clock.sleeps):
        ceiling = 2.0**attempt
        assert ceiling / 2 <= slept <= ceiling


def test_timeouts_are_retried(server: FakeOkta) -> None:
    server.add_events(events_at(2))
    server.inject(Fault.delay(1.5))
    with OktaClient(server.base_url, SSWSAuth(TOKEN), timeout=0.3, sleep=lambda s: None, jitter_s=0) as client:
        pages = list(client.pages(start_url(server)))
    assert len(uuids(pages)) == 2


def test_retry_budget_exhausted_stops_with_a_clear_message(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(3))
    server.inject(*[Fault.query_timeout() for _ in range(50)])
    with make_client(server, clock, retry_budget_s=20.0) as client, pytest.raises(OktaUnavailable) as caught:
        list(client.pages(start_url(server)))
    message = str(caught.value)
    assert "\n" not in message and "E0000009" in message and "retry budget 20 s" in message
    assert sum(clock.sleeps) <= 20.0
    assert clock.sleeps == [1.0, 2.0, 4.0, 8.0]


def test_401_stops_at_once_with_one_line_and_no_token(
    server: FakeOkta, clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    secret = "wrong-secret-token-987654321"
    caplog.set_level(logging.DEBUG)
    with make_client(server, clock, auth=SSWSAuth(secret)) as client, pytest.raises(OktaApiError) as caught:
        list(client.pages(start_url(server)))
    error = caught.value
    assert (error.status, error.error_code) == (401, "E0000011")
    assert "E0000011" in str(error) and "Invalid token provided" in str(error) and "\n" not in str(error)
    for text in (str(error), repr(error), caplog.text, repr(client)):
        assert secret not in text
    assert len(server.log_requests()) == 1, "a 401 is never retried"
    assert server.log_requests()[0].authorization == f"SSWS {secret}", "the header is sent on the wire"
    assert clock.sleeps == []


def test_401_from_fault_queue_and_403_stop(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(3))
    with make_client(server, clock) as client:
        server.inject(Fault.invalid_token())
        with pytest.raises(OktaApiError, match="E0000011"):
            list(client.pages(start_url(server)))
        server.inject(Fault.forbidden())
        with pytest.raises(OktaApiError) as caught:
            list(client.pages(start_url(server)))
    assert caught.value.status == 403 and "E0000006" in str(caught.value)


def test_400_invalid_filter_names_okta_error(server: FakeOkta, clock: FakeClock) -> None:
    with make_client(server, clock) as client, pytest.raises(OktaApiError) as caught:
        list(client.pages(start_url(server, filter='eventType eqq "x"')))
    assert caught.value.status == 400 and caught.value.error_code == "E0000053"
    assert "Unrecognized attribute operator" in str(caught.value)


def test_since_too_old_is_refused(server: FakeOkta, clock: FakeClock) -> None:
    with make_client(server, clock) as client, pytest.raises(OktaApiError, match="E0000053"):
        list(client.pages(start_url(server, since=okta_time(SERVER_EPOCH - 200 * 86400))))


def test_stop_during_a_wait_interrupts_it(server: FakeOkta, clock: FakeClock) -> None:
    stop = threading.Event()
    server.inject(Fault.rate_limited(reset_in=50))
    client = make_client(server, clock, stop_event=stop, on_wait=lambda s, r: stop.set())
    with client, pytest.raises(OktaInterrupted):
        list(client.pages(start_url(server)))


def test_real_sleep_is_interruptible(server: FakeOkta) -> None:
    stop = threading.Event()
    server.inject(Fault.rate_limited(reset_in=120))
    timer = threading.Timer(0.2, stop.set)
    timer.start()
    client = OktaClient(server.base_url, SSWSAuth(TOKEN), stop_event=stop)
    with client, pytest.raises(OktaInterrupted):
        list(client.pages(start_url(server)))
    timer.cancel()


def test_client_parameters_are_checked(server: FakeOkta) -> None:
    with pytest.raises(ValueError):
        OktaClient(server.base_url, None, max_share=0)
    with pytest.raises(InvalidOrgUrl):
        OktaClient("http://example.com", None)


def test_a_bogus_far_reset_is_capped(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(1))
    server.inject(Fault.rate_limited(reset_in=86400))
    with make_client(server, clock, max_rate_limit_wait_s=90) as client:
        list(client.pages(start_url(server)))
    assert clock.sleeps == [91.0]


def test_pages_accepts_start_parameters(server: FakeOkta, clock: FakeClock) -> None:
    server.add_events(events_at(3))
    with make_client(server, clock) as client:
        pages = list(client.pages({"since": okta_time(SERVER_EPOCH - 7200), "filter": TELEPHONY_FILTER, "limit": 2}))
    assert [len(p.items) for p in pages] == [2, 1]
