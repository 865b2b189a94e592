"""Each recipient's time zones and state (engine/schedule/zones.py, issue 22 item 1): the list's
column, libphonenumber by exchange, the shipped area-code table, the all-states fallback."""

from __future__ import annotations

import re
import sys
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import phonenumbers
import pytest
from phonenumbers import timezone as lib_timezone

from engine.reading.phone import Problem, nanp_problem
from engine.schedule.placement import Placement
from engine.schedule.zones import (
    BAD_TIMEZONE,
    FALLBACK_ZONES,
    AreaCodeTable,
    Placer,
    area_code_table,
    libphonenumber_zones,
    parse_table,
    placer,
)

ROOT = Path(__file__).resolve().parent.parent
TABLE = ROOT / "engine" / "schedule" / "areacodes.tsv"


@pytest.fixture(scope="module")
def lib() -> Placer:
    """A Placer with libphonenumber's zones (the full package is in the test extra)."""
    lookup = libphonenumber_zones()
    assert lookup is not None, "the test extra installs the full phonenumbers package"
    return Placer(lookup)


@pytest.fixture(scope="module")
def table_only() -> Placer:
    return Placer(None)


def placed(result: Placement | Problem) -> Placement:
    assert isinstance(result, Placement), result
    return result


def offsets(zone: str, year: int = 2027) -> list[timedelta | None]:
    """The zone's UTC offset at noon UTC on every day of a year (zoneinfo, never fixed)."""
    start = datetime(year, 1, 1, 12, tzinfo=UTC)
    return [(start + timedelta(days=d)).astimezone(ZoneInfo(zone)).utcoffset()
            for d in range(365)]


# The exchange decides where libphonenumber knows it does --------------------------------------

def test_pensacola_is_central_and_tallahassee_eastern_by_exchange(lib: Placer) -> None:
    """850-432 (Pensacola) is Central and 850-222 (Tallahassee) Eastern, both in Florida."""
    assert lib("+18504321234") == Placement(("America/Chicago",), "FL", "libphonenumber")
    assert lib("+18502221234") == Placement(("America/New_York",), "FL", "libphonenumber")


def test_the_table_alone_gives_every_zone_of_the_area_code(table_only: Placer) -> None:
    """Without libphonenumber, every 850 number gets both of the panhandle's zones."""
    for number in ("+18504321234", "+18502221234"):
        assert table_only(number) == Placement(("America/Chicago", "America/New_York"), "FL",
                                               "area-code")


def test_without_the_full_package_the_table_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    """With no phonenumbers (or the lite build, which lacks zone data) the run uses the table."""
    monkeypatch.setitem(sys.modules, "phonenumbers", None)
    assert libphonenumber_zones() is None
    assert placed(placer()("+18504321234")).source == "area-code"


# Places the rules single out -------------------------------------------------------------------

def test_arizona_keeps_standard_time_all_year(lib: Placer, table_only: Placer) -> None:
    """Phoenix numbers are America/Phoenix, UTC-7 on every day of the year (no DST)."""
    for place in (lib, table_only):
        assert placed(place("+16025550100")).zones == ("America/Phoenix",)
    assert set(offsets("America/Phoenix")) == {timedelta(hours=-7)}


def test_northeast_arizona_includes_the_navajo_nation_which_observes_dst(
        table_only: Placer) -> None:
    """928 spans the Navajo Nation (Mountain with DST) and the rest of Arizona (without)."""
    assert placed(table_only("+19285550100")).zones == ("America/Denver", "America/Phoenix")


def test_hawaii(lib: Placer, table_only: Placer) -> None:
    """808 is Pacific/Honolulu, UTC-10 all year, with state HI."""
    assert lib("+18085550100") == Placement(("Pacific/Honolulu",), "HI", "libphonenumber")
    assert table_only("+18085550100") == Placement(("Pacific/Honolulu",), "HI", "area-code")
    assert set(offsets("Pacific/Honolulu")) == {timedelta(hours=-10)}


def test_indiana_numbers_keep_indiana_time(lib: Placer, table_only: Placer) -> None:
    """Indianapolis, Fort Wayne and Muncie numbers get a zone whose offset equals
    America/Indiana/Indianapolis on every day of the year; northwest Indiana (219) may be
    Central; an America/Indiana/* name in the column is taken as written."""
    for number in ("+13175550100", "+12605550100", "+17655550100"):
        for place in (lib, table_only):
            (zone,) = placed(place(number)).zones
            assert offsets(zone) == offsets("America/Indiana/Indianapolis"), number
            assert placed(place(number)).state == "IN"
    assert "America/Chicago" in placed(lib("+12195550100")).zones
    assert lib("+12195550100", "America/Indiana/Knox") == Placement(
        ("America/Indiana/Knox",), "IN", "column")


def test_canadian_numbers_get_their_province(lib: Placer, table_only: Placer) -> None:
    """Toronto is America/Toronto in ON; Saskatchewan's 306 and its overlay 474 are
    America/Regina (no DST), though libphonenumber gives 474 Winnipeg."""
    for place in (lib, table_only):
        assert placed(place("+14165550100")).zones == ("America/Toronto",)
        assert placed(place("+14165550100")).state == "ON"
        assert placed(place("+13065550100")).zones == ("America/Regina",)
    assert lib("+14745550100") == Placement(("America/Regina",), "SK", "area-code")


def test_western_kentucky_is_central_whatever_libphonenumber_says(lib: Placer) -> None:
    """libphonenumber gives most of 270 America/New_York; the table's correction wins: every
    270 number gets Central and Eastern (the window open in both)."""
    assert lib("+12705551234") == Placement(("America/Chicago", "America/New_York"), "KY",
                                            "area-code")


@pytest.mark.parametrize("number", ["+18005550100", "+18885550100", "+18335550100",
                                    "+19005550100", "+15005550100"])
def test_toll_free_and_non_geographic_numbers_fall_back(lib: Placer, table_only: Placer,
                                                        number: str) -> None:
    """Toll-free (libphonenumber: dozens of zones) and other codes with no place get every
    zone of the fifty states and no state: only the hours open in all of them."""
    for place in (lib, table_only):
        assert place(number) == Placement(FALLBACK_ZONES, None, "fallback")


def test_an_unassigned_area_code_falls_back(lib: Placer) -> None:
    """A textable number in an area code no one has (222) is placed nowhere in particular."""
    assert lib("+12225550100") == Placement(FALLBACK_ZONES, None, "fallback")


# The list's column ----------------------------------------------------------------------------

def test_the_column_wins_and_the_state_still_comes_from_the_area_code(lib: Placer) -> None:
    """A Pensacola number whose column says America/New_York is Eastern, state FL (Florida
    presumes residence by area code); spelling case and spaces do not matter; a blank cell
    places by the number."""
    assert lib("+18504321234", " america/new_york ") == Placement(
        ("America/New_York",), "FL", "column")
    assert lib("+18504321234", "  ") == lib("+18504321234")


@pytest.mark.parametrize(("value", "named"), [
    ("Mars/Olympus_Mons", "is not an IANA time zone name"),
    ("Eastern", "is not an IANA time zone name"),
    ("EST", "write America/New_York"),
    ("PST8PDT", "write America/Los_Angeles"),
])
def test_a_zone_the_engine_cannot_know_rejects_that_recipient(lib: Placer, value: str,
                                                              named: str) -> None:
    """An unknown name, or a fixed offset written for a place, is LCL-BAD-TIMEZONE naming
    the value, the column and the fix."""
    problem = Placer(libphonenumber_zones(), column="column tz")(
        "+18504321234", value)
    assert isinstance(problem, Problem)
    assert problem.code == BAD_TIMEZONE == "LCL-BAD-TIMEZONE"
    assert f"{value!r} (column tz)" in problem.message
    assert named in problem.message
    assert "leave the cell empty" in problem.message


# Caches ---------------------------------------------------------------------------------------

class CountingLookup:
    """A lookup whose answer is the exchange itself where the area code is split (850),
    the area code otherwise; it counts its calls."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def zones(self, number: str) -> tuple[str, ...]:
        self.calls.append(number)
        return (f"Zone/{number[2:8]}",) if number[2:5] == "850" else (f"Zone/{number[2:5]}",)

    def digits(self, area_code: str) -> int:
        return 6 if area_code == "850" else 3


def test_answers_are_cached_by_area_code_or_exchange() -> None:
    """One lookup per area code, one per exchange where the exchange decides, and every
    number still gets the answer for its own exchange."""
    lookup = CountingLookup()
    place = Placer(lookup)
    assert placed(place("+14155550100")).zones == ("Zone/415",)
    assert placed(place("+14152220199")).zones == ("Zone/415",)
    assert placed(place("+18504321234")).zones == ("Zone/850432",)
    assert placed(place("+18504329999")).zones == ("Zone/850432",)
    assert placed(place("+18502221234")).zones == ("Zone/850222",)
    assert lookup.calls == ["+14155550100", "+18504321234", "+18502221234"]


def test_a_code_missing_from_the_table_is_still_cached_by_exchange() -> None:
    """With a table older than libphonenumber (850 missing), 850-432 and 850-222 still get
    their own exchange's answers, with no state (the table's, which has none for 850)."""
    full = area_code_table()
    older = AreaCodeTable({k: v for k, v in full.codes.items() if k != "850"}, full.source,
                          full.generated)
    place = Placer(libphonenumber_zones(), older)
    assert place("+18504321234") == Placement(("America/Chicago",), None, "libphonenumber")
    assert place("+18502221234") == Placement(("America/New_York",), None, "libphonenumber")


def test_cached_answers_equal_fresh_ones(lib: Placer) -> None:
    """Across every exchange of the codes libphonenumber splits (and a few whole ones), a
    long-lived Placer answers exactly as a new one does for each number."""
    lookup = libphonenumber_zones()
    areas = ["850", "270", "423", "605", "701", "907", "208", "541", "812", "415", "867"]
    for area in areas:
        for exchange in range(200, 1000, 7):
            number = f"+1{area}{exchange}4567"
            assert lib(number) == Placer(lookup)(number), number


# The shipped table -----------------------------------------------------------------------------

def test_the_table_covers_every_assigned_textable_area_code() -> None:
    """Its codes are exactly those the number check lets through and the installed
    libphonenumber has numbers in (else: python -m tools.areacodes, see its docstring)."""
    from tools.areacodes import number_patterns  # loads libphonenumber's geocoding data

    patterns = number_patterns()
    valid = re.compile("|".join(f"(?:{p.pattern})" for p in patterns.values()))
    codes = area_code_table().codes
    textable = [str(a) for a in range(200, 1000) if nanp_problem(f"+1{a}2345678") is None]
    assigned = {a for a in textable
                if any(valid.fullmatch(f"{a}{exchange}{line}") for exchange in range(200, 1000)
                       for line in ("0000", "1234", "5678", "9999"))}
    assert set(codes) == assigned, (sorted(assigned - set(codes)), sorted(set(codes) - assigned))
    assert not phonenumbers.is_valid_number(phonenumbers.parse("+12225550100"))


def test_the_table_agrees_with_libphonenumber(lib: Placer) -> None:
    """For every uncorrected code, libphonenumber's zones for a number in it are among the
    table's; states match libphonenumber's place names on a sample."""
    codes = area_code_table().codes
    for row in codes.values():
        if row.zones and not row.correction:
            found = lib_timezone.time_zones_for_geographical_number(
                phonenumbers.parse(f"+1{row.code}2345678"))
            assert set(found) <= set(row.zones), (row.code, found, row.zones)
    sample = {"212": ("US", "NY"), "213": ("US", "CA"), "305": ("US", "FL"),
              "405": ("US", "OK"), "512": ("US", "TX"), "202": ("US", "DC"),
              "604": ("CA", "BC"), "514": ("CA", "QC"), "787": ("PR", "PR"),
              "876": ("JM", None), "345": ("KY", None), "664": ("MS", None)}
    assert {a: (codes[a].country, codes[a].state) for a in sample} == sample


def test_every_zone_in_the_table_is_a_zone_zoneinfo_knows() -> None:
    """Each zone loads (an unknown one would fail the run when the windows are computed)."""
    zones = {z for row in area_code_table().codes.values() for z in row.zones}
    assert zones >= set(FALLBACK_ZONES) - {"America/Adak"}
    for zone in zones | set(FALLBACK_ZONES):
        ZoneInfo(zone)


def test_the_table_names_its_source_date_and_corrections() -> None:
    """The header names the phonenumbers version and the date; every corrected row is listed
    in it with the reason."""
    table = area_code_table()
    assert re.fullmatch(r"phonenumbers \d+\.\d+\.\d+", table.source)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", table.generated)
    header = "\n".join(line for line in TABLE.read_text("utf-8").splitlines()
                       if line.startswith("#"))
    corrected = [row.code for row in table.codes.values() if row.correction]
    assert {"270", "364", "219", "448", "474", "879"} <= set(corrected)
    for code in corrected:
        assert f"#   {code}: " in header
    text = TABLE.read_text("utf-8")
    assert parse_table(text) == table  # the package's copy is this file
    stripped = "\n".join(line.rstrip() for line in text.splitlines())
    assert parse_table(stripped) == table  # an editor's trailing-space cleanup changes nothing


def test_the_extras_install_one_libphonenumber_build() -> None:
    """phonenumberslite and phonenumbers install the same module: every extra and the test
    dependency group name the full build (a superset), so no two can put both in one
    environment."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    lists = {**project["project"]["optional-dependencies"], **project["dependency-groups"]}
    names = {name: [d for d in deps if isinstance(d, str)] for name, deps in lists.items()}
    named = [d for deps in names.values() for d in deps if d.startswith("phonenumbers")]
    assert named
    assert all(d.startswith("phonenumbers>=") for d in named)
    assert {"strict-numbers", "timezones", "test"} <= {
        name for name, deps in names.items() if any(d in named for d in deps)}
