"""The errors the Okta System Log client raises, and the parsing of Okta's error bodies into them.

Every error's ``str()`` is one line without credentials: Okta's ``errorCode`` and ``errorSummary`` (or OAuth's
``error``/``error_description``), the HTTP status, and for a refused request a hint at the usual fix.
"""

from __future__ import annotations

import httpx

from okta_calls.jsonio import JSONError, loads

__all__ = [
    "InvalidOrgUrl",
    "OktaApiError",
    "OktaError",
    "OktaInterrupted",
    "OktaProtocolError",
    "OktaRateLimited",
    "OktaTransientError",
    "OktaUnavailable",
]


def _one_line(text: str) -> str:
    """Collapse whitespace so a message is one line."""
    return " ".join(str(text).split())


class OktaError(Exception):
    """Base class of every error this client raises; ``str()`` is one line without credentials."""

    def __init__(self, error_code: str | None, summary: str, status: int | None = None) -> None:
        self.error_code = error_code
        self.summary = _one_line(summary)
        self.status = status
        super().__init__(self.summary)

    def _head(self) -> str:
        parts = []
        if self.status is not None:
            parts.append(f"HTTP {self.status}")
        if self.error_code:
            parts.append(self.error_code)
        return " ".join(parts)

    def __str__(self) -> str:
        head = self._head()
        return f"{head}: {self.summary}" if head else self.summary

    @property
    def brief(self) -> str:
        """A short label for progress lines: ``HTTP 500 E0000009``, or the start of the summary."""
        return self._head() or (self.summary if len(self.summary) <= 80 else self.summary[:77] + "...")

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(error_code={self.error_code!r}, summary={self.summary!r}, "
            f"status={self.status!r})"
        )


_HINTS = {
    "E0000011": "check the API token or the OAuth app's credentials",
    "E0000006": "the credential may not read the System Log (needs an admin role or the okta.logs.read scope)",
    "E0000005": "the credential may not read the System Log (needs an admin role or the okta.logs.read scope)",
    "E0000015": "this org's plan or the credential does not allow the System Log API",
    "invalid_client": "the OAuth app's client id or private key does not match what Okta has registered",
    "invalid_scope": "grant the okta.logs.read scope to the OAuth service app",
    "invalid_dpop_proof": "the OAuth app requires DPoP: turn off 'Require DPoP header in token requests'",
    "use_dpop_nonce": "the OAuth app requires DPoP: turn off 'Require DPoP header in token requests'",
}


class OktaApiError(OktaError):
    """Okta refused the request (400, 401, 403, 404, ...): retrying the same request cannot help."""

    def __str__(self) -> str:
        text = f"Okta refused the request: {super().__str__()}"
        hint = _HINTS.get(self.error_code or "")
        return f"{text} ({hint})" if hint else text


class OktaTransientError(OktaError):
    """A fault worth retrying (5xx, timeout, dropped connection); the client retries it within its budget."""


class OktaUnavailable(OktaError):
    """Retries did not get an answer within the retry budget; nothing after the last good page was lost."""

    def __str__(self) -> str:
        return f"Okta API unavailable, gave up: {super().__str__()}"


class OktaRateLimited(OktaUnavailable):
    """Okta kept answering 429 after as many waits for the bucket's reset as the client allows."""


class OktaProtocolError(OktaError):
    """Okta answered something this client cannot use (a non-array body, a link to another host)."""


class OktaInterrupted(OktaError):
    """A stop was requested while the client was waiting (rate limit or backoff); no page was lost."""


class InvalidOrgUrl(ValueError):
    """The org URL is not ``https://host`` (or ``http://`` to a loopback address)."""


def _error_details(response: httpx.Response) -> tuple[str | None, str]:
    """Okta's ``errorCode`` and ``errorSummary`` (or OAuth's ``error``/``error_description``) of a response."""
    try:
        body = loads(response.content) if response.content else None
    except JSONError:
        body = None
    if isinstance(body, dict):
        code = body.get("errorCode") or body.get("error")
        summary = body.get("errorSummary") or body.get("error_description") or ""
        causes = body.get("errorCauses")
        if isinstance(causes, list):
            extra = [str(c["errorSummary"]) for c in causes if isinstance(c, dict) and c.get("errorSummary")]
            extra = [x for x in extra if x not in str(summary)]
            if extra:
                summary = f"{summary} ({'; '.join(extra)})"
        if code or summary:
            return (str(code) if code else None), _one_line(str(summary)) or response.reason_phrase
    return None, response.reason_phrase or "error"
