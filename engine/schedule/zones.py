"""Where each recipient is, for the clock rules (issue 22 item 1): the IANA zones and the
state or province of a number, found in this order:

1. the list's own column (``--tz-column``): an IANA name the user vouches for;
2. libphonenumber's time zones for the number, by exchange where its data goes that deep
   (850-432 Pensacola is Central, 850-222 Tallahassee Eastern), when the full ``phonenumbers``
   package is installed (the ``timezones`` extra);
3. the area-code table the engine ships (engine/schedule/areacodes.tsv, written by
   ``python -m tools.areacodes`` from libphonenumber plus the hand corrections its header
   lists); where the table corrects libphonenumber, the table wins over step 2;
4. nothing known (toll-free and other codes with no place, an area code the table lacks):
   every zone of the fifty states, so that the window is only the hours open in all of them.

The state always comes from the area code, whatever found the zones: Florida and Oklahoma
presume residence by area code, and the state rules key on it. A recipient list of millions
goes through ``Placer``: its answers are cached by area code, or by area code and exchange
where libphonenumber's answer depends on the exchange.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from itertools import compress
from operator import itemgetter
from typing import Protocol
from zoneinfo import available_timezones

from engine.reading.phone import Problem
from engine.schedule.placement import Placement

# The local rejection of a recipient whose --tz-column cell is not an IANA zone: the list
# claims a zone the engine cannot know, so that recipient is not texted (its neighbours are).
BAD_TIMEZONE = "LCL-BAD-TIMEZONE"
# The local rejection, under quiet hours, of a number outside +1 whose zone nothing gives (no
# --tz-column cell, and libphonenumber not installed or knowing none): the every-US-zone
# fallback would text it on US hours (18:00-02:00 in London), so it is not texted at all.
NO_TIMEZONE = "LCL-NO-TIMEZONE"

# Every zone of the fifty states, west to east: a number with no known place gets the hours
# open in all of them (about 14:00-21:00 Eastern). Territories have area codes of their own.
FALLBACK_ZONES = ("Pacific/Honolulu", "America/Adak", "America/Anchorage",
                  "America/Los_Angeles", "America/Phoenix", "America/Denver",
                  "America/Chicago", "America/New_York")
FALLBACK = Placement(FALLBACK_ZONES, None, "fallback")

# Zones with a fixed offset and no daylight saving time, which people write meaning the zone
# of a place that has it ("EST" in July is an hour off New York): refused, with the place.
_OFFSET_NAMES = {"EST": "America/New_York", "MST": "America/Denver (or America/Phoenix)",
                 "HST": "Pacific/Honolulu", "EST5EDT": "America/New_York",
                 "CST6CDT": "America/Chicago", "MST7MDT": "America/Denver",
                 "PST8PDT": "America/Los_Angeles"}
AREA = itemgetter(slice(0, 5))  # "+1" and the area code of a North American number
EXCHANGE = itemgetter(slice(0, 8))  # and its exchange (libphonenumber goes no deeper)
_EXAMPLES = ("America/New_York, America/Chicago, America/Denver, America/Phoenix, "
             "America/Los_Angeles, America/Anchorage or Pacific/Honolulu")


@dataclass(frozen=True, slots=True)
class AreaCode:
    """One row of the shipped table. ``country`` is ISO 3166 (US, CA, PR, JM, ...), empty for
    codes the whole plan shares (toll-free, 5XX, 600, 900); ``state`` the postal code of the
    state, territory or province, None outside them or where the code spans several;
    ``zones`` empty when the code has no place; ``correction`` why the table differs from
    libphonenumber here (empty when it does not)."""

    code: str
    country: str
    state: str | None
    zones: tuple[str, ...]
    correction: str


@dataclass(frozen=True, slots=True)
class AreaCodeTable:
    """The table with what its header says of it: ``source`` (the phonenumbers version it was
    made from) and ``generated`` (the date)."""

    codes: Mapping[str, AreaCode]
    source: str
    generated: str


def parse_table(text: str) -> AreaCodeTable:
    """The table from its text: ``#`` header lines, then one tab-separated row per code."""
    codes, header = {}, {}
    for line in text.splitlines():
        if line.startswith("#"):
            key, sep, value = line[1:].strip().partition(": ")
            if sep and key in ("source", "generated"):
                header[key] = value.split(" (")[0].split(" by ")[0]
        elif line:
            # Padded: an editor stripping the trailing tab of an uncorrected row breaks nothing.
            code, country, state, zones, correction = (line.split("\t") + [""] * 4)[:5]
            codes[code] = AreaCode(code, country, state or None, tuple(zones.split()), correction)
    return AreaCodeTable(codes, header.get("source", ""), header.get("generated", ""))


@cache
def area_code_table() -> AreaCodeTable:
    """The table shipped in the package (read once)."""
    return parse_table(resources.files("engine.schedule").joinpath("areacodes.tsv")
                       .read_text("utf-8"))


class ZoneLookup(Protocol):
    """A source of zones by number (libphonenumber's, or a test's)."""

    def zones(self, number: str) -> tuple[str, ...]:
        """The zones of an E.164 number, () when the source knows none."""

    def digits(self, area_code: str) -> int:
        """How many national digits decide ``zones`` in this area code: 3 when the area code
        alone does (answers are then cached by area code), 6 with the exchange."""


class LibPhoneNumberZones:
    """libphonenumber's time zones (``phonenumbers.timezone``), by the longest prefix its data
    has: the area code, or the area code and exchange where a code spans zones."""

    def __init__(self) -> None:
        import phonenumbers
        from phonenumbers import timezone
        from phonenumbers.tzdata import TIMEZONE_DATA, TIMEZONE_LONGEST_PREFIX

        self._parse = phonenumbers.parse
        self._unparsable = phonenumbers.NumberParseException
        self._zones_for = timezone.time_zones_for_geographical_number
        depth: dict[str, int] = {}
        for key in TIMEZONE_DATA:
            if key.startswith("1") and len(key) >= 4:
                depth[key[1:4]] = max(depth.get(key[1:4], 3), len(key) - 1)
        # Area codes absent from its data get the answer for all of +1 (dozens of zones, the
        # toll-free case): that is no answer.
        self._depth = depth
        self._data: Mapping[str, Sequence[str]] = TIMEZONE_DATA
        self._longest: int = TIMEZONE_LONGEST_PREFIX

    def zones(self, number: str) -> tuple[str, ...]:
        if number.startswith("+1") and number[2:5] not in self._depth:
            return ()
        if not number.startswith("+1") and number[1:].isdigit():
            return self._by_prefix(number)
        try:
            found = tuple(self._zones_for(self._parse(number, None)))
        except self._unparsable:
            return ()
        return () if "Etc/Unknown" in found else found

    def digits(self, area_code: str) -> int:
        return self._depth.get(area_code, 3)

    def _by_prefix(self, number: str) -> tuple[str, ...]:
        """An E.164 number outside +1, by the longest prefix libphonenumber's zone data holds
        (what ``time_zones_for_geographical_number`` does after formatting the number as
        E.164, which it already is): no parse per number."""
        for length in range(min(self._longest, len(number) - 1), 0, -1):
            found = self._data.get(number[1:1 + length])
            if found is not None:
                return () if "Etc/Unknown" in found else tuple(found)
        return ()


def libphonenumber_zones() -> LibPhoneNumberZones | None:
    """libphonenumber's zones when the full ``phonenumbers`` package is installed; None with
    the lite build (no zone data) or none."""
    try:
        return LibPhoneNumberZones()
    except ImportError:
        return None


@cache
def _zone_names() -> dict[str, str]:
    """Every IANA zone name the system knows, by its lower-case spelling."""
    return {name.lower(): name for name in available_timezones()}


def check_zone(value: str, column: str = "--tz-column") -> str | Problem:
    """The IANA zone ``value`` names (any case, surrounding spaces ignored), or the Problem
    that makes its recipient a local rejection (``LCL-BAD-TIMEZONE``)."""
    name = value.strip()
    if name.upper() in _OFFSET_NAMES:
        return Problem(BAD_TIMEZONE, f"the time zone {value!r} ({column}) is a fixed "
                       "offset, not the zone of a place (it ignores daylight saving "
                       f"time); write {_OFFSET_NAMES[name.upper()]}, or leave the cell empty "
                       "to place the recipient by the number")
    canonical = _zone_names().get(name.lower())
    if canonical is None:
        return Problem(BAD_TIMEZONE, f"the time zone {value!r} ({column}) is not an "
                       f"IANA time zone name; write one such as {_EXAMPLES}, or leave the "
                       "cell empty to place the recipient by the number")
    return canonical


class Placer:
    """Each recipient's Placement (zones, state, source), cached by area code, or by area
    code and exchange where libphonenumber's answer depends on it. One per run: the caches
    hold at most a Placement per area code, per exchange of the few split codes, and per
    (zone, area code) of the column."""

    def __init__(self, lookup: ZoneLookup | None = None, table: AreaCodeTable | None = None,
                 column: str = "--tz-column") -> None:
        self._lookup = lookup
        self._codes = (table or area_code_table()).codes
        self._column = column
        # Area codes whose answer is cached by a longer prefix: libphonenumber's split codes
        # that the table does not correct (or lacks: libphonenumber may be the newer).
        corrected = {area for area, row in self._codes.items() if row.correction}
        self._depth = {} if lookup is None else {
            area: digits for area in map(str, range(200, 1000))
            if (digits := lookup.digits(area)) > 3 and area not in corrected}
        self._by_prefix: dict[str, Placement] = {}
        self._by_column: dict[tuple[str, str], Placement | Problem] = {}
        # numbers outside +1 (--any-country), by their zones: one Placement for each answer
        self._by_zones: dict[tuple[str, ...], Placement] = {}

    def __call__(self, number: str, column_zone: str | None = None) -> Placement | Problem:
        """Where the E.164 ``number`` is; ``column_zone`` is its --tz-column cell (None or
        blank: place by the number). A Problem for a cell that names no zone."""
        if column_zone is not None and column_zone.strip():
            return self._column_placement(number, column_zone)
        return self.by_number(number)

    @property
    def split_heads(self) -> frozenset[str]:
        """``+1`` and the area codes whose answer depends on the exchange (``tally`` counts
        their numbers by exchange)."""
        return frozenset(f"+1{area}" for area in self._depth)

    def by_number(self, number: str) -> Placement:
        """Where the E.164 ``number`` is, by the number alone."""
        if len(number) != 12 or not number.startswith("+1"):
            return self._foreign(number)  # not North American: no area code
        area = number[2:5]
        key = number[2:2 + self._depth.get(area, 3)]
        placed = self._by_prefix.get(key)
        if placed is None:
            placed = self._by_prefix[key] = self._place(number, self._codes.get(area))
        return placed

    def tally(self, numbers: Sequence[str], into: Counter[Placement]) -> None:
        """Add the Placement of each E.164 number to ``into``: the numbers are counted by
        area code first (in C), and each area code placed once; the numbers of the codes
        whose answer depends on the exchange are counted by exchange and each exchange
        placed once. The same counts as placing each number, at a fraction of the cost (a
        plan of millions places every recipient)."""
        if not numbers:
            return
        if max(map(len, numbers)) != 12 or min(map(len, numbers)) != 12:
            for number in numbers:  # numbers outside +1 (--any-country): one by one
                into[self.by_number(number)] += 1
            return
        by_area = Counter(map(AREA, numbers))
        deep, foreign = set(), set()
        for head, n in by_area.items():
            if not head.startswith("+1"):
                foreign.add(head)
            elif head[2:5] in self._depth:
                deep.add(head)
            else:  # the answer is the area code's: any exchange gives it
                into[self.by_number(head + "5550100")] += n
        if deep:
            ours = compress(numbers, map(deep.__contains__, map(AREA, numbers)))
            for prefix, n in Counter(map(EXCHANGE, ours)).items():
                into[self.by_number(prefix + "0000")] += n
        if foreign:  # numbers outside +1 (--any-country), twelve characters long
            for number in compress(numbers, map(foreign.__contains__, map(AREA, numbers))):
                into[self.by_number(number)] += 1

    def unknown_zone(self, number: str) -> Problem | None:
        """Under quiet hours, the Problem (``LCL-NO-TIMEZONE``) of an E.164 number outside +1
        whose zone nothing gives; None for a number that has one (every number of +1 has:
        its area code's, or the hours open in every US zone)."""
        if number.startswith("+1") or self.by_number(number).source != "fallback":
            return None
        why = ("libphonenumber knows no zone for it" if self._lookup is not None else
               "libphonenumber is not installed")
        given = self._column != "--tz-column"  # the Placer of a run with a zone column
        where = f"no {self._column} value" if given else "no --tz-column"
        fix = ("write its IANA zone (e.g. Europe/London) in that column" if given else
               "give the list a column of IANA zones (e.g. Europe/London) with --tz-column NAME")
        return Problem(NO_TIMEZONE, f"{number} is outside +1 and its time zone is unknown "
                       f"({where}, and {why}), so under quiet hours it is not texted (it would "
                       f"be on US hours); {fix}, or install a2p-batch-engine[timezones] (the "
                       "full libphonenumber) to place it by its number")

    def _foreign(self, number: str) -> Placement:
        zones = self._lookup.zones(number) if self._lookup is not None else ()
        if not zones:
            return FALLBACK
        placed = self._by_zones.get(zones)
        if placed is None:
            placed = Placement(zones, None, "libphonenumber")
            if len(self._by_zones) < 10_000:
                self._by_zones[zones] = placed
        return placed

    def _place(self, number: str, row: AreaCode | None) -> Placement:
        if row is not None and not row.zones:
            return FALLBACK  # toll-free and the like: libphonenumber's answer is dozens
        if self._lookup is not None and (row is None or not row.correction):
            zones = self._lookup.zones(number)
            if zones:
                return Placement(zones, None if row is None else row.state, "libphonenumber")
        if row is not None:
            return Placement(row.zones, row.state, "area-code")
        return FALLBACK

    def _column_placement(self, number: str, value: str) -> Placement | Problem:
        area = number[2:5] if number.startswith("+1") else ""
        placed = self._by_column.get((value, area))
        if placed is None:
            zone = check_zone(value, self._column)
            row = self._codes.get(area)
            placed = zone if isinstance(zone, Problem) else \
                Placement((zone,), None if row is None else row.state, "column")
            if len(self._by_column) < 100_000:  # a column of free text must not grow it
                self._by_column[(value, area)] = placed
        return placed


def placer(use_libphonenumber: bool = True, column: str = "--tz-column") -> Placer:
    """The run's Placer: libphonenumber's zones when installed (and wanted), else the table."""
    return Placer(libphonenumber_zones() if use_libphonenumber else None, column=column)
