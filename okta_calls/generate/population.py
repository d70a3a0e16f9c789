"""The seeded population of the synthetic org: users with their phones, factors, devices and networks.

Every IP address (``_Net``) carries one consistent city, state, country, postal code, geolocation, ASN,
ISP, domain and network zone. ``_World`` draws the whole org from one RNG; the static tables it draws from
are in ``population_data``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

from ..phones import calling_code
from .population_data import (
    _ASCII,
    _COUNTRIES,
    _FOREIGN_PHONES,
    _ISPS,
    _LOCALE,
    _NAMES,
    _OFFICE_ZONE,
    _OFFICES,
    _PHONE_PLANS,
    _USER_AGENTS,
    _VPNS,
)

_USERS = 3000
_ID_SUFFIX = "1d7"
_ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_EMAIL_DOMAIN = "example.com"


@dataclass(slots=True)
class _Net:
    """One client IP address with everything Okta derives from it, consistent across events."""

    ip: str
    version: str
    city: str | None
    state: str | None
    country: str | None
    postal: str | int | None
    lat: float
    lon: float
    asn: int | None
    as_org: str | None
    isp: str | None
    domain: str | None
    proxy: bool
    zone: str | None


@dataclass(slots=True)
class _User:
    """A user with their phone, factors, devices and networks."""

    id: str
    login: str
    name: str
    phone: str
    cc: str
    mbl_id: str
    factor_id: str
    channel: str
    fingerprint: str
    nets: list[_Net]
    net_weights: list[float]
    agents: list[tuple[str, str, str, str]]
    session: str = ""
    session_ms: int = -(10**15)


def _okta_id(rng: random.Random, prefix: str) -> str:
    """A 20-character Okta object id: 3-character type prefix, 14 random characters, the org suffix."""
    return prefix + "".join(rng.choices(_ALNUM, k=14)) + _ID_SUFFIX


def _hex(rng: random.Random, chars: int) -> str:
    return f"{rng.getrandbits(chars * 4):0{chars}x}"


def _make_net(rng: random.Random, country: str, *, prefixes: tuple[str, ...], asn: int, as_org: str,
              isp: str, domain: str, city_index: int | None = None) -> _Net:
    """A residential or mobile address of ``country`` on the given ISP, in one of its cities."""
    _weight, country_name, cities = _COUNTRIES[country]
    city, state, lat, lon, postals = cities[city_index if city_index is not None else rng.randrange(len(cities))]
    prefix = rng.choice(prefixes)
    if prefix.endswith(":"):
        ip, version = prefix + ":".join(f"{rng.getrandbits(16):x}" for _ in range(6)), "V6"
    else:
        tail = ".".join(str(rng.randint(1, 254)) for _ in range(4 - prefix.count(".") - 1))
        ip, version = f"{prefix}.{tail}", "V4"
    code = rng.choice(postals)
    postal: str | int = code
    if code.isdigit() and code[0] != "0" and rng.random() < 0.08:
        postal = int(code)  # quirk of real data: a numeric postalCode
    zone = "null" if rng.random() < 0.9 else None
    return _Net(ip, version, city, state, country_name, postal, round(lat + rng.uniform(-0.05, 0.05), 4),
                round(lon + rng.uniform(-0.05, 0.05), 4), asn, as_org, isp, domain, False, zone)


def _residential(rng: random.Random, country: str) -> _Net:
    asn, as_org, isp, domain, prefixes = rng.choice(_ISPS[country])
    return _make_net(rng, country, prefixes=prefixes, asn=asn, as_org=as_org, isp=isp, domain=domain)


def _unique_number(rng: random.Random, prefixes: tuple[str, ...], digits: int, used: set[str]) -> str:
    """A number from the plan not used yet (falls back to a duplicate after many tries)."""
    number = ""
    for _ in range(200):
        number = rng.choice(prefixes) + f"{rng.randrange(10**digits):0{digits}d}"
        if number not in used:
            break
    used.add(number)
    return number


class _World:
    """The org: users, offices, VPN exits and user agents, all drawn from one RNG."""

    def __init__(self, rng: random.Random, n_users: int = _USERS, *, reserved: Iterable[str] = ()) -> None:
        """``reserved`` numbers are never given to the drawn users (the planted patterns use them)."""
        self.rng = rng
        self.offices = {office[0]: self._office(*office) for office in _OFFICES}
        self.vpns = [self._vpn(*vpn) for vpn in _VPNS]
        agents = [ua[:4] for ua in _USER_AGENTS]
        self._agents = agents
        self._agent_cum = _cumulative([ua[4] for ua in _USER_AGENTS])
        countries = list(_COUNTRIES)
        country_cum = _cumulative([_COUNTRIES[c][0] for c in countries])
        used: set[str] = set(reserved)
        logins: set[str] = set()
        self.users: list[_User] = []
        for _ in range(n_users):
            country = rng.choices(countries, cum_weights=country_cum)[0]
            self.users.append(self.make_user(country, used, logins))
        # A few users are much more active than others (Zipf-like).
        self.user_cum = _cumulative([1.0 / (1 + (i % 400)) ** 0.6 for i in range(n_users)])
        self.used_numbers = used
        self.logins = logins

    def _office(self, country: str, city_index: int, asn: int, as_org: str, isp: str, domain: str,
                prefix: str) -> _Net:
        net = _make_net(self.rng, country, prefixes=(prefix,), asn=asn, as_org=as_org, isp=isp, domain=domain,
                        city_index=city_index)
        net.zone = _OFFICE_ZONE
        if isinstance(net.postal, int):
            net.postal = str(net.postal)
        return net

    def _vpn(self, asn: int, as_org: str, isp: str, domain: str, prefix: str, country: str) -> _Net:
        net = _make_net(self.rng, country, prefixes=(prefix,), asn=asn, as_org=as_org, isp=isp, domain=domain)
        net.proxy = True
        return net

    def agent(self, rng: random.Random) -> tuple[str, str, str, str]:
        return rng.choices(self._agents, cum_weights=self._agent_cum)[0]

    def make_user(self, country: str, used: set[str], logins: set[str], *, user_id: str | None = None,
                  phone: str | None = None, channel: str | None = None,
                  rng: random.Random | None = None) -> _User:
        """A user living in ``country``; ``user_id``/``phone``/``channel`` fix those fields when given.

        ``rng`` defaults to the world's; planted users pass their own so that planting leaves the
        background traffic unchanged.
        """
        rng = rng or self.rng
        firsts, lasts = _NAMES[_LOCALE[country]]
        first, last = rng.choice(firsts), rng.choice(lasts)
        base = f"{first}.{last}".lower().translate(_ASCII).replace(" ", "")
        login = f"{base}@{_EMAIL_DOMAIN}"
        suffix = 1
        while login in logins:
            suffix += 1
            login = f"{base}{suffix}@{_EMAIL_DOMAIN}"
        logins.add(login)
        if phone is None:
            if rng.random() < 0.015:
                prefix, digits = rng.choice(_FOREIGN_PHONES)
                phone = _unique_number(rng, (prefix,), digits, used)
            else:
                prefixes, digits = _PHONE_PLANS[country]
                phone = _unique_number(rng, prefixes, digits, used)
        nets = [_residential(rng, country)]
        weights = [0.72]
        if country in self.offices and rng.random() < 0.5:
            nets.append(self.offices[country])
            weights.append(0.22)
        if rng.random() < 0.35:
            nets.append(_residential(rng, country))  # mobile data / second home
            weights.append(0.06)
        if rng.random() < 0.03:
            nets.append(rng.choice(self.vpns))
            weights.append(0.10)
        agents = [self.agent(rng)]
        if rng.random() < 0.4:
            agents.append(self.agent(rng))
        return _User(
            id=user_id or _okta_id(rng, "00u"),
            login=login,
            name=f"{first} {last}",
            phone=phone,
            cc=calling_code(phone) or "",
            mbl_id=_okta_id(rng, "mbl"),
            factor_id=_okta_id(rng, "sms"),
            channel=channel or ("sms" if rng.random() < 0.7 else "voice"),
            fingerprint=_hex(rng, 32),
            nets=nets,
            net_weights=_cumulative(weights),
            agents=agents,
        )


def _cumulative(weights: list[float]) -> list[float]:
    total = 0.0
    out = []
    for weight in weights:
        total += weight
        out.append(total)
    return out
