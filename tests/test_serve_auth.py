"""`okta-calls serve` with a password: anonymous visitors see nothing; signed-in users see data and run SQL."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from okta_calls.archive import Archive
from okta_calls.model import Incoming
from okta_calls.serve import ServeError, ServeOptions, prepare

from .conftest import load_fixture

pytest.importorskip("datasette_auth_passwords", reason="datasette-auth-passwords is a test extra: make test installs it")
from datasette_auth_passwords.utils import hash_password  # noqa: E402

PASSWORD = "correct horse battery staple"


@pytest.fixture()
def served(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    path = tmp_path / "calls.db"
    with Archive(path) as archive:
        run = archive.start_run("file", ["fixtures"])
        events = [load_fixture(name) for name in ("classic_voice_call.json", "ie_sms.json")]
        archive.append([Incoming(e, None, "fixtures", i) for i, e in enumerate(events, 1)], run_id=run, kind="file")
    hashed = hash_password(PASSWORD)
    monkeypatch.setenv("OKTA_CALLS_PASSWORD_HASH", hashed)  # the plugin reads it at request time ($env)
    datasette = prepare(ServeOptions(str(path), host="0.0.0.0"), environ={"OKTA_CALLS_PASSWORD_HASH": hashed})
    return datasette


PAGES = ("/", "/calls", "/calls/events.json", "/calls/raw_events", "/calls.json?sql=select+count(*)+from+events",
         "/calls/toll_fraud_suspects.json")


def test_anonymous_visitors_see_nothing(served: Any) -> None:
    async def visit() -> list[int]:
        return [(await served.client.get(page)).status_code for page in PAGES]

    assert asyncio.run(visit()) == [403] * len(PAGES)


def test_signed_in_users_see_everything_and_run_sql(served: Any) -> None:
    async def visit() -> tuple[list[int], Any]:
        login = await served.client.get("/-/login")
        token = re.search(r'name="csrftoken" value="([^"]+)"', login.text).group(1)
        cookies = {"ds_csrftoken": login.cookies["ds_csrftoken"]}
        wrong = await served.client.post("/-/login", data={"username": "admin", "password": "nope", "csrftoken": token},
                                         cookies=cookies)
        assert "ds_actor" not in wrong.cookies
        right = await served.client.post("/-/login", data={"username": "admin", "password": PASSWORD,
                                                            "csrftoken": token}, cookies=cookies)
        signed_in = {"ds_actor": right.cookies["ds_actor"]}
        statuses = [(await served.client.get(page, cookies=signed_in)).status_code for page in PAGES]
        sql = await served.client.get("/calls.json?sql=select+count(*)+as+n+from+events&_shape=array", cookies=signed_in)
        return statuses, sql.json()

    statuses, rows = asyncio.run(visit())
    assert statuses == [200] * len(PAGES)
    assert rows == [{"n": 2}]


def test_public_host_without_password_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "calls.db"
    Archive(path).close()
    with pytest.raises(ServeError, match="refusing"):
        prepare(ServeOptions(str(path), host="0.0.0.0"), environ={})
