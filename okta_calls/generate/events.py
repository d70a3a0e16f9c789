"""LogEvent builders: telephony sends, their ``receive_status`` and ``rate_limit.violation`` events.

``_Factory`` builds the dicts in the key order of Okta's API responses, drawing every random id from its
own RNG so that output is reproducible; the helpers at the end draw the provider status and the delays.
"""

from __future__ import annotations

import binascii
import bisect
import random
from dataclasses import dataclass
from typing import Any

from ..phones import calling_code
from .clock import _HOUR_MS, _iso
from .population import _Net, _User

#: debugData key holding the telephony provider, for SMS and voice alike (see the package docstring).
PROVIDER_KEY = "smsProvider"

#: Sends, by channel. Each one that reaches the provider is followed by one receive_status of its channel.
SEND_TYPES: dict[str, tuple[str, ...]] = {
    "sms": (
        "system.sms.send_phone_verification_message",
        "system.sms.send_factor_verify_message",
        "system.sms.send_password_reset_message",
        "system.sms.send_account_unlock_message",
        "system.sms.send_okta_push_verify_message",
    ),
    "voice": (
        "system.voice.send_phone_verification_call",
        "system.voice.send_mfa_challenge_call",
        "system.voice.send_password_reset_call",
        "system.voice.send_account_unlock_call",
        "system.voice.send_call",
    ),
}
RECEIVE_STATUS_TYPES: dict[str, str] = {
    "sms": "system.sms.receive_status",
    "voice": "system.voice.receive_status",
}
RATE_LIMIT_TYPE = "system.operation.rate_limit.violation"

SYSTEM_PRINCIPAL_ID = "spr1k0b2qQ8xTzR4H1d7"

_UUID_EPOCH_OFFSET = 0x01B21DD213814000  # 100-ns intervals between 1582-10-15 and 1970-01-01
_UUID_TAILS = 4096
_OKTA_DASHBOARD_CLIENT = "okta.2b1959c8-bcc0-56eb-a589-cfcfb7422f26"

# Event type -> (displayMessage, legacyEventType, Classic requestUri, Identity Engine requestUri).
_KINDS: dict[str, tuple[str, str | None, str, str]] = {
    "system.sms.send_phone_verification_message": (
        "Send phone verification SMS message", "core.user.sms.message_sent.verify",
        "/api/v1/authn/factors", "/idp/idx/credential/enroll"),
    "system.voice.send_phone_verification_call": (
        "Send phone verification call", "core.user.call_to_send_otp.message_sent.verify",
        "/api/v1/authn/factors", "/idp/idx/credential/enroll"),
    "system.sms.send_factor_verify_message": (
        "Send factor verify SMS message", "core.user.sms.message_sent.factor",
        "/api/v1/authn/factors/{factor}/verify", "/idp/idx/challenge"),
    "system.voice.send_mfa_challenge_call": (
        "Send MFA challenge call", None, "/api/v1/authn/factors/{factor}/verify", "/idp/idx/challenge"),
    "system.sms.send_password_reset_message": (
        "Send password reset SMS message", "core.user.sms.message_sent.forgotpw",
        "/api/v1/authn/recovery/password", "/idp/idx/recover"),
    "system.voice.send_password_reset_call": (
        "Send password reset call", None, "/api/v1/authn/recovery/password", "/idp/idx/recover"),
    "system.sms.send_account_unlock_message": (
        "Send account unlock SMS message", None, "/api/v1/authn/recovery/unlock", "/idp/idx/unlock-account"),
    "system.voice.send_account_unlock_call": (
        "Send account unlock call", None, "/api/v1/authn/recovery/unlock", "/idp/idx/unlock-account"),
    "system.sms.send_okta_push_verify_message": (
        "Send Okta push verify SMS message", None,
        "/api/v1/users/{user}/factors/{factor}/lifecycle/activate", "/idp/idx/credential/enroll"),
    "system.voice.send_call": (
        "Send voice call", None, "/api/v1/authn/factors/{factor}/verify", "/idp/idx/challenge/resend"),
}
_STATUS_DISPLAY = {"sms": "Receive SMS status", "voice": "Receive voice call status"}
_PROVIDERS = ("TWILIO", "TELESIGN")
# Provider statuses: channel -> (values, cumulative weights) for ordinary traffic.
_STATUSES: dict[str, tuple[tuple[str, ...], tuple[float, ...]]] = {
    "sms": (("delivered", "sent", "undelivered", "failed"), (93.0, 96.0, 98.5, 100.0)),
    "voice": (("completed", "no-answer", "busy", "failed"), (88.0, 94.0, 97.0, 100.0)),
}
_FAILED_STATUS = {"sms": ("failed", "undelivered"), "voice": ("failed", "busy")}
# Seconds from a send to its status: (minimum, random extra).
_STATUS_DELAY = {"delivered": (2, 10), "sent": (1, 4), "undelivered": (3, 25), "failed": (1, 5),
                 "completed": (18, 30), "no-answer": (30, 30), "busy": (4, 8)}
# Reasons of a DENY: (Okta's toll-fraud blocker, a blocked country), per channel.
_DENY_REASONS = {
    "sms": ("SMS message blocked by Okta: suspected toll fraud", "SMS to this country is not allowed"),
    "voice": ("Voice call blocked by Okta: suspected toll fraud", "Voice calls to this country are not allowed"),
}
_FAILURE_REASONS = ("Unable to deliver the message to the phone number", "Telephony provider error",
                    "Invalid phone number")
_RISKS = ("{level=LOW}", "{level=LOW}", "{level=LOW}", "{reasons=Anomalous Device, level=MEDIUM}",
          "{reasons=Anomalous Location, Anomalous Device, level=HIGH}")
_BEHAVIORS_NONE = ("{New Geo-Location=NEGATIVE, New Device=NEGATIVE, New IP=NEGATIVE, New State=NEGATIVE, "
                   "New Country=NEGATIVE, Velocity=NEGATIVE, New City=NEGATIVE}")
_BEHAVIORS_NEW = ("{New Geo-Location=POSITIVE, New Device=POSITIVE, New IP=POSITIVE, New State=POSITIVE, "
                  "New Country=POSITIVE, Velocity=POSITIVE, New City=POSITIVE}")

_B64_ALPHABET = bytes.maketrans(b"+/", b"@-")


def _b64(data: bytes) -> str:
    return binascii.b2a_base64(data, newline=False).translate(_B64_ALPHABET).decode("ascii")


_Item = tuple[int, int, dict[str, Any]]  # (persistence time ms, sequence, event)


@dataclass(slots=True)
class _Send:
    """What a send decided, kept to build its receive_status."""

    channel: str
    user: _User
    phone: str
    cc: str
    ie: bool
    actor: dict[str, Any] | None
    net: _Net | None
    agent: tuple[str, str, str, str] | None
    client_id: str | None
    session: str
    provider: str


class _Factory:
    """Builds LogEvent dicts from one RNG; every random id comes from it, so output is reproducible."""

    def __init__(self, rng: random.Random, *, quirks: bool = True) -> None:
        self.rng = rng
        self.null_ip_rate = 0.002 if quirks else 0.0  # share of events with "ipAddress": "null"
        # Version-1 uuid tails ("-<variant+clock seq>-<node>"): one per simulated Okta app server, used
        # round-robin, so two events share a tail only 4096 events apart.
        self._tails = tuple(f"-{0x8000 | rng.getrandbits(14):04x}-{rng.getrandbits(48):012x}"
                            for _ in range(_UUID_TAILS))
        self._uuid_count = 0
        self._uuid_high: dict[int, str] = {}

    # ids -------------------------------------------------------------------------------------------
    def uuid(self, ms: int) -> str:
        """A version-1 uuid, as Okta's are: the event time (plus a random sub-millisecond) and a tail."""
        stamp = ms * 10_000 + _UUID_EPOCH_OFFSET + int(self.rng.random() * 10_000)
        high = stamp >> 32
        middle = self._uuid_high.get(high)
        if middle is None:
            if len(self._uuid_high) > 4096:
                self._uuid_high.clear()
            middle = self._uuid_high[high] = f"-{high & 0xFFFF:04x}-{0x1000 | (high >> 16) & 0x0FFF:04x}"
        self._uuid_count += 1
        return "%08x" % (stamp & 0xFFFFFFFF) + middle + self._tails[self._uuid_count % _UUID_TAILS]

    def request_id(self) -> str:
        """A 27-character request/transaction id in Okta's style (base64 alphabet with ``@`` and ``-``)."""
        return _b64(self.rng.randbytes(20))[:27]

    def session(self, user: _User, ms: int, ie: bool) -> str:
        """The user's session at ``ms``: kept for a few hours, Classic ``102...`` or Identity Engine ``idx...``."""
        if ms - user.session_ms > 4 * _HOUR_MS or user.session[:3] != ("idx" if ie else "102"):
            token = _b64(self.rng.randbytes(18))[:22]
            user.session = ("idx" if ie else "102") + token
        user.session_ms = ms
        return user.session

    # pieces ----------------------------------------------------------------------------------------
    @staticmethod
    def user_ref(user: _User) -> dict[str, Any]:
        return {"id": user.id, "type": "User", "alternateId": user.login, "displayName": user.name,
                "detailEntry": None}

    @staticmethod
    def system_principal() -> dict[str, Any]:
        return {"id": SYSTEM_PRINCIPAL_ID, "type": "SystemPrincipal", "alternateId": "system@okta.com",
                "displayName": "Okta System", "detailEntry": None}

    @staticmethod
    def geo(net: _Net) -> dict[str, Any]:
        return {"city": net.city, "state": net.state, "country": net.country, "postalCode": net.postal,
                "geolocation": {"lat": net.lat, "lon": net.lon}}

    def client(self, net: _Net | None, agent: tuple[str, str, str, str] | None,
               client_id: str | None) -> dict[str, Any]:
        if net is None or agent is None:  # a system-initiated send: Okta logs an all-null client
            return {"userAgent": None, "zone": None, "device": None, "id": None, "ipAddress": None,
                    "geographicalContext": None}
        ip = "null" if self.rng.random() < self.null_ip_rate else net.ip
        return {"userAgent": {"rawUserAgent": agent[0], "os": agent[1], "browser": agent[2]}, "zone": net.zone,
                "device": agent[3], "id": client_id, "ipAddress": ip, "geographicalContext": self.geo(net)}

    def request(self, net: _Net | None) -> dict[str, Any]:
        if net is None:
            return {"ipChain": []}
        return {"ipChain": [{"ip": net.ip, "geographicalContext": self.geo(net), "version": net.version,
                             "source": None}]}

    @staticmethod
    def security(net: _Net | None) -> dict[str, Any]:
        if net is None:
            return {"asNumber": None, "asOrg": None, "isp": None, "domain": None, "isProxy": None}
        return {"asNumber": net.asn, "asOrg": net.as_org, "isp": net.isp, "domain": net.domain,
                "isProxy": net.proxy}

    @staticmethod
    def auth(session: str, ie: bool) -> dict[str, Any]:
        context: dict[str, Any] = {"authenticationProvider": None, "credentialProvider": None,
                                   "credentialType": None, "issuer": None, "interface": None,
                                   "authenticationStep": 0, "externalSessionId": session}
        if ie:
            context["rootSessionId"] = session
        return context

    @staticmethod
    def phone_target(user: _User, phone: str) -> dict[str, Any]:
        return {"id": user.mbl_id, "type": "MobilePhone", "alternateId": phone, "displayName": "Mobile Phone",
                "detailEntry": None}

    def targets(self, user: _User, phone: str, ie: bool) -> list[dict[str, Any]]:
        if ie:
            return [self.user_ref(user)]
        if self.rng.random() < 0.5:  # types are not in a fixed position in real data
            return [self.user_ref(user), self.phone_target(user, phone)]
        return [self.phone_target(user, phone), self.user_ref(user)]

    def event(self, *, ms: int, event_type: str, display: str, legacy: str | None, severity: str,
              actor: dict[str, Any], client: dict[str, Any], session: str, ie: bool, result: str,
              reason: str | None, net: _Net | None, debug: dict[str, Any], transaction_id: str,
              target: list[dict[str, Any]]) -> dict[str, Any]:
        """Assemble one LogEvent in the key order of Okta's API responses."""
        return {
            "actor": actor,
            "client": client,
            "device": None,
            "authenticationContext": self.auth(session, ie),
            "displayMessage": display,
            "eventType": event_type,
            "outcome": {"result": result, "reason": reason},
            "published": _iso(ms),
            "securityContext": self.security(net),
            "severity": severity,
            "debugContext": {"debugData": debug},
            "legacyEventType": legacy,
            "transaction": {"type": "WEB" if net is not None else "JOB", "id": transaction_id, "detail": {}},
            "uuid": self.uuid(ms),
            "version": "0",
            "request": self.request(net),
            "target": target,
        }

    # events ----------------------------------------------------------------------------------------
    def send(self, *, ms: int, event_type: str, user: _User, ie: bool, result: str, reason: str | None,
             net: _Net | None, agent: tuple[str, str, str, str] | None, phone: str | None = None,
             system: bool = False, risk: str | None = None, behaviors: str | None = None,
             provider: str | None = None) -> tuple[dict[str, Any], _Send]:
        """A ``system.sms.send_*`` / ``system.voice.send_*`` event and what its status event needs."""
        rng = self.rng
        channel = "sms" if event_type.startswith("system.sms.") else "voice"
        display, legacy, classic_uri, ie_uri = _KINDS[event_type]
        phone = phone or user.phone
        cc = user.cc if phone == user.phone else (calling_code(phone) or "")
        provider = provider or (_PROVIDERS[0] if rng.random() < 0.68 else _PROVIDERS[1])
        actor = self.system_principal() if system else self.user_ref(user)
        if system:
            net = agent = None
        client_id = _OKTA_DASHBOARD_CLIENT if ie and net is not None and rng.random() < 0.3 else None
        session = self.session(user, ms, ie) if not system else "trs" + self.request_id()[:22]
        request_id = self.request_id()
        uri = ie_uri if ie else classic_uri.format(factor=user.factor_id, user=user.id)
        debug: dict[str, Any] = {"requestId": request_id, "requestUri": uri, "url": uri + "?"}
        if ie:
            debug["phoneNumber"] = phone
            debug["countryCallingCode"] = cc
        debug[PROVIDER_KEY] = provider
        debug["threatSuspected"] = "true" if risk is not None and "HIGH" in risk else "false"
        if net is not None:
            debug["deviceFingerprint"] = user.fingerprint
            if risk is not None or rng.random() < 0.3:
                debug["risk"] = risk or rng.choice(_RISKS)
                debug["behaviors"] = behaviors or _BEHAVIORS_NONE
        severity = "WARN" if result == "DENY" else "INFO"
        event = self.event(
            ms=ms, event_type=event_type, display=display, legacy=legacy, severity=severity, actor=actor,
            client=self.client(net, agent, client_id), session=session, ie=ie, result=result, reason=reason,
            net=net, debug=debug, transaction_id=request_id,
            target=self.targets(user, phone, ie))
        return event, _Send(channel, user, phone, cc, ie, actor, net, agent, client_id, session, provider)

    def status(self, send: _Send, status: str, ms: int) -> dict[str, Any]:
        """The ``receive_status`` event of ``send`` with the provider's ``status`` at ``ms``."""
        request_id = self.request_id()
        uri = f"/api/internal/v1/telephony/{send.provider.lower()}/{send.channel}/status"
        debug: dict[str, Any] = {"requestId": request_id, "requestUri": uri, "url": uri + "?"}
        if send.ie:
            debug["phoneNumber"] = send.phone
            debug["countryCallingCode"] = send.cc
        debug[PROVIDER_KEY] = send.provider
        debug["status"] = status
        debug["threatSuspected"] = "false"
        return self.event(
            ms=ms, event_type=RECEIVE_STATUS_TYPES[send.channel], display=_STATUS_DISPLAY[send.channel],
            legacy=None, severity="INFO", actor=dict(send.actor or self.user_ref(send.user)),
            client=self.client(send.net, send.agent, send.client_id), session=send.session, ie=send.ie,
            result="SUCCESS", reason=None, net=send.net, debug=debug, transaction_id=request_id,
            target=self.targets(send.user, send.phone, send.ie))

    def rate_limit(self, *, ms: int, user: _User, channel: str, net: _Net, agent: tuple[str, str, str, str],
                   ie: bool, phone: str | None = None) -> dict[str, Any]:
        """A ``system.operation.rate_limit.violation`` for SMS or voice, modelled on Okta's documented one."""
        rng = self.rng
        phone = phone or user.phone
        subtype = "SMS" if channel == "sms" else "Voice call"
        uri = "/idp/idx/challenge" if ie else "/api/v1/authn/factors"
        request_id = self.request_id()
        debug: dict[str, Any] = {
            "operationRateLimitSubtype": subtype,
            "operationRateLimitTimeUnit": "MINUTES",
            "operationRateLimitScopeType": "user",
            "operationRateLimitSecondsToReset": str(rng.randint(5, 290)),
            "operationRateLimitThreshold": "15" if channel == "sms" else "10",
            "operationRateLimitTimeSpan": "5",
            "requestUri": uri,
            "url": uri + "?",
            "phoneNumber": phone,
            "authnRequestId": self.request_id(),
            "countryCallingCode": calling_code(phone) or "",
            "requestId": request_id,
            "threatSuspected": "false",
            "operationRateLimitType": "phone_enrollment",
        }
        target = [{"id": "SMS" if channel == "sms" else "CALL", "type": "Factor Type", "alternateId": None,
                   "displayName": None, "detailEntry": None},
                  {"id": uri, "type": "URL Pattern", "alternateId": None, "displayName": None, "detailEntry": None}]
        return self.event(
            ms=ms, event_type=RATE_LIMIT_TYPE, display="Operation rate limit violation", legacy=None,
            severity="WARN", actor=self.user_ref(user), client=self.client(net, agent, None),
            session=self.session(user, ms, ie), ie=ie, result="DENY",
            reason=f"Too many enrollment attempts for {subtype} factor", net=net, debug=debug,
            transaction_id=request_id, target=target)


def _persist_lag(rng: random.Random) -> int:
    """Milliseconds between ``published`` and when Okta persisted the event (polling order)."""
    if rng.random() < 0.005:
        return rng.randint(5_000, 120_000)  # a late event
    return 40 + int(rng.expovariate(1 / 350))


def _status_for(rng: random.Random, channel: str, result: str) -> str:
    if result == "FAILURE":
        return rng.choice(_FAILED_STATUS[channel])
    values, cum = _STATUSES[channel]
    return values[bisect.bisect(cum, rng.random() * cum[-1])]


def _status_delay(rng: random.Random, status: str) -> int:
    low, extra = _STATUS_DELAY[status]
    return int((low + rng.random() * extra) * 1000)
