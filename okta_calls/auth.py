"""Okta credentials: where they come from, and how they reach the wire (and nowhere else).

Three kinds, first found wins (see :func:`resolve_credentials`):

1. an API token (``--token`` / ``OKTA_API_TOKEN``), sent as ``Authorization: SSWS <token>``;
2. an OAuth 2.0 service app (``--client-id`` / ``OKTA_CLIENT_ID`` and ``--private-key`` / ``OKTA_PRIVATE_KEY``,
   a PEM or JWK file): the client-credentials grant at ``{org}/oauth2/v1/token`` with a ``private_key_jwt``
   client assertion signed with PyJWT, scope ``okta.logs.read``; the access token is reused until shortly
   before it expires;
3. an ``auth.json`` written by ``okta-calls auth`` (mode 0600; a group- or world-accessible file is refused;
   reading and writing it, and loading private keys, is in :mod:`okta_calls.auth_file`).

Both auth classes are ``httpx.Auth`` flows, so the ``Authorization`` header exists only on the request being
sent. Every object that holds a secret redacts it in ``repr()``; secrets are never logged or put in messages.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import jwt

from okta_calls.auth_file import (
    AuthFileError,
    CredentialsError,
    SigningKey,  # noqa: F401 - re-exported
    _read_key_file,
    load_auth_file,
    load_private_key,
    save_auth_file,
)
from okta_calls.jsonio import JSONError, loads
from okta_calls.sources.okta_api import (
    OktaApiError,
    OktaClient,
    OktaProtocolError,
    OktaTransientError,
    validate_org_url,
)

__all__ = [
    "ASSERTION_TYPE",
    "DEFAULT_AUTH_FILE",
    "LOGS_SCOPE",
    "ApiToken",
    "AuthFileError",
    "CredentialsError",
    "OAuthServiceAuth",
    "ResolvedCredentials",
    "SSWSAuth",
    "ServiceApp",
    "client_from_options",
    "load_auth_file",
    "load_private_key",
    "make_auth",
    "resolve_credentials",
    "save_auth_file",
]

log = logging.getLogger(__name__)

DEFAULT_AUTH_FILE = "auth.json"
LOGS_SCOPE = "okta.logs.read"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
TOKEN_PATH = "/oauth2/v1/token"
REDACTED = "[REDACTED]"


# --------------------------------------------------------------------------------------------------- values


@dataclass(frozen=True, slots=True)
class ApiToken:
    """An Okta API token (sent as ``SSWS``)."""

    token: str = field(repr=False)

    def __repr__(self) -> str:
        return f"ApiToken(token={REDACTED!r})"


@dataclass(frozen=True, slots=True)
class ServiceApp:
    """An OAuth 2.0 service app: its client id and the private key (PEM or JWK text) it signs assertions with."""

    client_id: str
    private_key: str = field(repr=False)
    key_id: str | None = None
    scopes: tuple[str, ...] = (LOGS_SCOPE,)

    def __repr__(self) -> str:
        return f"ServiceApp(client_id={self.client_id!r}, private_key={REDACTED!r}, key_id={self.key_id!r})"


Credentials = ApiToken | ServiceApp


@dataclass(frozen=True, slots=True)
class ResolvedCredentials:
    """The credential chosen, where it came from (for messages), and the org URL an auth file named."""

    credentials: Credentials
    source: str
    org_url: str | None = None


# --------------------------------------------------------------------------------------------------- SSWS


def _check_header_safe(value: str, what: str) -> str:
    """Refuse empty values and anything that could break out of an HTTP header."""
    value = value.strip()
    if not value:
        raise CredentialsError(f"the {what} is empty")
    if any(ch in value for ch in "\r\n\0") or any(ch.isspace() for ch in value):
        raise CredentialsError(f"the {what} contains whitespace or control characters")
    return value


class SSWSAuth(httpx.Auth):
    """Adds ``Authorization: SSWS <token>`` to each request as it is sent."""

    def __init__(self, token: str) -> None:
        self._token = _check_header_safe(token, "API token")

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"SSWS {self._token}"
        yield request

    def secret_values(self) -> tuple[str, ...]:
        """The secrets to scrub from any text (used by the client as a last line of defence)."""
        return (self._token,)

    def __repr__(self) -> str:
        return f"SSWSAuth(token={REDACTED!r})"


# --------------------------------------------------------------------------------------------------- OAuth



@dataclass(slots=True)
class _CachedToken:
    value: str = field(repr=False)
    expires_at: float  # monotonic clock

    def __repr__(self) -> str:
        return f"_CachedToken(value={REDACTED!r}, expires_at={self.expires_at!r})"


class OAuthServiceAuth(httpx.Auth):
    """OAuth 2.0 client credentials with a ``private_key_jwt`` assertion; adds ``Authorization: Bearer``.

    The token request is made inside the auth flow, on the same connection pool and transport as the API
    calls. The access token is cached until ``refresh_margin_s`` before it expires. A 401 on a request made
    with a cached token (revoked early) fetches a new token once and retries that request.
    """

    requires_response_body = True

    def __init__(
        self,
        org_url: str,
        client_id: str,
        private_key: str | bytes,
        *,
        key_id: str | None = None,
        scopes: tuple[str, ...] = (LOGS_SCOPE,),
        assertion_lifetime_s: int = 300,
        refresh_margin_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 < assertion_lifetime_s <= 3600:
            raise ValueError("assertion_lifetime_s must be between 1 and 3600 (Okta allows at most one hour)")
        self.client_id = _check_header_safe(client_id, "client id")
        self.token_url = validate_org_url(org_url) + TOKEN_PATH
        self._key, self._algorithm, self.key_id = load_private_key(private_key, key_id)
        self.scopes = tuple(scopes)
        self.assertion_lifetime_s = assertion_lifetime_s
        self.refresh_margin_s = refresh_margin_s
        self._clock = clock
        self._wall_clock = wall_clock
        self._lock = threading.Lock()
        self._cached: _CachedToken | None = None
        self.token_requests = 0

    def __repr__(self) -> str:
        return (
            f"OAuthServiceAuth(token_url={self.token_url!r}, client_id={self.client_id!r}, "
            f"private_key={REDACTED!r}, scopes={self.scopes!r})"
        )

    def secret_values(self) -> tuple[str, ...]:
        """The secrets to scrub from any text: the current access token."""
        cached = self._cached
        return (cached.value,) if cached else ()

    # ----------------------------------------------------------------------------------------- assertion

    def client_assertion(self) -> str:
        """A fresh signed client assertion: iss = sub = client id, aud = token endpoint, short-lived, unique."""
        now = int(self._wall_clock())
        claims = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": self.token_url,
            "iat": now,
            "exp": now + self.assertion_lifetime_s,
            "jti": uuid.uuid4().hex,
        }
        headers = {"kid": self.key_id} if self.key_id else None
        return jwt.encode(claims, self._key, algorithm=self._algorithm, headers=headers)

    def token_request(self) -> httpx.Request:
        """The client-credentials token request."""
        form = {
            "grant_type": "client_credentials",
            "scope": " ".join(self.scopes),
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": self.client_assertion(),
        }
        return httpx.Request(
            "POST",
            self.token_url,
            data=form,
            headers={"Accept": "application/json", "Content-Type": "application/x-www-form-urlencoded"},
        )

    # ----------------------------------------------------------------------------------------- token cache

    def _valid_token(self) -> str | None:
        with self._lock:
            cached = self._cached
            if cached is not None and self._clock() < cached.expires_at:
                return cached.value
            return None

    def invalidate(self) -> None:
        """Forget the cached access token."""
        with self._lock:
            self._cached = None

    def _accept_token_response(self, response: httpx.Response) -> str:
        """Cache the token of a successful token response, or raise an error naming Okta's error code."""
        if response.status_code >= 500 or response.status_code == 429:
            raise OktaTransientError(None, "the OAuth token endpoint failed", response.status_code)
        try:
            body = loads(response.content) if response.content else None
        except JSONError:
            body = None
        if not isinstance(body, dict):
            body = {}
        if response.status_code != 200:
            code = body.get("error") or body.get("errorCode")
            summary = body.get("error_description") or body.get("errorSummary") or response.reason_phrase
            raise OktaApiError(
                str(code) if code else None, f"OAuth token request refused: {summary}", response.status_code
            )
        token = body.get("access_token")
        token_type = str(body.get("token_type", "Bearer"))
        if not isinstance(token, str) or not token:
            raise OktaProtocolError(None, "the OAuth token response has no access_token", response.status_code)
        if token_type.lower() != "bearer":
            raise OktaApiError(
                "use_dpop_nonce" if token_type.lower() == "dpop" else None,
                f"the OAuth token endpoint issued a {token_type} token; okta-calls needs a Bearer token",
                response.status_code,
            )
        try:
            lifetime = float(body.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        margin = min(self.refresh_margin_s, lifetime / 10)
        with self._lock:
            self._cached = _CachedToken(_check_header_safe(token, "access token"), self._clock() + lifetime - margin)
        log.info("obtained an OAuth access token (scope %s, valid %.0f s)", body.get("scope", ""), lifetime)
        return token

    # ----------------------------------------------------------------------------------------- flow

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._valid_token()
        from_cache = token is not None
        if token is None:
            self.token_requests += 1
            token = self._accept_token_response((yield self.token_request()))
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401 and from_cache:
            log.info("the cached OAuth access token was refused; requesting a new one")
            self.invalidate()
            self.token_requests += 1
            token = self._accept_token_response((yield self.token_request()))
            request.headers["Authorization"] = f"Bearer {token}"
            yield request


# --------------------------------------------------------------------------------------------------- resolve


def _credentials_from_auth_data(data: Mapping[str, str], file: Path) -> Credentials:
    """The credential an auth file holds (a token wins over a service app, as on the command line)."""
    token = data.get("okta_api_token")
    if token:
        return ApiToken(token)
    client_id = data.get("okta_client_id")
    key_text = data.get("okta_private_key")
    key_path = data.get("okta_private_key_path")
    if client_id and (key_text or key_path):
        if not key_text:
            key_text = _read_key_file(Path(key_path).expanduser() if key_path else file)
        return ServiceApp(client_id, key_text, data.get("okta_key_id") or None)
    raise AuthFileError(f"the auth file {file} holds no okta_api_token nor okta_client_id with a private key")


def resolve_credentials(
    *,
    token: str | None = None,
    client_id: str | None = None,
    private_key_path: str | os.PathLike[str] | None = None,
    key_id: str | None = None,
    auth_path: str | os.PathLike[str] | None = DEFAULT_AUTH_FILE,
    auth_path_explicit: bool = False,
) -> ResolvedCredentials:
    """Pick the credential to use, first found wins: token, service app, auth file.

    ``auth_path`` is only read when nothing else was given; a missing default ``auth.json`` is not an error
    unless ``auth_path_explicit``.
    """
    if token:
        return ResolvedCredentials(ApiToken(_check_header_safe(token, "API token")), "API token")
    if client_id or private_key_path:
        if not (client_id and private_key_path):
            raise CredentialsError("an OAuth service app needs both --client-id and --private-key")
        key_text = _read_key_file(Path(private_key_path).expanduser())
        return ResolvedCredentials(ServiceApp(client_id, key_text, key_id), "OAuth service app")
    if auth_path is not None:
        file = Path(auth_path).expanduser()
        if file.exists() or auth_path_explicit:
            data = load_auth_file(file)
            org = data.get("okta_org_url") or None
            return ResolvedCredentials(_credentials_from_auth_data(data, file), f"auth file {file}", org)
    raise CredentialsError(
        "no Okta credentials: pass --token (or OKTA_API_TOKEN), --client-id and --private-key "
        "(or OKTA_CLIENT_ID and OKTA_PRIVATE_KEY), or run: okta-calls auth"
    )


def make_auth(credentials: Credentials, org_url: str, **oauth_options: Any) -> httpx.Auth:
    """The ``httpx.Auth`` for a credential."""
    if isinstance(credentials, ApiToken):
        return SSWSAuth(credentials.token)
    return OAuthServiceAuth(
        org_url,
        credentials.client_id,
        credentials.private_key,
        key_id=credentials.key_id,
        scopes=credentials.scopes,
        **oauth_options,
    )


def client_from_options(
    *,
    org: str | None,
    token: str | None = None,
    client_id: str | None = None,
    private_key: str | os.PathLike[str] | None = None,
    key_id: str | None = None,
    auth_path: str | os.PathLike[str] | None = DEFAULT_AUTH_FILE,
    auth_path_explicit: bool = False,
    **client_options: Any,
) -> tuple[OktaClient, ResolvedCredentials]:
    """An ``OktaClient`` from command-line style options (what ``ingest`` and ``get`` take).

    The org comes from ``org`` (``--org`` / ``OKTA_ORG_URL``), else from the auth file the credential came
    from. Raises ``CredentialsError`` or ``InvalidOrgUrl`` (both ``ValueError``) with a one-line message.
    """
    resolved = resolve_credentials(
        token=token,
        client_id=client_id,
        private_key_path=private_key,
        key_id=key_id,
        auth_path=auth_path,
        auth_path_explicit=auth_path_explicit,
    )
    org_url = org or resolved.org_url
    if not org_url:
        raise CredentialsError("no Okta org URL: pass --org or set OKTA_ORG_URL")
    org_url = validate_org_url(org_url)
    log.info("using the %s for %s", resolved.source, org_url)
    return OktaClient(org_url, make_auth(resolved.credentials, org_url), **client_options), resolved
