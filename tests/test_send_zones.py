"""A send's zones (issue 22 item 1, the cold review's M5 and L3), without a server: the
reader refuses, under quiet hours, a number outside +1 that nothing places (LCL-NO-TIMEZONE,
with its line and the fix); libphonenumber's answer for such numbers is its own, found
without a parse per number; the round's filters key each recipient by its column zone; a
chunk is judged by its recipients' own zones; --window-margin has one bound in the CLI and the
library, and the library speaks seconds and window_margin."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import orjson
import phonenumbers
import pytest
from phonenumbers import timezone as lib_timezone

from engine.batching.chunker import Chunker
from engine.cli.commands import main
from engine.core.rejections import Rejection
from engine.errors import ConfigError
from engine.reading import Block, ReadOptions, read_lines
from engine.run.scheduling import MAX_MARGIN, Eligible, parse_scheduling, zone_reading
from engine.run.zonekeys import Keys
from engine.schedule import zones as zones_module
from engine.schedule.rules import parse_quiet_hours
from engine.schedule.zones import NO_TIMEZONE, LibPhoneNumberZones, Placer

TCPA = parse_quiet_hours("tcpa")


def read(text: str, options: ReadOptions) -> tuple[list[Block], list[Rejection]]:
    rejected: list[Rejection] = []
    blocks = list(read_lines(iter(text.encode().splitlines(keepends=True)), options,
                             rejected.append))
    return blocks, rejected


def test_a_number_outside_plus_one_without_a_zone_is_refused_with_its_line() -> None:
    """Under quiet hours, without libphonenumber: the +44 number with no zone is rejected
    LCL-NO-TIMEZONE on its line, naming the fix; the +1 number and the +44 number whose
    cell names its zone are read."""
    schedule = parse_scheduling(quiet_hours="tcpa", tz_column="tz")
    options = zone_reading(ReadOptions(batch_text="Hi", north_american_only=False), schedule,
                           Placer(None, column="--tz-column tz"))
    blocks, rejected = read("to,tz\n+12125550100,\n+442079460001,\n"
                            "+442079460002,Europe/London\n", options)
    assert [to for block in blocks for to in block.tos] == ["+12125550100", "+442079460002"]
    assert [(r.line, r.error_code) for r in rejected] == [(3, NO_TIMEZONE)]
    assert "no --tz-column tz value, and libphonenumber is not installed" in rejected[0].description
    assert "install a2p-batch-engine[timezones]" in rejected[0].description


def test_without_a_zone_column_the_plain_path_refuses_them_too() -> None:
    """A plain list (no zone column, where the reader would take its bulk path) refuses the
    number outside +1 all the same, and says to give a zone column."""
    options = zone_reading(ReadOptions(batch_text="Hi", north_american_only=False),
                           parse_scheduling(quiet_hours="strict"), Placer(None))
    blocks, rejected = read("+12125550100\n+33142685300\n+12125550101\n", options)
    assert [to for block in blocks for to in block.tos] == ["+12125550100", "+12125550101"]
    assert [(r.line, r.error_code) for r in rejected] == [(2, NO_TIMEZONE)]
    assert "with --tz-column NAME" in rejected[0].description


def test_quiet_hours_off_or_north_american_only_need_no_zone() -> None:
    """No quiet hours (a daily cap alone), or a list that refuses numbers outside +1 anyway:
    no zone check is added (and the reader keeps its bulk path)."""
    plain = ReadOptions(batch_text="Hi", north_american_only=False)
    assert zone_reading(plain, parse_scheduling(daily_cap=100), Placer(None)).unplaced is None
    assert zone_reading(ReadOptions(batch_text="Hi"), parse_scheduling(quiet_hours="tcpa"),
                        Placer(None)).unplaced is None


def test_libphonenumber_places_numbers_outside_plus_one_as_its_own_function_does() -> None:
    """With libphonenumber, numbers outside +1 get the zones its own lookup gives (no parse
    needed for an E.164 number), and a known one is no LCL-NO-TIMEZONE."""
    lookup = LibPhoneNumberZones()
    for number in ("+442079460001", "+33142685300", "+4930123456", "+81312345678",
                   "+61212345678", "+5511987654321", "+8613800138000", "+97142345678"):
        expected = tuple(lib_timezone.time_zones_for_geographical_number(
            phonenumbers.parse(number, None)))
        assert lookup.zones(number) == (() if "Etc/Unknown" in expected else expected), number
    assert Placer(lookup).unknown_zone("+442079460001") is None


def test_numbers_outside_plus_one_share_one_placement_per_answer() -> None:
    """A million +44 numbers are placed by a dictionary lookup each and share their
    Placement: libphonenumber's parser is never called for them."""
    lookup = LibPhoneNumberZones()

    def refuse(*args: object) -> object:
        raise AssertionError("parsed")

    lookup._parse = refuse  # type: ignore[assignment]
    where = Placer(lookup)
    first, second = where.by_number("+442079460001"), where.by_number("+442079460777")
    assert first is second
    assert first.zones == ("Europe/London",)


def test_the_round_filter_keys_a_recipient_by_its_column_zone() -> None:
    """At 09:00 Eastern under tcpa, a 212 number the column puts in Los Angeles (06:00 there)
    is held and one with a blank cell passes; the held one's key is its column's; a chunk of
    moved recipients is judged by their positions."""
    keys = Keys(Placer(None), TCPA)
    ny, la = keys("+12125550100"), keys("+12125550100", "America/Los_Angeles")
    assert ny is not None
    assert la not in (None, ny)
    block = Block(["+12125550100", "+12125550101", "+12125550102"], None, range(3),
                  None, None, [None, "America/Los_Angeles", None])
    eligible = Eligible(keys, frozenset({ny}))
    kept = list(eligible([block]))
    assert [b.tos for b in kept] == [["+12125550100", "+12125550102"]]
    assert [b.positions for b in kept] == [[0, 2]]  # the moved one held, not rejected
    assert keys.moved == {}  # only what a round may POST is noted: the held one was not
    open_la = Eligible(keys, frozenset({ny, la}))
    assert [b.tos for b in open_la([block])] == [block.tos]
    assert keys.moved == {1: la}
    [chunk] = Chunker("+16505550100", "Hi", 1 << 20).chunks([block])
    assert list(keys.of_chunk(chunk)) == [ny, la, ny]
    keys.moved.clear()
    assert list(keys.of_chunk(chunk)) == [ny, ny, ny]  # the number alone would say


def test_window_margin_has_one_bound_and_the_library_speaks_seconds() -> None:
    """The CLI takes 0-120 minutes, the library 0-7200 seconds: the same bound; the library's
    error names window_margin and seconds, with the CLI's flag and unit as an aside."""
    from engine.cli.scheduleflags import _margin, _seconds

    assert _seconds("120") == MAX_MARGIN
    assert parse_scheduling(window_margin=_seconds("120")).margin == MAX_MARGIN
    with pytest.raises(argparse.ArgumentTypeError):
        _margin("120.5")
    with pytest.raises(ConfigError, match=r"^window_margin: seconds: 7201 seconds is not a "
                       r"margin .* Give the seconds, from 0 to 7200 \(two hours\), e\.g\. "
                       r"window_margin=600 \(on the command line: --window-margin 10, in "
                       r"minutes\)\.$"):
        parse_scheduling(window_margin=MAX_MARGIN + 1)
    with pytest.raises(ConfigError, match="window_margin"):
        parse_scheduling(window_margin=-1)
    assert parse_scheduling(window_margin=0).margin == 0


def test_plan_forecasts_the_refusal_as_a_send_makes_it(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """a2p plan --any-country --quiet-hours tcpa, without libphonenumber: the +44 number is
    LCL-NO-TIMEZONE on its line, as the send would reject it; without quiet hours it is not."""
    monkeypatch.setattr(zones_module, "libphonenumber_zones", lambda: None)
    path = tmp_path / "list.csv"
    path.write_text("to\n+12125550100\n+442079460001\n")

    def plan(*flags: str) -> dict[str, Any]:
        code = main(["plan", str(path), "--from", "+16505550100", "--text", "Hi", "--json",
                     "--any-country", "--now", "2026-11-21T10:00:00Z", *flags])
        assert code == 0
        document: dict[str, Any] = orjson.loads(capsys.readouterr().out)
        return document

    doc = plan("--quiet-hours", "tcpa")
    assert doc["rejectedByCode"] == {NO_TIMEZONE: 1}
    assert [r["line"] for r in doc["rejected"]] == [3]
    assert plan()["rejectedByCode"] == {}
