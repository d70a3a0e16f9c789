"""Static phone-numbering data for ``okta_calls.phones`` (data only; the functions are in ``phones``).

``CALLING_CODES`` is the ITU-T E.164 assignment list (Recommendation E.164 Annex / "List of ITU-T
Recommendation E.164 assigned country codes"): every code of 1 to 3 digits currently assigned to a country,
a geographic area, a global service or an international network. The codes form a prefix code (no assigned
code is the prefix of another), so the longest matching prefix of a number is its calling code.

Shared codes carry their main country: "1" (NANP) is the United States, "7" Russia, "44" the United
Kingdom, and so on. For +1 numbers the NANP area code refines the country (``NANP_AREA_CODES``: Canada
and the Caribbean/Pacific members — the classic toll-fraud destinations hidden behind "+1").
``HIGH_RISK_COUNTRIES`` and ``HIGH_RISK_CALLING_CODES`` are the heuristic IRSF (toll-fraud) lists.
"""

from __future__ import annotations

from typing import NamedTuple


class Destination(NamedTuple):
    """A destination of a calling code or NANP area code: ISO 3166-1 alpha-2 (``None`` when there is none,
    e.g. global services and satellite networks) and an English name."""

    iso2: str | None
    name: str


_D = Destination

#: ITU-T E.164 country calling code -> destination. Keys are digit strings without "+".
CALLING_CODES: dict[str, Destination] = {
    # Zone 1: North American Numbering Plan (see NANP_AREA_CODES for the members other than the US).
    "1": _D("US", "United States / NANP"),
    # Zone 2: Africa and some Atlantic/Indian Ocean territories.
    "20": _D("EG", "Egypt"),
    "211": _D("SS", "South Sudan"),
    "212": _D("MA", "Morocco"),
    "213": _D("DZ", "Algeria"),
    "216": _D("TN", "Tunisia"),
    "218": _D("LY", "Libya"),
    "220": _D("GM", "Gambia"),
    "221": _D("SN", "Senegal"),
    "222": _D("MR", "Mauritania"),
    "223": _D("ML", "Mali"),
    "224": _D("GN", "Guinea"),
    "225": _D("CI", "Côte d'Ivoire"),
    "226": _D("BF", "Burkina Faso"),
    "227": _D("NE", "Niger"),
    "228": _D("TG", "Togo"),
    "229": _D("BJ", "Benin"),
    "230": _D("MU", "Mauritius"),
    "231": _D("LR", "Liberia"),
    "232": _D("SL", "Sierra Leone"),
    "233": _D("GH", "Ghana"),
    "234": _D("NG", "Nigeria"),
    "235": _D("TD", "Chad"),
    "236": _D("CF", "Central African Republic"),
    "237": _D("CM", "Cameroon"),
    "238": _D("CV", "Cabo Verde"),
    "239": _D("ST", "São Tomé and Príncipe"),
    "240": _D("GQ", "Equatorial Guinea"),
    "241": _D("GA", "Gabon"),
    "242": _D("CG", "Congo"),
    "243": _D("CD", "Congo (Democratic Republic)"),
    "244": _D("AO", "Angola"),
    "245": _D("GW", "Guinea-Bissau"),
    "246": _D("IO", "Diego Garcia (British Indian Ocean Territory)"),
    "247": _D("SH", "Ascension Island"),
    "248": _D("SC", "Seychelles"),
    "249": _D("SD", "Sudan"),
    "250": _D("RW", "Rwanda"),
    "251": _D("ET", "Ethiopia"),
    "252": _D("SO", "Somalia"),
    "253": _D("DJ", "Djibouti"),
    "254": _D("KE", "Kenya"),
    "255": _D("TZ", "Tanzania"),
    "256": _D("UG", "Uganda"),
    "257": _D("BI", "Burundi"),
    "258": _D("MZ", "Mozambique"),
    "260": _D("ZM", "Zambia"),
    "261": _D("MG", "Madagascar"),
    "262": _D("RE", "Réunion / Mayotte"),
    "263": _D("ZW", "Zimbabwe"),
    "264": _D("NA", "Namibia"),
    "265": _D("MW", "Malawi"),
    "266": _D("LS", "Lesotho"),
    "267": _D("BW", "Botswana"),
    "268": _D("SZ", "Eswatini"),
    "269": _D("KM", "Comoros"),
    "27": _D("ZA", "South Africa"),
    "290": _D("SH", "Saint Helena / Tristan da Cunha"),
    "291": _D("ER", "Eritrea"),
    "297": _D("AW", "Aruba"),
    "298": _D("FO", "Faroe Islands"),
    "299": _D("GL", "Greenland"),
    # Zones 3 and 4: Europe.
    "30": _D("GR", "Greece"),
    "31": _D("NL", "Netherlands"),
    "32": _D("BE", "Belgium"),
    "33": _D("FR", "France"),
    "34": _D("ES", "Spain"),
    "350": _D("GI", "Gibraltar"),
    "351": _D("PT", "Portugal"),
    "352": _D("LU", "Luxembourg"),
    "353": _D("IE", "Ireland"),
    "354": _D("IS", "Iceland"),
    "355": _D("AL", "Albania"),
    "356": _D("MT", "Malta"),
    "357": _D("CY", "Cyprus"),
    "358": _D("FI", "Finland / Åland"),
    "359": _D("BG", "Bulgaria"),
    "36": _D("HU", "Hungary"),
    "370": _D("LT", "Lithuania"),
    "371": _D("LV", "Latvia"),
    "372": _D("EE", "Estonia"),
    "373": _D("MD", "Moldova"),
    "374": _D("AM", "Armenia"),
    "375": _D("BY", "Belarus"),
    "376": _D("AD", "Andorra"),
    "377": _D("MC", "Monaco"),
    "378": _D("SM", "San Marino"),
    "379": _D("VA", "Vatican City"),
    "380": _D("UA", "Ukraine"),
    "381": _D("RS", "Serbia"),
    "382": _D("ME", "Montenegro"),
    # Kosovo has no ISO 3166-1 code; "XK" is the user-assigned code used by the EU and most software.
    "383": _D("XK", "Kosovo"),
    "385": _D("HR", "Croatia"),
    "386": _D("SI", "Slovenia"),
    "387": _D("BA", "Bosnia and Herzegovina"),
    "389": _D("MK", "North Macedonia"),
    "39": _D("IT", "Italy"),
    "40": _D("RO", "Romania"),
    "41": _D("CH", "Switzerland"),
    "420": _D("CZ", "Czechia"),
    "421": _D("SK", "Slovakia"),
    "423": _D("LI", "Liechtenstein"),
    "43": _D("AT", "Austria"),
    "44": _D("GB", "United Kingdom"),
    "45": _D("DK", "Denmark"),
    "46": _D("SE", "Sweden"),
    "47": _D("NO", "Norway"),
    "48": _D("PL", "Poland"),
    "49": _D("DE", "Germany"),
    # Zone 5: Mexico, Central and South America, and the non-NANP Caribbean.
    "500": _D("FK", "Falkland Islands"),
    "501": _D("BZ", "Belize"),
    "502": _D("GT", "Guatemala"),
    "503": _D("SV", "El Salvador"),
    "504": _D("HN", "Honduras"),
    "505": _D("NI", "Nicaragua"),
    "506": _D("CR", "Costa Rica"),
    "507": _D("PA", "Panama"),
    "508": _D("PM", "Saint Pierre and Miquelon"),
    "509": _D("HT", "Haiti"),
    "51": _D("PE", "Peru"),
    "52": _D("MX", "Mexico"),
    "53": _D("CU", "Cuba"),
    "54": _D("AR", "Argentina"),
    "55": _D("BR", "Brazil"),
    "56": _D("CL", "Chile"),
    "57": _D("CO", "Colombia"),
    "58": _D("VE", "Venezuela"),
    "590": _D("GP", "Guadeloupe / Saint Barthélemy / Saint Martin"),
    "591": _D("BO", "Bolivia"),
    "592": _D("GY", "Guyana"),
    "593": _D("EC", "Ecuador"),
    "594": _D("GF", "French Guiana"),
    "595": _D("PY", "Paraguay"),
    "596": _D("MQ", "Martinique"),
    "597": _D("SR", "Suriname"),
    "598": _D("UY", "Uruguay"),
    "599": _D("CW", "Curaçao / Caribbean Netherlands"),
    # Zone 6: South-East Asia and Oceania.
    "60": _D("MY", "Malaysia"),
    "61": _D("AU", "Australia"),
    "62": _D("ID", "Indonesia"),
    "63": _D("PH", "Philippines"),
    "64": _D("NZ", "New Zealand"),
    "65": _D("SG", "Singapore"),
    "66": _D("TH", "Thailand"),
    "670": _D("TL", "Timor-Leste"),
    "672": _D("NF", "Norfolk Island / Australian Antarctic Territory"),
    "673": _D("BN", "Brunei"),
    "674": _D("NR", "Nauru"),
    "675": _D("PG", "Papua New Guinea"),
    "676": _D("TO", "Tonga"),
    "677": _D("SB", "Solomon Islands"),
    "678": _D("VU", "Vanuatu"),
    "679": _D("FJ", "Fiji"),
    "680": _D("PW", "Palau"),
    "681": _D("WF", "Wallis and Futuna"),
    "682": _D("CK", "Cook Islands"),
    "683": _D("NU", "Niue"),
    "685": _D("WS", "Samoa"),
    "686": _D("KI", "Kiribati"),
    "687": _D("NC", "New Caledonia"),
    "688": _D("TV", "Tuvalu"),
    "689": _D("PF", "French Polynesia"),
    "690": _D("TK", "Tokelau"),
    "691": _D("FM", "Micronesia"),
    "692": _D("MH", "Marshall Islands"),
    # Zone 7: Russia and Kazakhstan (Kazakhstan: +7 6xx / 7xx, see phone_country).
    "7": _D("RU", "Russia"),
    # Zone 8: East Asia and global services.
    "800": _D(None, "International Freephone Service"),
    "808": _D(None, "International Shared Cost Service"),
    "81": _D("JP", "Japan"),
    "82": _D("KR", "South Korea"),
    "84": _D("VN", "Vietnam"),
    "850": _D("KP", "North Korea"),
    "852": _D("HK", "Hong Kong"),
    "853": _D("MO", "Macao"),
    "855": _D("KH", "Cambodia"),
    "856": _D("LA", "Laos"),
    "86": _D("CN", "China"),
    "870": _D(None, "Inmarsat (satellite)"),
    "878": _D(None, "Universal Personal Telecommunications"),
    "880": _D("BD", "Bangladesh"),
    "881": _D(None, "Global Mobile Satellite System (Iridium, Globalstar, ...)"),
    "882": _D(None, "International Networks"),
    "883": _D(None, "International Networks"),
    "886": _D("TW", "Taiwan"),
    "888": _D(None, "Telecommunications for Disaster Relief (OCHA)"),
    # Zone 9: West, Central and South Asia, and the Middle East.
    "90": _D("TR", "Türkiye"),
    "91": _D("IN", "India"),
    "92": _D("PK", "Pakistan"),
    "93": _D("AF", "Afghanistan"),
    "94": _D("LK", "Sri Lanka"),
    "95": _D("MM", "Myanmar"),
    "960": _D("MV", "Maldives"),
    "961": _D("LB", "Lebanon"),
    "962": _D("JO", "Jordan"),
    "963": _D("SY", "Syria"),
    "964": _D("IQ", "Iraq"),
    "965": _D("KW", "Kuwait"),
    "966": _D("SA", "Saudi Arabia"),
    "967": _D("YE", "Yemen"),
    "968": _D("OM", "Oman"),
    "970": _D("PS", "Palestine"),
    "971": _D("AE", "United Arab Emirates"),
    "972": _D("IL", "Israel"),
    "973": _D("BH", "Bahrain"),
    "974": _D("QA", "Qatar"),
    "975": _D("BT", "Bhutan"),
    "976": _D("MN", "Mongolia"),
    "977": _D("NP", "Nepal"),
    "979": _D(None, "International Premium Rate Service"),
    "98": _D("IR", "Iran"),
    "991": _D(None, "International Telecommunications Public Correspondence Service (trial)"),
    "992": _D("TJ", "Tajikistan"),
    "993": _D("TM", "Turkmenistan"),
    "994": _D("AZ", "Azerbaijan"),
    "995": _D("GE", "Georgia"),
    "996": _D("KG", "Kyrgyzstan"),
    "998": _D("UZ", "Uzbekistan"),
}


# NANP members other than the United States -> their area codes.
_NANP_MEMBERS: dict[Destination, tuple[str, ...]] = {
    _D("AG", "Antigua and Barbuda"): ("268",),
    _D("AI", "Anguilla"): ("264",),
    _D("AS", "American Samoa"): ("684",),
    _D("BB", "Barbados"): ("246",),
    _D("BM", "Bermuda"): ("441",),
    _D("BS", "Bahamas"): ("242",),
    _D("DM", "Dominica"): ("767",),
    _D("DO", "Dominican Republic"): ("809", "829", "849"),
    _D("GD", "Grenada"): ("473",),
    _D("GU", "Guam"): ("671",),
    _D("JM", "Jamaica"): ("876", "658"),
    _D("KN", "Saint Kitts and Nevis"): ("869",),
    _D("KY", "Cayman Islands"): ("345",),
    _D("LC", "Saint Lucia"): ("758",),
    _D("MP", "Northern Mariana Islands"): ("670",),
    _D("MS", "Montserrat"): ("664",),
    _D("PR", "Puerto Rico"): ("787", "939"),
    _D("SX", "Sint Maarten"): ("721",),
    _D("TC", "Turks and Caicos Islands"): ("649",),
    _D("TT", "Trinidad and Tobago"): ("868",),
    _D("VC", "Saint Vincent and the Grenadines"): ("784",),
    _D("VG", "British Virgin Islands"): ("284",),
    _D("VI", "U.S. Virgin Islands"): ("340",),
    _D("CA", "Canada"): (
        # Alberta, British Columbia, Manitoba, New Brunswick, Newfoundland and Labrador.
        "368", "403", "587", "780", "825",
        "236", "250", "257", "604", "672", "778",
        "204", "431", "584",
        "428", "506",
        "709", "879",
        # Nova Scotia / Prince Edward Island, Ontario.
        "782", "902",
        "226", "249", "289", "343", "365", "382", "416", "437", "519", "548", "613", "647", "683",
        "705", "742", "753", "807", "905", "942",
        # Quebec, Saskatchewan, the territories, Canadian non-geographic codes.
        "263", "354", "367", "418", "438", "450", "468", "514", "579", "581", "819", "873",
        "306", "474", "639",
        "867",
        "600", "622",
    ),
}

#: NANP area code (3 digits) -> destination, for the NANP members other than the United States. A +1
#: number whose area code is not here is in the United States (or unassigned).
NANP_AREA_CODES: dict[str, Destination] = {
    area: dest for dest, areas in _NANP_MEMBERS.items() for area in areas
}

# Heuristic list of destinations commonly abused for International Revenue Share Fraud (IRSF, "toll
# fraud", "SMS pumping"): small Pacific and Caribbean nations, several African and Eastern European
# countries with high termination rates or known premium-rate ranges, and the satellite / international
# network codes. It is compiled from public fraud-prevention guidance (the GSMA/CFCA IRSF "hot lists",
# the high-risk country lists of telephony providers such as Twilio and Telesign, and Okta's own advice
# to block high-risk countries). It is a heuristic, not an authoritative or complete list: fraud moves to
# wherever termination pays, so treat membership as a signal to combine with behaviour, never as proof.
HIGH_RISK_COUNTRIES: frozenset[str] = frozenset(
    {
        # Caribbean (including NANP members reachable with "+1").
        "AG", "AI", "BB", "BS", "CU", "DM", "DO", "GD", "HT", "JM", "KN", "KY", "LC", "MS", "SX", "TC",
        "TT", "VC", "VG", "GP", "MQ", "AW", "CW",
        # Pacific.
        "CK", "FJ", "FM", "KI", "MH", "NC", "NR", "NU", "PF", "PG", "PW", "SB", "TK", "TO", "TV", "VU",
        "WF", "WS", "TL",
        # Africa.
        "AO", "BF", "BI", "BJ", "CD", "CF", "CG", "CM", "DJ", "ER", "GA", "GM", "GN", "GQ", "GW", "KM",
        "LR", "LY", "MG", "ML", "MR", "MW", "NE", "SD", "SL", "SN", "SO", "SS", "ST", "TD", "TG", "ZW",
        "SH", "IO", "SC",
        # Europe and Central/West Asia.
        "LV", "LT", "EE", "BY", "MD", "AL", "XK", "ME", "BA", "AZ", "AM", "GE", "TJ", "TM", "UZ", "KG",
        "AF", "IQ", "SY", "YE", "PS",
        # Asia.
        "KP", "MV", "MN", "BT", "LA", "KH", "MM", "NP", "BD", "PK", "LK",
        # South America and remote territories.
        "GY", "SR", "BZ", "FK", "PM", "GL", "NF",
    }
)

_GLOBAL_SERVICE_CODES: frozenset[str] = frozenset({"870", "878", "881", "882", "883", "979", "991"})

#: Calling codes of ``HIGH_RISK_COUNTRIES`` plus the satellite, international-network and premium-rate
#: global services (870, 878, 881, 882, 883, 979, 991). "1" is never in it: for +1 numbers the risk is
#: decided by the NANP area code (see ``is_high_risk_number``).
HIGH_RISK_CALLING_CODES: frozenset[str] = frozenset(
    {code for code, dest in CALLING_CODES.items() if code != "1" and dest.iso2 in HIGH_RISK_COUNTRIES}
    | _GLOBAL_SERVICE_CODES
)
