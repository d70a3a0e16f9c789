"""A real browser on a real ``okta-calls serve``: Playwright drives Debian's headless Chromium through the events
page, a facet, a canned query, the map and the dashboard, and saves a screenshot of each in tests/screenshots/.

Skips, saying why, where /usr/bin/chromium or the playwright package is missing (``.ci/run`` installs Chromium;
``pip install -e '.[test]'`` installs playwright; ``playwright install`` is not needed).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.test_datasette import IP_M, build_known_archive

CHROMIUM = Path("/usr/bin/chromium")
SCREENSHOTS = Path(__file__).parent / "screenshots"
DB_NAME = "calls-2026"

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _playwright() -> Any:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium; .ci/run does it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("the playwright package is not installed (pip install -e '.[test]')")
    return sync_playwright


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _serve_command(db: Path, port: int) -> list[str]:
    """``okta-calls serve`` when the CLI has it, else the serve module's own entry point."""
    from okta_calls.cli import cli

    if "serve" in getattr(cli, "commands", {}):
        return [sys.executable, "-m", "okta_calls.cli", "serve", str(db), "--port", str(port)]
    return [sys.executable, "-m", "okta_calls.serve", str(db), "--port", str(port)]


def _wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"okta-calls serve exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise AssertionError(f"okta-calls serve did not answer {url} within {timeout:.0f} s")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    _playwright()
    db = build_known_archive(tmp_path_factory.mktemp("browser") / f"{DB_NAME}.db")
    port = _free_port()
    log = (tmp_path_factory.getbasetemp() / "serve.log").open("wb")
    process = subprocess.Popen(
        _serve_command(db, port), stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path_factory.getbasetemp(),
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(f"{base}/-/versions.json", process)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def page(server: str) -> Iterator[Any]:
    sync_playwright = _playwright()
    if SCREENSHOTS.exists():
        shutil.rmtree(SCREENSHOTS)
    SCREENSHOTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-background-networking", "--disable-gpu"],
        )
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.errors = errors  # type: ignore[attr-defined]
        yield page
        browser.close()


def _shot(page: Any, name: str, *, full_page: bool = False) -> Path:
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    assert path.stat().st_size > 10_000, f"{path} looks empty"
    return path


def test_events_page(page: Any, server: str) -> None:
    page.goto(f"{server}/{DB_NAME}/events")
    page.wait_for_selector("table.rows-and-columns")
    assert "44 rows" in page.inner_text("body")
    first = page.inner_text("table.rows-and-columns tbody tr:first-child")
    assert "2026-03-05T08:09:00.000Z" in first  # newest first
    assert page.locator(".facet-info").count() == 6
    _shot(page, "1-events", full_page=True)


def test_facet(page: Any, server: str) -> None:
    page.goto(f"{server}/{DB_NAME}/events")
    page.click('.facet-info[data-column="outcome_result"] a:has-text("DENY")')
    page.wait_for_url("**outcome_result=DENY**")
    page.wait_for_selector("table.rows-and-columns")
    assert '6 rows where outcome_result = "DENY"' in page.inner_text("body")
    _shot(page, "2-facet-deny")


def test_canned_query(page: Any, server: str) -> None:
    page.goto(f"{server}/{DB_NAME}/toll_fraud_suspects?_hide_sql=1")
    page.wait_for_selector("table.rows-and-columns")
    body = page.inner_text("body")
    assert "Toll-fraud suspects" in body and IP_M in body
    _shot(page, "3-toll-fraud-suspects")


def test_map(page: Any, server: str) -> None:
    page.goto(f"{server}/{DB_NAME}/call_origins?_hide_sql=1")
    page.wait_for_selector(".leaflet-container", timeout=20_000)
    page.wait_for_selector(".marker-cluster, .leaflet-marker-icon", timeout=20_000)
    page.locator(".leaflet-container").scroll_into_view_if_needed()
    assert "North Bergen" in page.inner_text("body")
    _shot(page, "4-map-call-origins")


def test_dashboard(page: Any, server: str) -> None:
    page.goto(f"{server}/-/dashboards/okta-calls")
    for chart in ("per-day", "outcomes", "countries", "suspects"):
        page.wait_for_selector(f"#chart-{chart} canvas, #chart-{chart} svg", timeout=20_000)
    page.wait_for_timeout(500)
    assert not page.errors, page.errors  # type: ignore[attr-defined]
    path = SCREENSHOTS / "5-dashboard.png"
    page.screenshot(path=str(path), full_page=True)
    assert path.stat().st_size > 10_000
