"""``a2p plan`` with the schedule flags of issue 22, on a fixed instant (the hidden ``--now``):
the waves, the cap days, expiry, the counts by zone, rule and source, LCL-BAD-TIMEZONE, and
the warning a plan without quiet hours gives."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.cli.commands import main
from engine.reading import ReadOptions, read_lines
from engine.reading.records import Block
from engine.schedule.forecast import PlacementTally, forecast
from engine.schedule.placement import Placement
from engine.schedule.rules import parse_quiet_hours
from engine.schedule.timing import Timing
from engine.schedule.zones import check_zone, placer

SENDER = "+16505550100"
SATURDAY_5AM_EASTERN = "2026-12-05T10:00Z"  # 02:00 in Los Angeles, midnight in Honolulu
NATIONAL = {  # number: where it is
    "+12125550100": "New York",
    "+13105550101": "Los Angeles",
    "+16025550102": "Phoenix",
    "+18085550103": "Honolulu",
    "+18005550104": "toll-free",
    "+14165550105": "Toronto",
    "+12145550106": "Dallas",
    "+18504320107": "Pensacola (Central)",
    "+18502220108": "Tallahassee (Eastern)",
}


def national_list(tmp_path: Path, copies: int = 1) -> Path:
    path = tmp_path / "national.csv"
    path.write_text("to\n" + "".join(f"{n}\n" for n in NATIONAL for _ in range(copies)))
    return path


def plan(capsys: pytest.CaptureFixture[str], path: Path, *flags: str,
         now: str = SATURDAY_5AM_EASTERN) -> tuple[int, str, str]:
    try:
        code = main(["plan", str(path), "--from", SENDER, "--text", "Hi", "--now", now, *flags])
    except SystemExit as stop:  # argparse's own refusal of a flag's value
        code = int(stop.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def plan_json(capsys: pytest.CaptureFixture[str], path: Path, *flags: str,
              now: str = SATURDAY_5AM_EASTERN) -> tuple[dict[str, Any], str]:
    code, out, err = plan(capsys, path, "--json", *flags, now=now)
    assert code == 0, err
    return orjson.loads(out), err


def test_plan_prints_each_wave_with_its_local_window_utc_times_and_count(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Under tcpa at 05:00 Eastern, New York opens first (13:00Z, 08:00 EST), Los Angeles at
    16:00Z, Honolulu at 18:00Z; each wave's line shows its count and local window."""
    code, out, _ = plan(capsys, national_list(tmp_path, copies=3), "--quiet-hours", "tcpa")
    assert code == 0
    schedule = out[out.index("schedule: --quiet-hours tcpa"):]
    waves = [line for line in schedule.splitlines() if line[:7].strip().isdigit()]
    opens = [line.split()[2] for line in waves]
    assert opens == sorted(opens)
    assert any(line.split()[1:3] == ["9", "2026-12-05T13:00:00Z"]  # NY, Toronto, Tallahassee
               and line.endswith("America/New_York Sat 2026-12-05 08:00-21:00 EST")
               for line in waves), waves
    assert "America/Los_Angeles Sat 2026-12-05 08:00-21:00 PST" in schedule
    assert "Pacific/Honolulu Sat 2026-12-05 08:00-21:00 HST" in schedule
    la = next(line for line in waves if "America/Los_Angeles" in line)
    assert la.split()[1:4] == ["3", "2026-12-05T16:00:00Z", "2026-12-06T04:50:00Z"]
    assert "America/Phoenix Sat 2026-12-05 08:00-21:00 MST" in schedule  # no DST, ever
    assert "zones found by:" in schedule
    assert "fallback" in schedule


def test_plan_json_carries_the_schedule_waves_counts_and_sources(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--json's schedule: every recipient in a wave, the waves in opening order, Dallas
    under TX (Saturday 09:00 Central = 15:00Z) and the fallback for the toll-free number."""
    doc, _ = plan_json(capsys, national_list(tmp_path), "--quiet-hours", "strict")
    schedule = doc["schedule"]
    assert schedule["policy"] == "strict"
    assert schedule["now"] == "2026-12-05T10:00:00Z"
    assert sum(w["count"] for w in schedule["waves"]) == doc["recipients"] == len(NATIONAL)
    assert [w["opens"] for w in schedule["waves"]] == sorted(w["opens"]
                                                            for w in schedule["waves"])
    texas = [w for w in schedule["waves"] if {"zones": ["America/Chicago"], "rules": "TX"}
             in w["keys"]]
    assert [w["opens"] for w in texas] == ["2026-12-05T15:00:00Z"]
    assert schedule["byRule"]["TX"] == 1
    assert schedule["byRule"]["FL"] == 2
    assert schedule["byRule"]["every-state"] == 1  # the toll-free number: every row
    assert schedule["byZone"]["America/Chicago"] == 2  # Dallas and Pensacola
    assert schedule["bySource"] == {"column": 0, "libphonenumber": 8, "area-code": 0,
                                    "fallback": 1}
    assert schedule["notSent"] == {"count": 0, "reason": None}
    assert schedule["outsideTcpaNow"] is None  # quiet hours on: no warning to give


def test_the_cap_days_and_what_expiry_leaves_unsent(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """27 recipients under a cap of 10 a day need three Pacific days; expiring before the
    third leaves 7 unsent, and both the table and the JSON say so."""
    path = national_list(tmp_path, copies=3)
    doc, _ = plan_json(capsys, path, "--quiet-hours", "tcpa", "--daily-cap", "10")
    days = doc["schedule"]["capDays"]
    assert [(d["day"], d["count"]) for d in days] == [
        ("2026-12-05", 10), ("2026-12-06", 10), ("2026-12-07", 7)]
    assert days[0]["starts"] == "2026-12-05T08:00:00Z"  # 00:00 Pacific
    expiring = ("--quiet-hours", "tcpa", "--daily-cap", "10",
                "--expire-at", "2026-12-07T00:00[America/Los_Angeles]")
    doc, _ = plan_json(capsys, path, *expiring)
    assert doc["schedule"]["notSent"] == {"count": 7, "reason": "expire-at"}
    assert doc["schedule"]["expireAt"] == "2026-12-07T08:00:00Z"
    code, out, _ = plan(capsys, path, *expiring)
    assert code == 0
    assert "the cap needs 2 day(s):" in out
    assert "7 recipient(s) cannot be sent before --expire-at" in out


def test_at_moves_the_first_wave(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--at Monday 09:00 Eastern: nothing opens before it; New York's wave opens then."""
    doc, _ = plan_json(capsys, national_list(tmp_path), "--quiet-hours", "tcpa",
                       "--at", "2026-12-07T09:00[America/New_York]")
    schedule = doc["schedule"]
    assert schedule["start"] == schedule["at"] == "2026-12-07T14:00:00Z"
    assert schedule["waves"][0]["opens"] == "2026-12-07T14:00:00Z"
    assert all(w["opens"] >= "2026-12-07T14:00:00Z" for w in schedule["waves"])


def test_a_tz_column_cell_naming_no_zone_is_rejected_on_its_line(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A fixed offset (EST) and a made-up name are LCL-BAD-TIMEZONE with their line and the
    fix; a blank cell places by number; a good cell is counted as the column's."""
    path = tmp_path / "zoned.csv"
    path.write_text("to,tz\n+12125550100,\n+12145550101,america/chicago\n"
                    "+13055550102,EST\n+13055550103,Mars/Olympus\n")
    code, out, _ = plan(capsys, path, "--tz-column", "tz")
    assert code == 0
    assert ("line 4: '+13055550102': LCL-BAD-TIMEZONE: the time zone 'EST' (--tz-column tz) "
            "is a fixed offset") in out
    assert "write America/New_York" in out
    assert "line 5: '+13055550103': LCL-BAD-TIMEZONE: the time zone 'Mars/Olympus'" in out
    doc, _ = plan_json(capsys, path, "--tz-column", "tz")
    assert (doc["recipients"], doc["rejectedByCode"]) == (2, {"LCL-BAD-TIMEZONE": 2})
    assert [r["line"] for r in doc["rejected"]] == [4, 5]
    assert doc["schedule"]["bySource"]["column"] == 1
    assert doc["schedule"]["byZone"] == {"America/Chicago": 1, "America/New_York": 1}


def test_a_jsonl_tz_key_is_read_and_checked(tmp_path: Path) -> None:
    """JSONL: the key's zone goes with the record; a number in it is a bad zone."""
    path = tmp_path / "zoned.jsonl"
    path.write_text('{"to": "+12125550100", "tz": "America/Denver"}\n'
                    '{"to": "+12125550101", "tz": 5}\n{"to": "+12125550102"}\n')
    options = ReadOptions(source=str(path), batch_text="Hi", tz_column="tz",
                          zone_check=check_zone)
    rejected: list[Any] = []
    with path.open("rb") as stream:
        blocks = list(read_lines(stream, options, rejected.append))
    assert [(b.tos, b.zones) for b in blocks] == [
        (["+12125550100", "+12125550102"], ["America/Denver", None])]
    assert [(r.line, r.error_code) for r in rejected] == [(2, "LCL-BAD-TIMEZONE")]


def test_a_tz_column_the_list_lacks_stops_the_plan(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A --tz-column the header lacks, or a list of bare numbers, is refused with the fix."""
    code, _, err = plan(capsys, national_list(tmp_path), "--tz-column", "zone")
    assert code == 2
    assert "no column named 'zone' (--tz-column)" in err
    bare = tmp_path / "numbers.txt"
    bare.write_text("+12125550100\n")
    code, _, err = plan(capsys, bare, "--tz-column", "zone")
    assert code == 2
    assert "one number a line" in err


def test_without_quiet_hours_the_plan_warns_of_recipients_outside_8_to_21(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """At 05:00 Eastern everyone is outside 08:00-21:00 local: the warning counts them by
    zone and names the fix; at 15:00 Eastern (10:00 in Honolulu) nobody is, and no warning."""
    path = national_list(tmp_path)
    code, out, err = plan(capsys, path)
    assert code == 0
    warning = next(line for line in err.splitlines() if "outside 08:00-21:00" in line)
    assert warning.startswith("a2p: WARNING: 9 recipient(s) would be texted outside "
                              "08:00-21:00 their local time if the list were sent at "
                              "2026-12-05T10:00:00Z (2 in America/Chicago, 2 in America/New_York")
    assert "--quiet-hours tcpa" in warning
    assert "strict" in warning
    assert "schedule:" not in out  # no schedule flag: the plan's table alone
    doc, err = plan_json(capsys, path)
    assert doc["schedule"]["outsideTcpaNow"]["count"] == 9
    assert any("outside 08:00-21:00" in w for w in doc["warnings"])
    _, _, err = plan(capsys, path, now="2026-12-05T20:00Z")
    assert "outside 08:00-21:00" not in err
    _, _, err = plan(capsys, path, now="2026-12-06T02:30Z")  # 21:30 Eastern, 18:30 Pacific
    warning = next(line for line in err.splitlines() if "outside 08:00-21:00" in line)
    # 21:30 Eastern: New York, Tallahassee, Toronto and the toll-free number (its window is
    # the hours open in every US zone); Pensacola and Dallas are at 20:30 Central
    assert "WARNING: 4 recipient(s)" in warning
    assert "1 in unknown (every US zone)" in warning


def test_counting_by_area_code_equals_placing_each_number() -> None:
    """Placer.tally's counts (by area code, then exchange where it matters) are the counts
    of placing every number, for split and unsplit codes and numbers outside +1."""
    numbers = [f"+1{area}{exchange}{line:04d}" for area in ("212", "850", "502", "270", "800",
                                                            "416", "928")
               for exchange in ("222", "432", "555", "734") for line in range(3)]
    where = placer()
    counted: Counter[Placement] = Counter()
    where.tally(numbers, counted)
    assert counted == Counter(map(where.by_number, numbers))
    foreign = [*numbers, "+44770090012", "+33612345678"]  # twelve characters, not +1
    counted = Counter()
    where.tally(foreign, counted)
    assert counted == Counter(map(where.by_number, foreign))
    mixed = [*numbers, "+447700900123", "+33612345678"]
    counted = Counter()
    where.tally(mixed, counted)
    assert counted == Counter(map(where.by_number, mixed))
    tally = PlacementTally(where)  # the run's: counts by area and exchange, placed at the end
    for block in (numbers[:40], numbers[40:], mixed[-3:]):
        tally.add(Block(block, positions=range(len(block))))
    assert tally.counts == Counter(map(where.by_number, [*numbers, *mixed[-3:]]))


def test_the_tally_counts_column_zones_and_numbers_alike() -> None:
    """A block with some zones from the column counts those as the column's."""
    tally = PlacementTally(placer())
    block = Block(["+12125550100", "+12125550101"], positions=[0, 1],
                  zones=["America/Chicago", None])
    assert list(tally.tap([block])) == [block]
    assert sorted(p.source for p in tally.counts.elements()) == ["column", "libphonenumber"]
    assert block.subset([0]).zones == ["America/Chicago"]  # a gate's cut keeps the zones


def test_a_cap_spreads_an_always_open_list_over_days_and_expiry_passed_sends_nothing() -> None:
    """Under off with a cap of 4, ten recipients go 4, 4, 2 on three Pacific days; an
    --expire-at already passed leaves all ten unsent."""
    new_york = Placement(("America/New_York",), "NY", "area-code")
    now = datetime(2026, 12, 5, 10, tzinfo=UTC)
    result = forecast({new_york: 10}, parse_quiet_hours("off"), now, cap=4)
    assert [d.count for d in result.days] == [4, 4, 2]
    assert result.not_sent == 0
    expired = forecast({new_york: 10}, parse_quiet_hours("tcpa"), now,
                       timing=Timing(expire_at=datetime(2026, 12, 5, 9, tzinfo=UTC)))
    assert (expired.not_sent, expired.not_sent_reason, expired.days) == (10, "expire-at", ())


def test_without_a_tz_column_the_read_options_header_is_unchanged() -> None:
    """A journal's read header gains tzColumn only when the column is given, and keeps it."""
    plain = ReadOptions(source="x.csv")
    assert "tzColumn" not in plain.as_header()
    zoned = ReadOptions(source="x.csv", tz_column="tz")
    assert ReadOptions.from_header(zoned.as_header()).tz_column == "tz"


@pytest.mark.parametrize(("flags", "says"), [
    (("--quiet-hours", "6-9"), "--quiet-hours: time: '6' in '6-9' is not a time of day"),
    (("--at", "2026-12-05T08:00"), "--at: time: '2026-12-05T08:00' names no time zone"),
    (("--at", "2026-12-06T08:00Z", "--expire-at", "2026-12-05T08:00Z"),
     "is not after --at"),
    (("--daily-cap", "0"), "'0' is not a positive number of messages"),
    (("--window-margin", "soon"), "'soon' is not a number of minutes"),
])
def test_a_bad_schedule_flag_stops_the_plan_naming_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: tuple[str, ...],
        says: str) -> None:
    """Each bad value exits 2 with the flag, the value and what to write."""
    code, _, err = plan(capsys, national_list(tmp_path), *flags)
    assert code == 2
    assert says in err
