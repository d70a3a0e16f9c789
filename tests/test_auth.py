"""Credentials: SSWS and OAuth service apps over real HTTP, auth.json safety, and secrets kept out of sight."""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from okta_calls.auth import (
    ASSERTION_TYPE,
    ApiToken,
    AuthFileError,
    CredentialsError,
    OAuthServiceAuth,
    ServiceApp,
    SSWSAuth,
    load_auth_file,
    load_private_key,
    make_auth,
    resolve_credentials,
    save_auth_file,
)
from okta_calls.sources.okta_api import OktaApiError, OktaClient, build_start_url
from tests.fake_okta import FakeOkta, Fault, make_event, okta_time

CLIENT_ID = "0oa1234567890abcdef"
TOKEN = "test-api-token-0123456789"


def pem(key: Any) -> str:
    data: bytes = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return data.decode()


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def other_rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Clock:
    """A monotonic clock moved by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def oauth_server(rsa_key: rsa.RSAPrivateKey) -> Iterator[FakeOkta]:
    events = [make_event(n) for n in range(25)]
    with FakeOkta(events, api_token=None, client_id=CLIENT_ID, public_key=rsa_key.public_key()) as server:
        yield server


def start(server: FakeOkta, limit: int = 10) -> str:
    return build_start_url(server.base_url, since=okta_time(server.now() - 86400), limit=limit)


def oauth_client(server: FakeOkta, key: Any, **options: Any) -> tuple[OktaClient, OAuthServiceAuth]:
    auth = OAuthServiceAuth(server.base_url, CLIENT_ID, pem(key), **options)
    return OktaClient(server.base_url, auth, sleep=lambda s: None, jitter_s=0), auth


# --------------------------------------------------------------------------------------------------- OAuth


def test_oauth_happy_path_one_token_for_many_pages(oauth_server: FakeOkta, rsa_key: Any) -> None:
    client, auth = oauth_client(oauth_server, rsa_key)
    with client:
        pages = list(client.pages(start(oauth_server)))
    assert sum(len(p.items) for p in pages) == 25 and len(pages) == 3
    (token_request,) = oauth_server.token_requests()
    form = {k: v[0] for k, v in (token_request.form or {}).items()}
    assert form["grant_type"] == "client_credentials"
    assert form["scope"] == "okta.logs.read"
    assert form["client_assertion_type"] == ASSERTION_TYPE
    claims = jwt.decode(
        form["client_assertion"], rsa_key.public_key(), algorithms=["RS256"], audience=oauth_server.token_url
    )
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert 0 < claims["exp"] - claims["iat"] <= 3600 and claims["jti"]
    assert jwt.get_unverified_header(form["client_assertion"])["alg"] == "RS256"
    issued = set(oauth_server.issued_tokens)
    for request in oauth_server.log_requests():
        scheme, _, value = (request.authorization or "").partition(" ")
        assert scheme == "Bearer" and value in issued
    assert auth.token_requests == 1


def test_oauth_token_is_renewed_shortly_before_it_expires(oauth_server: FakeOkta, rsa_key: Any) -> None:
    clock = Clock()
    client, auth = oauth_client(oauth_server, rsa_key, clock=clock)
    url = start(oauth_server, limit=1000)
    with client:
        list(client.pages(url))
        clock.t += 3600 - 61  # still valid: renewal starts 60 s before expiry
        list(client.pages(url))
        assert auth.token_requests == 1
        clock.t += 2
        list(client.pages(url))
    assert auth.token_requests == 2 and len(oauth_server.token_requests()) == 2
    jtis = {jwt.decode(r.form["client_assertion"][0], options={"verify_signature": False})["jti"]
            for r in oauth_server.token_requests() if r.form}
    assert len(jtis) == 2, "every assertion has a fresh jti"


def test_revoked_token_is_replaced_once(oauth_server: FakeOkta, rsa_key: Any) -> None:
    client, auth = oauth_client(oauth_server, rsa_key)
    url = start(oauth_server, limit=1000)
    with client:
        list(client.pages(url))
        oauth_server.revoke_tokens()
        pages = list(client.pages(url))
    assert sum(len(p.items) for p in pages) == 25
    assert auth.token_requests == 2
    assert [r.status for r in oauth_server.log_requests()] == [200, 401, 200]


def test_oauth_wrong_key_is_rejected_clearly(
    oauth_server: FakeOkta, other_rsa_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client, auth = oauth_client(oauth_server, other_rsa_key)
    with client, pytest.raises(OktaApiError) as caught:
        list(client.pages(start(oauth_server)))
    error = caught.value
    assert (error.status, error.error_code) == (401, "invalid_client")
    assert "signature is invalid" in str(error) and "\n" not in str(error)
    assert oauth_server.log_requests() == [], "no API call without a token"
    assert len(oauth_server.token_requests()) == 1, "a refused client assertion is not retried"
    key_text = pem(other_rsa_key)
    body = key_text.splitlines()[1]
    for text in (str(error), repr(error), repr(auth), repr(client), caplog.text):
        assert body not in text and "PRIVATE KEY" not in text


def test_fake_okta_checks_the_assertion_audience_and_replay(oauth_server: FakeOkta, rsa_key: Any) -> None:
    import time
    import uuid

    def post(claims: dict[str, Any]) -> httpx.Response:
        assertion = jwt.encode(claims, rsa_key, algorithm="RS256")
        return httpx.post(oauth_server.token_url, data={
            "grant_type": "client_credentials", "scope": "okta.logs.read",
            "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion})

    now = int(time.time())
    good = {"iss": CLIENT_ID, "sub": CLIENT_ID, "aud": oauth_server.token_url, "iat": now, "exp": now + 300,
            "jti": uuid.uuid4().hex}
    wrong_aud = dict(good, aud="https://elsewhere.example/oauth2/v1/token", jti=uuid.uuid4().hex)
    too_long = dict(good, exp=now + 7200, jti=uuid.uuid4().hex)
    response = post(wrong_aud)
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"
    assert post(too_long).status_code == 401
    assert post(good).status_code == 200
    assert post(good).status_code == 401, "a jti is accepted once"


def test_oauth_scope_refused(rsa_key: Any) -> None:
    with FakeOkta(api_token=None, client_id=CLIENT_ID, public_key=rsa_key.public_key(),
                  allowed_scopes=("okta.users.read",)) as server:
        client, _ = oauth_client(server, rsa_key)
        with client, pytest.raises(OktaApiError) as caught:
            list(client.pages(start(server)))
    assert caught.value.error_code == "invalid_scope" and "okta.logs.read" in str(caught.value)


def test_token_endpoint_outage_is_retried(oauth_server: FakeOkta, rsa_key: Any) -> None:
    oauth_server.inject(Fault("status", status=503, error_code="temporarily_unavailable", path="/oauth2/v1/token"))
    client, auth = oauth_client(oauth_server, rsa_key)
    with client:
        pages = list(client.pages(start(oauth_server, limit=1000)))
    assert sum(len(p.items) for p in pages) == 25 and auth.token_requests == 2


def test_ec_key_signs_es256(rsa_key: Any) -> None:
    ec_key = ec.generate_private_key(ec.SECP256R1())
    with FakeOkta([make_event(0)], api_token=None, client_id=CLIENT_ID, public_key=ec_key.public_key()) as server:
        client, _ = oauth_client(server, ec_key)
        with client:
            assert sum(len(p.items) for p in client.pages(start(server))) == 1
        assertion = server.token_requests()[0].form["client_assertion"][0]  # type: ignore[index]
    assert jwt.get_unverified_header(assertion)["alg"] == "ES256"


def test_private_key_formats(rsa_key: Any) -> None:
    key, algorithm, kid = load_private_key(pem(rsa_key))
    assert isinstance(key, rsa.RSAPrivateKey) and algorithm == "RS256" and kid is None
    jwk = jwt.algorithms.RSAAlgorithm.to_jwk(rsa_key, as_dict=True)
    jwk["kid"] = "key-1"
    import json

    _, algorithm, kid = load_private_key(json.dumps(jwk))
    assert (algorithm, kid) == ("RS256", "key-1")
    encrypted = rsa_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"passphrase"),
    )
    with pytest.raises(CredentialsError, match="unencrypted PEM"):
        load_private_key(encrypted)
    with pytest.raises(CredentialsError) as caught:
        load_private_key("-----BEGIN PRIVATE KEY-----\nnot-a-key-secret-material\n-----END PRIVATE KEY-----")
    assert "not-a-key-secret-material" not in str(caught.value)
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(CredentialsError, match="2048"):
        load_private_key(pem(small))
    public_pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(CredentialsError):
        load_private_key(public_pem)


def test_key_id_goes_in_the_assertion_header(rsa_key: Any) -> None:
    auth = OAuthServiceAuth("https://acme.okta.com", CLIENT_ID, pem(rsa_key), key_id="kid-7")
    header = jwt.get_unverified_header(auth.client_assertion())
    assert header["kid"] == "kid-7" and header["alg"] == "RS256"
    with pytest.raises(ValueError):
        OAuthServiceAuth("https://acme.okta.com", CLIENT_ID, pem(rsa_key), assertion_lifetime_s=7200)


# --------------------------------------------------------------------------------------------------- SSWS


def test_ssws_header_only_on_the_wire() -> None:
    events = [make_event(0)]
    with FakeOkta(events, api_token=TOKEN) as server:
        auth = SSWSAuth(TOKEN)
        with OktaClient(server.base_url, auth) as client:
            list(client.pages(start(server)))
        (request,) = server.log_requests()
    assert request.authorization == f"SSWS {TOKEN}"
    assert TOKEN not in repr(auth) and TOKEN not in repr(client)


@pytest.mark.parametrize("bad", ["", "   ", "abc\r\nX-Evil: 1", "two words"])
def test_ssws_refuses_unsafe_tokens(bad: str) -> None:
    with pytest.raises(CredentialsError) as caught:
        SSWSAuth(bad)
    assert "X-Evil" not in str(caught.value)


# --------------------------------------------------------------------------------------------------- auth.json


def test_auth_file_is_written_0600_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "auth.json"
    save_auth_file(path, {"okta_org_url": "https://acme.okta.com", "okta_api_token": TOKEN})
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_auth_file(path) == {"okta_org_url": "https://acme.okta.com", "okta_api_token": TOKEN}
    save_auth_file(path, {"okta_client_id": CLIENT_ID})
    assert load_auth_file(path)["okta_api_token"] == TOKEN, "saving merges into the existing file"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert not list(tmp_path.glob(".*.tmp"))


@pytest.mark.skipif(os.name != "posix", reason="POSIX modes")
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o666])
def test_group_or_world_accessible_auth_file_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "auth.json"
    save_auth_file(path, {"okta_api_token": TOKEN})
    path.chmod(mode)
    with pytest.raises(AuthFileError) as caught:
        load_auth_file(path)
    message = str(caught.value)
    assert f"{mode:04o}" in message and "chmod 600" in message and TOKEN not in message
    with pytest.raises(AuthFileError):
        resolve_credentials(auth_path=path)


def test_auth_file_errors_are_clear(tmp_path: Path) -> None:
    with pytest.raises(AuthFileError, match="okta-calls auth"):
        load_auth_file(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("[1]")
    bad.chmod(0o600)
    with pytest.raises(AuthFileError, match="JSON object"):
        load_auth_file(bad)


def test_resolution_order(tmp_path: Path, rsa_key: Any) -> None:
    key_path = tmp_path / "key.pem"
    key_path.write_text(pem(rsa_key))
    key_path.chmod(0o600)
    auth_path = tmp_path / "auth.json"
    save_auth_file(auth_path, {"okta_org_url": "https://acme.okta.com", "okta_api_token": "file-token-1234"})

    first = resolve_credentials(token=TOKEN, client_id=CLIENT_ID, private_key_path=key_path, auth_path=auth_path)
    assert first.credentials == ApiToken(TOKEN) and first.org_url is None
    second = resolve_credentials(client_id=CLIENT_ID, private_key_path=key_path, auth_path=auth_path)
    assert isinstance(second.credentials, ServiceApp) and second.credentials.client_id == CLIENT_ID
    third = resolve_credentials(auth_path=auth_path)
    assert third.credentials == ApiToken("file-token-1234") and third.org_url == "https://acme.okta.com"
    with pytest.raises(CredentialsError, match="both --client-id and --private-key"):
        resolve_credentials(client_id=CLIENT_ID, auth_path=auth_path)
    with pytest.raises(CredentialsError, match="no Okta credentials"):
        resolve_credentials(auth_path=tmp_path / "absent.json")
    with pytest.raises(AuthFileError):
        resolve_credentials(auth_path=tmp_path / "absent.json", auth_path_explicit=True)

    save_auth_file(tmp_path / "oauth.json", {"okta_client_id": CLIENT_ID, "okta_private_key_path": str(key_path)})
    from_file = resolve_credentials(auth_path=tmp_path / "oauth.json")
    assert isinstance(from_file.credentials, ServiceApp)
    assert isinstance(make_auth(from_file.credentials, "https://acme.okta.com"), OAuthServiceAuth)
    assert isinstance(make_auth(first.credentials, "https://acme.okta.com"), SSWSAuth)


def test_secrets_never_in_repr_str_or_logs(
    tmp_path: Path, rsa_key: Any, oauth_server: FakeOkta, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key_text = pem(rsa_key)
    key_line = key_text.splitlines()[2]
    app = ServiceApp(CLIENT_ID, key_text)
    token = ApiToken(TOKEN)
    key_path = tmp_path / "key.pem"
    key_path.write_text(key_text)
    key_path.chmod(0o600)
    resolved = resolve_credentials(client_id=CLIENT_ID, private_key_path=key_path)
    client, auth = oauth_client(oauth_server, rsa_key)
    with client:
        list(client.pages(start(oauth_server)))
    access_tokens = list(oauth_server.issued_tokens)
    logging.getLogger("test").info("objects: %r %r %r %r %r %s", app, token, resolved, auth, client, app)
    texts = [repr(app), str(app), repr(token), str(token), repr(resolved), repr(auth), repr(client),
             repr(auth._cached), caplog.text]
    for text in texts:
        assert key_line not in text
        assert TOKEN not in text
        for access_token in access_tokens:
            assert access_token not in text
    for record in caplog.records:
        message = record.getMessage()
        assert key_line not in message and all(t not in message for t in access_tokens)


def test_group_readable_key_file_is_warned_about(
    tmp_path: Path, rsa_key: Any, caplog: pytest.LogCaptureFixture
) -> None:
    key_path = tmp_path / "key.pem"
    key_path.write_text(pem(rsa_key))
    key_path.chmod(0o644)
    resolve_credentials(client_id=CLIENT_ID, private_key_path=key_path)
    assert "chmod 600" in caplog.text
