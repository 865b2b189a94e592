"""Writes the area-code table the engine ships (engine/schedule/areacodes.tsv): every North
American area code libphonenumber knows is assigned, with its country, state or province and
IANA time zones, plus the hand corrections below, each named in the file's header and row.

    pip install 'phonenumbers>=8.13'      # the full build: the lite one has no zone data
    python -m tools.areacodes > engine/schedule/areacodes.tsv

Run it again when a new phonenumbers release adds area codes (tests/test_zones.py fails then,
naming them). The engine reads the file at run time and never imports this module.
"""

from __future__ import annotations

import re
import sys
from datetime import UTC, datetime
from itertools import product

import phonenumbers
from phonenumbers import PhoneMetadata
from phonenumbers.geodata import GEOCODE_DATA
from phonenumbers.tzdata import TIMEZONE_DATA

# Where the table differs from libphonenumber, and why. The engine then uses the table for
# every number of that area code, never libphonenumber's answer.
# An overlay serves the same area as the codes it overlays, so it has their zones (the whole
# union); libphonenumber gives some overlays only one zone, or a wrong one.
OVERLAYS = {
    "364": ("270",),                      # western Kentucky
    "930": ("812",),                      # southern Indiana
    "458": ("541",),                      # Oregon outside Portland, with Malheur County
    "448": ("850",),                      # the Florida panhandle
    "986": ("208",),                      # Idaho
    "236": ("250", "604"),                # British Columbia
    "257": ("250", "604"),
    "672": ("250", "604"),
    "778": ("250", "604"),
    "367": ("418",),                      # eastern Quebec, with the Magdalen Islands
    "581": ("418",),
    "879": ("709",),                      # Newfoundland and Labrador (not Puerto_Rico)
    "639": ("306",),                      # Saskatchewan: no daylight saving time
    "474": ("306",),                      # (libphonenumber gives Winnipeg, which has it)
}
# Zones added to what libphonenumber gives, with the reason.
ADDED = {
    "270": (("America/Chicago", "America/New_York"),
            "western Kentucky is Central (libphonenumber's default for the area code is "
            "New_York, right only for the few Eastern counties such as Hardin)"),
    "219": (("America/Chicago", "America/New_York"),
            "northwest Indiana is Central (libphonenumber's default for the area code is "
            "New_York, from before Fort Wayne left it for 260 in 2002)"),
    "931": (("America/New_York",), "Cumberland County, Tennessee (Crossville) is Eastern"),
    "432": (("America/Denver",), "Culberson County, Texas (Van Horn) is Mountain"),
}

# libphonenumber's English names of US states, Canadian provinces and territories (with its
# own spellings) to their postal codes.
STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Washington D.C.": "DC", "District of Columbia": "DC",
    "Alberta": "AB", "British Columbia": "BC", "British Colombia": "BC", "Manitoba": "MB",
    "New Brunswick": "NB", "Newfoundland and Labrador": "NL", "Nova Scotia": "NS",
    "Ontario": "ON", "Prince Edward Island": "PE",
    "Quebec": "QC", "Saskatchewan": "SK", "Yukon": "YT", "Northwest Territories": "NT",
    "Nunavut": "NU",
}
# Names of an area code spanning several of them: the country is known, the state is not.
SPANNING = {"Northwest Territories/Nunavut/Yukon": "CA",
            "Nova Scotia/Prince Edward Island": "CA"}
CANADA = frozenset({"AB", "BC", "MB", "NB", "NL", "NS", "ON", "PE", "QC", "SK", "YT", "NT",
                    "NU"})
# US territories with their own area codes: the postal code is the ISO one.
US_TERRITORIES = frozenset({"PR", "VI", "GU", "MP", "AS"})
_TYPES = ("fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost",
          "personal_number", "voip", "pager", "uan", "voicemail")


def number_patterns() -> dict[str, re.Pattern[str]]:
    """Per region of the plan (US, CA, JM, ...), one pattern matching its valid national
    numbers of any type."""
    patterns = {}
    for region in phonenumbers.COUNTRY_CODE_TO_REGION_CODE[1]:
        meta = PhoneMetadata.metadata_for_region(region)
        assert meta is not None
        found = [desc.national_number_pattern for desc in (getattr(meta, t) for t in _TYPES)
                 if desc is not None and desc.national_number_pattern]
        patterns[region] = re.compile("|".join(f"(?:{p})" for p in found))
    return patterns


def assigned() -> dict[str, set[str]]:
    """Each area code with a valid number in libphonenumber's rules, and the regions whose
    rules hold one (every exchange, four sample line numbers: line numbers do not decide)."""
    patterns = number_patterns()
    found: dict[str, set[str]] = {}
    for area, exchange in product(range(200, 1000), range(200, 1000)):
        for line in ("0000", "1234", "5678", "9999"):
            regions = {r for r, p in patterns.items() if p.fullmatch(f"{area}{exchange}{line}")}
            if regions:
                found.setdefault(str(area), set()).update(regions)
                break
    return found


def zones_of(area: str) -> tuple[str, ...]:
    """Every zone libphonenumber gives any number of the area code (by its prefix data)."""
    prefix = f"1{area}"
    zones = {z for key, value in TIMEZONE_DATA.items() if key.startswith(prefix) for z in value}
    return tuple(sorted(zones - {"Etc/Unknown"}))


def state_of(area: str) -> str | None:
    """The area code's state or province from libphonenumber's geocoding data: its name for
    the whole code, else the one state its places all name ("Stamford, CT")."""
    name = GEOCODE_DATA.get(f"1{area}", {}).get("en")
    if name is not None:
        return _state(name)
    names = {_state(v["en"]) for k, v in GEOCODE_DATA.items()
             if k.startswith(f"1{area}") and "en" in v}
    return names.pop() if len(names) == 1 else None


def _state(name: str) -> str | None:
    if name in STATES:
        return STATES[name]
    tail = name.rpartition(", ")[2]
    return tail if tail in STATES.values() else None


def rows() -> list[tuple[str, str, str, str, str]]:
    """(area code, country, state, zones, correction) for every assigned area code."""
    table = []
    regions_by_area = assigned()
    for area in sorted(regions_by_area):
        zones, correction = zones_of(area), ""
        if area in OVERLAYS:
            parents = OVERLAYS[area]
            zones = tuple(sorted({z for p in parents for z in zones_of(p)}))
            correction = f"overlay of {' and '.join(parents)}: their zones"
        if area in ADDED:
            extra, why = ADDED[area]
            zones = tuple(sorted(set(zones) | set(extra)))
            correction = f"{why}: zones include {' '.join(extra)}"
        regions = regions_by_area[area] - {"US", "CA"}
        if not zones:  # toll-free, 5XX, 600, 900: shared by the whole plan, no place
            country, state = "", None
        elif len(regions) == 1:
            country = regions.pop()
            state = country if country in US_TERRITORIES else None
        else:
            state = state_of(area)
            name = GEOCODE_DATA.get(f"1{area}", {}).get("en", "")
            country = "CA" if state in CANADA else SPANNING.get(name, "US")
        table.append((area, country, state or "", " ".join(zones), correction))
    return table


def render(generated: str) -> str:
    version = phonenumbers.__version__
    lines = [
        "# NANP area codes: country (ISO 3166), state or province (postal code; empty outside",
        "# the US, its territories and Canada, or where the code spans several), IANA time",
        "# zones (several where the code spans zones; none for codes with no place: toll-free,",
        "# 5XX, 600, 900), and the correction, if any, made to libphonenumber's data.",
        f"# source: phonenumbers {version} (libphonenumber's metadata, geocoding and time zone",
        "#   data: https://github.com/daviddrysdale/python-phonenumbers)",
        f"# generated: {generated} by python -m tools.areacodes (edit corrections there, not here)",
        "# corrections (for these codes the engine uses this table, never libphonenumber's",
        "#   answer by exchange):",
        *(f"#   {area}: overlay of {' and '.join(parents)}, whose zones it takes"
          for area, parents in OVERLAYS.items()),
        *(f"#   {area}: {why}; zones include {' '.join(extra)}"
          for area, (extra, why) in ADDED.items()),
        "# area_code\tcountry\tstate\tzones\tcorrection",
    ]
    lines += ["\t".join(row) for row in rows()]
    return "\n".join(lines) + "\n"


def main() -> int:
    sys.stdout.write(render(datetime.now(UTC).date().isoformat()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
