"""Static reference data of the synthetic org (data only, no logic): countries and their cities, ISPs and
address prefixes, offices, VPN exits, browser user agents, names, and phone numbering plans.

Used by ``population`` to build the seeded users; see the package docstring for what is modelled.
"""

from __future__ import annotations

# Country -> (weight of users, English name, [(city, state, lat, lon, postal codes)]).
_COUNTRIES: dict[str, tuple[float, str, tuple[tuple[str, str, float, float, tuple[str, ...]], ...]]] = {
    "US": (38, "United States", (
        ("San Francisco", "California", 37.7897, -122.3972, ("94105", "94107", "94110")),
        ("New York", "New York", 40.7143, -74.006, ("10013", "10001", "10016")),
        ("Chicago", "Illinois", 41.8781, -87.6298, ("60601", "60614")),
        ("Austin", "Texas", 30.2672, -97.7431, ("78701", "78704")),
        ("Seattle", "Washington", 47.6062, -122.3321, ("98101", "98109")),
        ("Boston", "Massachusetts", 42.3601, -71.0589, ("02110", "02116")),
        ("Atlanta", "Georgia", 33.749, -84.388, ("30303", "30309")),
        ("Denver", "Colorado", 39.7392, -104.9903, ("80202",)),
        ("Los Angeles", "California", 34.0522, -118.2437, ("90012", "90028")),
        ("Miami", "Florida", 25.7617, -80.1918, ("33131",)),
        ("Dallas", "Texas", 32.7767, -96.797, ("75201",)),
    )),
    "CA": (6, "Canada", (
        ("Toronto", "Ontario", 43.6567, -79.34, ("M4M", "M5V")),
        ("Vancouver", "British Columbia", 49.2827, -123.1207, ("V6B",)),
        ("Montreal", "Quebec", 45.5017, -73.5673, ("H2Y",)),
        ("Calgary", "Alberta", 51.0447, -114.0719, ("T2P",)),
    )),
    "GB": (10, "United Kingdom", (
        ("London", "England", 51.5085, -0.1257, ("EC1A", "SW1A", "E14")),
        ("Manchester", "England", 53.4808, -2.2426, ("M1",)),
        ("Edinburgh", "Scotland", 55.9533, -3.1883, ("EH1",)),
        ("Bristol", "England", 51.4545, -2.5879, ("BS1",)),
    )),
    "DE": (8, "Germany", (
        ("Berlin", "Land Berlin", 52.52, 13.405, ("10115", "10178")),
        ("Munich", "Bavaria", 48.1351, 11.582, ("80331",)),
        ("Hamburg", "Hamburg", 53.5511, 9.9937, ("20095",)),
        ("Frankfurt am Main", "Hesse", 50.1109, 8.6821, ("60311",)),
    )),
    "FR": (6, "France", (
        ("Paris", "Île-de-France", 48.8566, 2.3522, ("75001", "75008", "75011")),
        ("Lyon", "Auvergne-Rhône-Alpes", 45.764, 4.8357, ("69001",)),
        ("Toulouse", "Occitanie", 43.6047, 1.4442, ("31000",)),
    )),
    "IN": (10, "India", (
        ("Bengaluru", "Karnataka", 12.9716, 77.5946, ("560001", "560103")),
        ("Mumbai", "Maharashtra", 19.076, 72.8777, ("400001",)),
        ("Hyderabad", "Telangana", 17.385, 78.4867, ("500081",)),
        ("Pune", "Maharashtra", 18.5204, 73.8567, ("411001",)),
    )),
    "BR": (5, "Brazil", (
        ("São Paulo", "Sao Paulo", -23.5505, -46.6333, ("01310", "04538")),
        ("Rio de Janeiro", "Rio de Janeiro", -22.9068, -43.1729, ("20040",)),
    )),
    "AU": (4, "Australia", (
        ("Sydney", "New South Wales", -33.8688, 151.2093, ("2000",)),
        ("Melbourne", "Victoria", -37.8136, 144.9631, ("3000",)),
    )),
    "JP": (3, "Japan", (
        ("Tokyo", "Tokyo", 35.6762, 139.6503, ("100-0001", "150-0002")),
        ("Osaka", "Osaka", 34.6937, 135.5023, ("530-0001",)),
    )),
    "ES": (2, "Spain", (("Madrid", "Madrid", 40.4168, -3.7038, ("28001",)),
                        ("Barcelona", "Catalonia", 41.3874, 2.1686, ("08001",)))),
    "IT": (2, "Italy", (("Milan", "Lombardy", 45.4642, 9.19, ("20121",)),
                        ("Rome", "Lazio", 41.9028, 12.4964, ("00118",)))),
    "NL": (2, "Netherlands", (("Amsterdam", "North Holland", 52.3676, 4.9041, ("1012",)),)),
    "MX": (2, "Mexico", (("Mexico City", "Mexico City", 19.4326, -99.1332, ("06000",)),)),
    "IE": (1, "Ireland", (("Dublin", "Leinster", 53.3498, -6.2603, ("D02",)),)),
    "SG": (1, "Singapore", (("Singapore", "Central Singapore", 1.2897, 103.8501, ("018989",)),)),
}

# ISPs per country: (asNumber, asOrg, isp, domain, address prefixes). Prefixes ending in ":" are IPv6.
_ISPS: dict[str, tuple[tuple[int, str, str, str, tuple[str, ...]], ...]] = {
    "US": (
        (7922, "comcast cable communications, llc", "comcast cable", "comcast.net", ("73.170", "24.4", "98.207")),
        (7018, "at&t corp.", "att services inc", "sbcglobal.net", ("99.43", "107.77", "76.201")),
        (701, "verizon business", "verizon fios", "verizon.net", ("71.178", "108.35", "96.255")),
        (20115, "charter communications", "spectrum", "spectrum.com", ("47.147", "66.91", "97.92")),
        (21928, "t-mobile usa, inc.", "t-mobile usa", "tmodns.net", ("2607:fb90:", "172.56")),
    ),
    "CA": (
        (812, "rogers communications canada inc.", "rogers", "rogers.com", ("99.230", "174.112")),
        (577, "bell canada", "bell canada", "bell.ca", ("142.126", "70.49")),
        (852, "telus communications inc.", "telus", "telus.net", ("154.20", "75.156")),
    ),
    "GB": (
        (2856, "british telecommunications plc", "bt", "btcentralplus.com", ("86.128", "81.129")),
        (5089, "virgin media limited", "virgin media", "virginm.net", ("82.14", "81.98")),
        (5607, "sky uk limited", "sky broadband", "sky.com", ("2.99", "90.216")),
    ),
    "DE": (
        (3320, "deutsche telekom ag", "deutsche telekom ag", "t-ipconnect.de", ("79.192", "87.123", "91.41")),
        (3209, "vodafone gmbh", "vodafone germany", "vodafone.de", ("88.64", "94.134")),
    ),
    "FR": (
        (3215, "orange s.a.", "orange", "orange.fr", ("90.3", "86.246")),
        (12322, "free sas", "free", "proxad.net", ("78.192", "88.160")),
        (15557, "societe francaise du radiotelephone - sfr sa", "sfr", "sfr.net", ("109.6", "93.22")),
    ),
    "IN": (
        (55836, "reliance jio infocomm limited", "reliance jio", "jio.com", ("49.36", "157.32")),
        (24560, "bharti airtel ltd.", "bharti airtel", "airtel.in", ("122.161", "182.64")),
    ),
    "BR": (
        (18881, "telefonica brasil s.a", "vivo", "telesp.net.br", ("177.103", "189.100")),
        (28573, "claro nxt telecomunicacoes ltda", "claro", "virtua.com.br", ("177.32", "179.191")),
    ),
    "AU": (
        (1221, "telstra corporation ltd", "telstra", "bigpond.net.au", ("101.160", "120.16")),
        (4804, "optus internet", "optus", "optusnet.com.au", ("49.176", "112.213")),
    ),
    "JP": (
        (4713, "ntt communications corporation", "ntt ocn", "ocn.ne.jp", ("153.140", "60.36")),
        (2516, "kddi corporation", "kddi", "au-net.ne.jp", ("106.128", "111.104")),
        (17676, "softbank corp.", "softbank", "bbtec.net", ("126.0", "126.75")),
    ),
    "ES": ((3352, "telefonica de espana", "movistar", "rima-tde.net", ("83.38", "88.0")),),
    "IT": ((3269, "telecom italia s.p.a.", "tim", "telecomitalia.it", ("79.11", "93.36")),),
    "NL": ((1136, "kpn b.v.", "kpn", "kpn.net", ("77.160", "84.104")),),
    "MX": ((8151, "uninet s.a. de c.v.", "telmex", "prod-infinitum.com.mx", ("189.146", "187.190")),),
    "IE": ((5466, "eircom limited", "eir", "eircom.net", ("86.40", "87.198")),),
    "SG": ((9506, "singtel fibre broadband", "singtel", "singnet.com.sg", ("116.86", "220.255")),),
}

# Corporate offices: several users behind one NAT address, in a named network zone.
_OFFICES: tuple[tuple[str, int, int, str, str, str, str], ...] = (
    ("US", 0, 3356, "level 3 parent, llc", "lumen", "lumen.com", "4.14.88"),
    ("GB", 0, 8220, "colt technology services group limited", "colt", "colt.net", "212.36.12"),
    ("DE", 0, 3320, "deutsche telekom ag", "deutsche telekom business", "telekom.de", "80.146.200"),
    ("IN", 0, 4755, "tata communications limited", "tata communications", "tatacommunications.com", "115.112.40"),
)
_OFFICE_ZONE = "Corporate Network"

# Commercial VPN exits some legitimate users sit behind (isProxy true): noise for proxy-based rules.
_VPNS: tuple[tuple[int, str, str, str, str, str], ...] = (
    (9009, "m247 europe srl", "m247 ltd", "m247.com", "146.70", "NL"),
    (60068, "datacamp limited", "datacamp limited", "cdn77.com", "89.187", "DE"),
)

# Real browser user agents: (raw user agent, os, browser, device, weight).
_BLINK = "AppleWebKit/537.36 (KHTML, like Gecko)"
_CHROME = "Chrome/124.0.0.0 Safari/537.36"
_SAFARI = "AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1"
_WINDOWS = "Mozilla/5.0 (Windows NT 10.0; Win64; x64)"
_MAC = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7)"
_USER_AGENTS: tuple[tuple[str, str, str, str, float], ...] = (
    (f"{_WINDOWS} {_BLINK} {_CHROME}", "Windows 10", "CHROME", "Computer", 26),
    (f"{_WINDOWS} {_BLINK} {_CHROME} Edg/124.0.2478.80", "Windows 10", "CHROMIUM_EDGE", "Computer", 12),
    ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0", "Windows 10",
     "FIREFOX", "Computer", 4),
    (f"{_MAC} {_BLINK} {_CHROME}", "Mac OS X", "CHROME", "Computer", 18),
    (f"{_MAC} {_SAFARI} Safari/605.1.15", "Mac OS X", "SAFARI", "Computer", 7),
    ("Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:125.0) Gecko/20100101 Firefox/125.0", "Mac OS X",
     "FIREFOX", "Computer", 3),
    (f"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) {_SAFARI} Mobile/15E148 Safari/604.1", "iOS",
     "SAFARI", "Mobile", 14),
    (f"Mozilla/5.0 (Linux; Android 10; K) {_BLINK} Chrome/124.0.0.0 Mobile Safari/537.36", "Android",
     "CHROME", "Mobile", 10),
    (f"Mozilla/5.0 (X11; Linux x86_64) {_BLINK} {_CHROME}", "Linux", "CHROME", "Computer", 3),
    (f"Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) {_BLINK} {_CHROME}", "Chrome OS", "CHROME", "Computer", 3),
)
_HEADLESS_UA = (f"Mozilla/5.0 (X11; Linux x86_64) {_BLINK} HeadlessChrome/122.0.6261.94 Safari/537.36", "Linux",
                "CHROME", "Computer")

_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "en": (("James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David", "Sarah",
            "Daniel", "Emily", "Chris", "Jessica", "Kevin", "Laura", "Brian", "Megan", "Olivia", "Liam"),
           ("Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor", "Clark",
            "Lewis", "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Murphy")),
    "de": (("Lukas", "Anna", "Jonas", "Lea", "Felix", "Lena", "Maximilian", "Hannah", "Paul", "Sophie"),
           ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann")),
    "fr": (("Louis", "Camille", "Hugo", "Chloé", "Lucas", "Manon", "Jules", "Inès", "Arthur", "Léa"),
           ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Lefèvre")),
    "in": (("Aarav", "Priya", "Vivaan", "Ananya", "Arjun", "Diya", "Rohan", "Kavya", "Rahul", "Sneha"),
           ("Sharma", "Patel", "Iyer", "Reddy", "Gupta", "Nair", "Kumar", "Singh", "Menon", "Rao")),
    "pt": (("João", "Maria", "Pedro", "Ana", "Lucas", "Juliana", "Gabriel", "Beatriz", "Rafael"),
           ("Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Costa", "Ferreira")),
    "ja": (("Haruto", "Yui", "Sota", "Aoi", "Ren", "Hina", "Yuto", "Sakura"),
           ("Sato", "Suzuki", "Takahashi", "Tanaka", "Watanabe", "Ito", "Yamamoto", "Nakamura")),
    "es": (("Alejandro", "Lucía", "Pablo", "Sofía", "Diego", "Valeria", "Javier", "Carmen"),
           ("García", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Hernández")),
    "it": (("Francesco", "Giulia", "Alessandro", "Chiara", "Lorenzo", "Martina"),
           ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo")),
    "nl": (("Daan", "Emma", "Sem", "Julia", "Lars", "Sanne"),
           ("de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser")),
    "zh": (("Wei", "Jing", "Ming", "Li", "Hui", "Jun"), ("Tan", "Lim", "Lee", "Ng", "Wong", "Chen")),
}
_LOCALE = {"US": "en", "CA": "en", "GB": "en", "AU": "en", "IE": "en", "DE": "de", "FR": "fr", "IN": "in",
           "BR": "pt", "JP": "ja", "ES": "es", "MX": "es", "IT": "it", "NL": "nl", "SG": "zh"}
_ASCII = str.maketrans("äöüßéèêëàâçîïôûùñóíáúãõ", "aouseeeeaaciiouunoiauao")

_NANP_US_AREAS = ("212", "415", "312", "617", "206", "512", "303", "404", "305", "713", "214", "702", "602",
                  "503", "213", "646", "917", "718", "408", "650", "510", "919", "704", "615", "801", "412",
                  "614", "313", "612", "314", "816", "703", "301", "571", "215", "201", "973", "248", "925",
                  "720")
_NANP_CA_AREAS = ("416", "647", "604", "778", "514", "438", "403", "587", "613", "905", "780", "204", "902")

# Phone plans: country -> (prefixes, random digits). NANP numbers use the fictional 555-01xx block;
# GB the Ofcom drama range 07700 900xxx; AU the ACMA drama block 0491 570 xxx; FR the ARCEP fiction range
# 06 39 98 xx xx; IE the ComReg drama range 020 910 xxxx. Other countries have no reserved fiction range:
# their numbers are only valid-looking (they might be someone's real number: never dial them).
_PHONE_PLANS: dict[str, tuple[tuple[str, ...], int]] = {
    "US": (tuple(f"+1{area}55501" for area in _NANP_US_AREAS), 2),
    "CA": (tuple(f"+1{area}55501" for area in _NANP_CA_AREAS), 2),
    "GB": (("+447700900",), 3),
    "AU": (("+61491570",), 3),
    "FR": (("+3363998",), 4),
    "IE": (("+35320910",), 4),
    "DE": (("+49151", "+49160", "+49176"), 8),
    "IN": (("+9198", "+9199", "+9190"), 8),
    "BR": (("+55119", "+55219"), 8),
    "JP": (("+8190", "+8180"), 8),
    "ES": (("+346",), 8),
    "IT": (("+3934", "+3933"), 8),
    "NL": (("+316",), 8),
    "MX": (("+5255",), 8),
    "SG": (("+658", "+659"), 7),
}
# A few users have a phone abroad, some in destinations that fraud heuristics flag: realistic noise.
_FOREIGN_PHONES: tuple[tuple[str, int], ...] = (
    ("+234803", 7), ("+88017", 8), ("+92300", 7), ("+1809555", 4), ("+371200", 5), ("+37060", 6),
    ("+2547", 8), ("+971501", 6), ("+6327", 7), ("+4812", 7),
)
