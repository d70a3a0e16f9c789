"""Keyed pseudonyms for the personal data in LogEvents: phone numbers, emails, IP addresses and people's names.

Pure functions, no I/O. A ``Redactor`` holds a secret key and replaces each personal value with a token made
from ``HMAC-SHA256(key, kind + NUL + normalised value)``: the same value always gives the same token (so
counts, joins, "one number shared by many users" and "one IP calling many numbers" still work), and without the
key a token cannot be turned back into its value or checked against a guess.

Token shapes (``TOKEN_SCHEME``; the README's "Redacted archives" section explains the choices):

- **phone** ``+14155550123`` -> ``+1415`` + 12 keyed digits + ``23``: only digits behind the ``+``, so
  ``okta_calls.phones`` finds the same calling code and country. Kept: the calling code, the NANP area code
  behind +1 (``+1876`` is Jamaica), the first national digit behind +7 (6/7 is Kazakhstan), the last two digits,
  and Okta's masking (a masked number's token still holds an ``x``). Numbers without ``+`` keep only the last
  two digits. Separators do not matter: ``+1 (415) 555-0123`` gives the same token.
- **email** ``John.Doe@Example.com`` -> ``anon-<16 hex>@example.com``: the local part is a keyed hash of the
  whole address (lower-cased: Okta logins are case-insensitive); the domain is kept, being the organisation's
  or the mail provider's, which analysts use ("sign-ins from outside our domain") and which rarely names a
  person. ``%40`` (a URL-encoded ``@``) is found and kept as it was written.
- **ip** -> an IPv6 address in the unique-local range ``fc00::/7`` that Okta never logs as a client:
  ``fd04:...`` for an IPv4 address, ``fd06:...`` for IPv6, then 112 keyed bits. Still a valid IP address for
  any tool that types the column; IPv4-mapped IPv6 (``::ffff:1.2.3.4``) counts as the IPv4 address.
- **name** / **login**: a person's display name and a login that is not an email -> ``name-<16 hex>`` and
  ``login-<16 hex>`` (case-insensitive).

Where they are found: every string of the event is scanned for emails, IPv4/IPv6 addresses and ``+``-prefixed
phone numbers; fields named like a phone (``phoneNumber``, ``mobilePhone``...) and the ``alternateId`` /
``displayName`` of a ``MobilePhone`` actor or target are phone numbers even without ``+``; the ``alternateId``
and ``displayName`` of a ``User``/``AppUser`` are a login and a name. Geography, ASN, ISP, user agents and Okta
ids are kept: they are what the fraud analytics use, and they are not contact data.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
from collections.abc import Callable, Mapping
from typing import Any

from .jsonio import JSONError, dumps, loads
from .phones import calling_code, normalize_phone

__all__ = ["FINGERPRINT_LABEL", "MIN_KEY_BYTES", "TOKEN_SCHEME", "Redactor"]

TOKEN_SCHEME = "hmac-sha256-v1"
FINGERPRINT_LABEL = b"okta-calls key fingerprint"
MIN_KEY_BYTES = 32

_PHONE_DIGITS = 12  # keyed digits in a phone token: 10^12 per (prefix, last two digits), no practical collision
_CACHE_LIMIT = 200_000  # values remembered per Redactor (an org repeats its numbers, addresses and agents)
_CACHED_TEXT = 256  # longer strings are scanned every time rather than remembered

_PHONE_TYPES = frozenset({"mobilephone", "phone"})
_PERSON_TYPES = frozenset({"user", "appuser"})
_NAME_KEYS = frozenset({"firstname", "lastname", "middlename", "fullname", "nickname"})
_LOGIN_KEYS = frozenset({"login", "username", "loginname"})
_COMPACT_PHONE = re.compile(r"\+?[0-9x]+")

_EMAIL = (
    r"(?P<email>(?<![\w.%+\-])(?P<local>[A-Za-z0-9._%+\-]+)(?P<at>@|%40)"
    r"(?P<domain>[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,})(?![\w\-]))"
)
_IP6 = r"(?P<ip6>(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{1,4}|(?:\d{1,3}\.){3}\d{1,3})?(?:%[\w\-]+)?(?![\w:]|\.\d))"
_IP4 = r"(?P<ip4>(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?!\w|\.\d))"
_PLUS_PHONE = r"(?P<phone>(?<![\w+])\+\d[\d xX().\-]{4,}[\dxX](?!\w))"
_SCAN = re.compile(f"{_EMAIL}|{_IP6}|{_IP4}|{_PLUS_PHONE}")
_IP4_ONLY = re.compile(_IP4)
_EMAIL_RE = re.compile(_EMAIL)
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d{1,9})?)?(?:Z|[+-]\d\d:?\d\d)?")
_MAYBE = re.compile(r"[@%.:+{\[]")  # a string without any of these holds nothing to redact


class Redactor:
    """Replaces personal values with keyed tokens (see the module docstring). Never shows its key.

    ``key`` must be at least ``MIN_KEY_BYTES`` bytes. ``fingerprint`` identifies the key without revealing it
    (HMAC of a fixed label, 16 hex digits): an archive records it to refuse writes with another key.
    Picklable (a spawned reader process gets it through a pipe, never on a command line).
    """

    __slots__ = ("_cache", "_key", "_texts", "fingerprint")

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) < MIN_KEY_BYTES:
            raise ValueError(f"a redaction key must be at least {MIN_KEY_BYTES} bytes")
        self._key = key
        self.fingerprint = hmac.new(key, FINGERPRINT_LABEL, hashlib.sha256).hexdigest()[:16]
        self._cache: dict[tuple[str, str], str] = {}
        self._texts: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"Redactor(fingerprint={self.fingerprint!r})"

    def __reduce__(self) -> tuple[Callable[[bytes], Redactor], tuple[bytes]]:
        return (Redactor, (self._key,))

    # -- tokens -------------------------------------------------------------------------------------------

    def _digest(self, kind: str, value: str) -> bytes:
        message = kind.encode() + b"\x00" + value.encode("utf-8", "surrogatepass")
        return hmac.digest(self._key, message, "sha256")

    def _hex(self, kind: str, value: str) -> str:
        return self._digest(kind, value)[:8].hex()

    def _cached(self, kind: str, value: str, make: Callable[[str], str]) -> str:
        found = self._cache.get((kind, value))
        if found is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            found = self._cache[(kind, value)] = make(value)
        return found

    def phone(self, value: Any) -> str | None:
        """The token of a phone number, or ``None`` when ``value`` does not look like one."""
        number = normalize_phone(value)
        if not _is_phone(number):
            return None
        assert number is not None
        return self._cached("phone", number, self._phone_token)

    def _phone_token(self, number: str) -> str:
        plus = number.startswith("+")
        body = number[1:] if plus else number
        keep = _routing_prefix(number, body) if plus else ""
        hidden = body[len(keep) :]
        tail = hidden[-2:]
        digits = str(int.from_bytes(self._digest("phone", number)[:8], "big") % 10**_PHONE_DIGITS)
        middle = digits.zfill(_PHONE_DIGITS)
        if "x" in hidden[:-2]:
            middle = "x" + middle[1:]  # Okta masked it: the token stays recognisably masked
        return ("+" if plus else "") + keep + middle + tail

    def email(self, address: str) -> str:
        """The token of an email address (``local@domain``; the domain is kept, lower-cased)."""
        match = _EMAIL_RE.fullmatch(address.strip())
        if match is None:
            return self.login(address)
        return self._email_match(match)

    def _email_match(self, match: re.Match[str]) -> str:
        local, at, domain = match.group("local"), match.group("at"), match.group("domain").lower()
        whole = f"{local}@{domain}".lower()
        return f"anon-{self._cached('email', whole, lambda v: self._hex('email', v))}{at}{domain}"

    def ip(self, value: str) -> str | None:
        """The token of an IPv4 or IPv6 address, or ``None`` when ``value`` is not one."""
        address = _parse_ip(value)
        if address is None:
            return None
        return self._cached("ip", address, self._ip_token)

    def _ip_token(self, address: str) -> str:
        prefix = b"\xfd\x04" if "." in address else b"\xfd\x06"
        return str(ipaddress.IPv6Address(prefix + self._digest("ip", address)[:14]))

    def name(self, value: str) -> str:
        """The token of a person's name (case and spacing do not matter)."""
        return "name-" + self._cached("name", " ".join(value.casefold().split()), lambda v: self._hex("name", v))

    def login(self, value: str) -> str:
        """The token of a login that is not an email address (case-insensitive)."""
        return "login-" + self._cached("login", value.strip().casefold(), lambda v: self._hex("login", v))

    def token(self, value: str, kind: str | None = None) -> str:
        """The token ``value`` gets in a redacted archive, for finding it there (``okta-calls redact-token``).

        ``kind`` is ``phone``, ``email``, ``ip``, ``name`` or ``login``; ``None`` guesses it from the value
        (an IP address, an email, a phone number). Raises ``ValueError`` when it cannot.
        """
        guess = kind or _guess_kind(value)
        made = {
            "phone": self.phone,
            "email": lambda v: self.email(v) if _EMAIL_RE.fullmatch(v.strip()) else None,
            "ip": self.ip,
            "name": self.name,
            "login": self.login,
        }.get(guess or "", lambda v: None)(value)
        if made is None:
            raise ValueError(f"not a {guess}" if guess else "cannot tell whether it is a phone, email or IP address")
        return made

    # -- text and events ----------------------------------------------------------------------------------

    def text(self, value: str) -> str:
        """``value`` with every email, IP address and ``+``-prefixed phone number in it replaced.

        A string that holds a JSON object or array (``debugData`` has some) is redacted as JSON, field names
        included in the decision (a ``phoneNumber`` inside it is a phone number even without ``+``).
        """
        found = self._texts.get(value)
        if found is not None:
            return found
        if _MAYBE.search(value) is None or _TIMESTAMP.fullmatch(value) is not None:
            return value
        if len(value) > _CACHED_TEXT:
            return self._scan(value)
        if len(self._texts) >= _CACHE_LIMIT:
            self._texts.clear()
        found = self._texts[value] = self._scan(value)
        return found

    def _scan(self, value: str) -> str:
        if value[:1] in ("{", "["):
            try:
                parsed = loads(value)
            except JSONError:
                parsed = None
            if isinstance(parsed, (dict, list)):
                redacted = self.redact_value(parsed)
                return value if redacted == parsed else dumps(redacted)
        return _SCAN.sub(self._replace, value)

    def withheld(self, text: str) -> str:
        """What a redacted archive keeps of text it cannot redact field by field (a line that is not JSON):
        its length and a keyed hash, enough to tell two such lines apart or equal, nothing of their content."""
        return f"[withheld by redaction: {len(text)} characters, hmac {self._hex('withheld', text)}]"

    def _replace(self, match: re.Match[str]) -> str:
        found = match.group(0)
        kind = match.lastgroup
        if kind == "email" or match.group("email") is not None:
            return self._email_match(match)
        if kind in ("ip4", "ip6"):
            token = self.ip(found)
            if token is None and kind == "ip6":
                return _IP4_ONLY.sub(lambda m: self.ip(m.group(0)) or m.group(0), found)
            return token or found
        return self.phone(found) or found

    def redact_event(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """A redacted copy of a LogEvent (the input is not changed). Keys are kept; only values change."""
        return self._object(event)

    def redact_value(self, value: Any, key: str = "") -> Any:
        """A redacted copy of any JSON value; ``key`` is the name it had in its object (for phone fields)."""
        kind = type(value)
        if kind is str:
            return self._string(value, _role(key))
        if kind is dict:
            return self._object(value)
        if kind is list:
            return [self.redact_value(item, key) for item in value]
        if kind is int and _role(key) == "phone":
            return self.phone(value) or value
        return value

    def _object(self, obj: Mapping[str, Any]) -> dict[str, Any]:
        """The hot loop (about 80 values an event): dispatch on the value's type, look the key's role up."""
        entity = obj.get("type")
        entity_roles = _ENTITY_ROLES.get(entity.lower()) if type(entity) is str else None
        texts, maybe, roles = self._texts, _MAYBE.search, _KEY_ROLES
        out: dict[str, Any] = {}
        for key, value in obj.items():
            kind = type(value)
            if kind is str:
                role = entity_roles.get(key) if entity_roles is not None else None
                if role is None:
                    role = roles.get(key, _UNSEEN)
                    if role is _UNSEEN:
                        role = _role(key)
                if role is None:  # inline ``text``: most strings are seen before or hold no candidate
                    found = texts.get(value)
                    if found is None:
                        found = value if maybe(value) is None else self.text(value)
                    out[key] = found
                else:
                    out[key] = self._string(value, role)
            elif kind is dict:
                out[key] = self._object(value)
            elif kind is list:
                out[key] = [self.redact_value(item, key) for item in value]
            elif kind is int:
                out[key] = (self.phone(value) or value) if _role(key) == "phone" else value
            else:  # None, bool, float: nothing personal
                out[key] = value
        return out

    def _person(self, value: str, *, login: bool) -> str:
        """A person's login or display name: an email gets the email token, anything else a keyed name."""
        return self._cached("as-login" if login else "as-name", value, lambda v: self._person_token(v, login=login))

    def _person_token(self, value: str, *, login: bool) -> str:
        if value.strip().lower() in ("", "null", "unknown"):
            return value
        if _EMAIL_RE.fullmatch(value.strip()):
            return self.email(value)
        return self.login(value) if login else self.name(value)

    def _string(self, value: str, role: str | None) -> str:
        if role is None:
            return self.text(value)
        if role == "phone":
            return self.phone(value) or self.text(value)
        return self._person(value, login=role == "login")


_KEY_ROLES: dict[str, str | None] = {}


def _role(key: str) -> str | None:
    """What a field holds by its name: ``phone`` (``phoneNumber``, ``mobilePhone``...), ``name``, ``login`` or
    ``None`` (anything: scanned). Memoised: events repeat the same few hundred keys."""
    role = _KEY_ROLES.get(key, _UNSEEN)
    if role is _UNSEEN:
        lower = key.lower()
        role = "phone" if "phone" in lower else "name" if lower in _NAME_KEYS else "login" if lower in _LOGIN_KEYS else None
        if len(_KEY_ROLES) < _CACHE_LIMIT:
            _KEY_ROLES[key] = role
    return role  # type: ignore[return-value]


_UNSEEN: Any = object()
# The fields of an actor or target whose meaning depends on its type.
_ENTITY_ROLES: dict[str, dict[str, str]] = {
    **{kind: {"alternateId": "phone", "displayName": "phone"} for kind in _PHONE_TYPES},
    **{kind: {"alternateId": "login", "displayName": "name"} for kind in _PERSON_TYPES},
}


def _routing_prefix(number: str, body: str) -> str:
    """The digits a phone token keeps after ``+``: the calling code, plus what ``phones.phone_country`` reads
    behind it (the NANP area code for +1, the first national digit for +7); three digits when unknown."""
    code = calling_code(number)
    if code is None:
        return body[:3]
    if code == "1":
        return body[:4]
    if code == "7":
        return body[:2]
    return code


def _parse_ip(value: str) -> str | None:
    """The canonical text of an IP address (IPv4-mapped IPv6 as IPv4), or ``None``."""
    text = value.strip().strip("[]")
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return _lenient_ipv4(text)
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(address)


def _lenient_ipv4(text: str) -> str | None:
    """Dotted quads with leading zeros (``010.001.002.003``), which ``ipaddress`` refuses."""
    parts = text.split(".")
    if len(parts) != 4 or not all(part.isdigit() and len(part) <= 3 and int(part) <= 255 for part in parts):
        return None
    return ".".join(str(int(part)) for part in parts)


def _guess_kind(value: str) -> str | None:
    if _parse_ip(value) is not None:
        return "ip"
    if _EMAIL_RE.fullmatch(value.strip()):
        return "email"
    return "phone" if _is_phone(normalize_phone(value)) else None


def _is_phone(number: str | None) -> bool:
    """True for what ``normalize_phone`` made of a phone number: ``+``, then 3 to 18 digits (some masked)."""
    return (
        number is not None
        and _COMPACT_PHONE.fullmatch(number) is not None
        and 3 <= len(number.lstrip("+")) <= 18
        and any(c.isdigit() for c in number)
    )
