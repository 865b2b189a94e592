"""--dedupe number and --dedupe message: what each keeps, what a repeat's rejection says, how
the flag is written, and how a journal header (old or new) is read back."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from engine.cli.options import read_options
from engine.cli.parser import build_parser
from engine.core.rejections import Rejection
from engine.errors import UsageError
from engine.reading import ReadOptions, read_items, read_lines
from engine.reading.options import DEDUPE_RULES

TWO_NAMES = "to,text\n+14155550100,Hi Ann\n+14155550101,Hi Bob\n(415) 555-0100,Hi Annie\n"


def read(text: str, **options: Any) -> tuple[list[tuple[str, str | None]], list[Rejection]]:
    """(number, text) of each record kept, and the rejections, of a CSV read."""
    rejected: list[Rejection] = []
    lines = [line.encode() for line in text.splitlines(keepends=True)]
    kept = []
    for block in read_lines(lines, ReadOptions(source="x.csv", **options), rejected.append):
        texts = block.texts or [None] * len(block)
        kept += list(zip(block.tos, texts, strict=True))
    return kept, rejected


def test_by_number_one_person_under_two_names_is_texted_once() -> None:
    """--dedupe number keeps the first record of a number whatever its text, and the
    rejection names the line it repeats, without "with the same text"."""
    kept, rejected = read(TWO_NAMES, dedupe="number")
    assert kept == [("+14155550100", "Hi Ann"), ("+14155550101", "Hi Bob")]
    assert [(r.index, r.line, r.error_code) for r in rejected] == [(2, 4, "LCL-DUPLICATE")]
    assert rejected[0].description == "'(415) 555-0100' (+14155550100) repeats line 2"


def test_by_message_one_number_with_two_texts_gets_both() -> None:
    """--dedupe message keeps each number and text's first record: two names, two texts;
    the same text again is refused naming its first line, "with the same text"."""
    kept, rejected = read(TWO_NAMES + "415.555.0100,Hi Annie\n", dedupe="message")
    assert kept == [("+14155550100", "Hi Ann"), ("+14155550101", "Hi Bob"),
                    ("+14155550100", "Hi Annie")]
    assert [r.description for r in rejected] == [
        "'415.555.0100' (+14155550100) repeats line 4, with the same text"]


def test_by_message_the_batch_text_and_a_text_equal_to_it_are_one_message() -> None:
    """A per-record text equal to --text is that text: the repeat is refused either way."""
    text = "to,text\n+14155550100,\n+14155550100,Hi\n+14155550100,Other\n"
    kept, rejected = read(text, dedupe="message", batch_text="Hi")
    assert kept == [("+14155550100", None), ("+14155550100", "Other")]
    assert [(r.line, r.error_code) for r in rejected] == [(3, "LCL-DUPLICATE")]


def test_numbers_outside_north_america_are_deduplicated_too() -> None:
    """With --any-country, a foreign number's repeat is refused, and a short foreign number
    never counts as a repeat of a North American one."""
    text = "to,text\n+442079460958,Hi\n+4155550100,Hi\n+14155550100,Hi\n+442079460958,Yo\n"
    for rule in DEDUPE_RULES:
        kept, rejected = read(text, dedupe=rule, north_american_only=False)
        expected = 3 if rule == "number" else 4
        assert len(kept) == expected, rule
        assert [r.line for r in rejected] == ([5] if rule == "number" else [])


def test_a_python_item_repeat_names_the_item_position() -> None:
    """Items have no lines: the repeat names the position of the first."""
    rejected: list[Rejection] = []
    items = [{"to": "+14155550100", "text": "A"}, {"to": "+14155550100", "text": "B"}]
    blocks = list(read_items(items, ReadOptions(dedupe="number"), rejected.append))
    assert sum(map(len, blocks)) == 1
    assert rejected[0].description == "'+14155550100' (+14155550100) repeats item 0"


def test_a_record_by_record_block_holds_no_list_of_positions_when_they_run_on() -> None:
    """A --dedupe read goes record by record; a block without a gap gives its positions and
    lines as ranges (a chunk keeps them until it is cut), one with a gap as the exact list."""
    numbers = [f"+1415555{i:04d}" for i in range(5)] + ["+14155550000", "+14155550009"]
    text = "to\n" + "".join(n + "\n" for n in numbers)
    rejected: list[Rejection] = []
    lines = [line.encode() for line in text.splitlines(keepends=True)]
    whole, = read_lines(lines[:6], ReadOptions(source="x.csv", batch_text="Hi",
                                                  dedupe="number"), rejected.append)
    assert (whole.positions, type(whole.positions)) == (range(5), range)
    assert (whole.lines, type(whole.lines)) == (range(2, 7), range)
    block, = read_lines(lines, ReadOptions(source="x.csv", batch_text="Hi", dedupe="number"),
                        rejected.append)
    assert list(block.positions) == [0, 1, 2, 3, 4, 6]
    assert list(block.lines or []) == [2, 3, 4, 5, 6, 8]


@pytest.mark.parametrize(("given", "rule"), [(True, "number"), (False, None), (None, None),
                                             ("number", "number"), ("message", "message")])
def test_a_bool_reads_as_a_rule(given: Any, rule: str | None) -> None:
    """The library takes True for a new run as "number" (what a bare --dedupe means)."""
    assert ReadOptions(dedupe=given).dedupe == rule


def test_an_unknown_rule_is_refused_naming_both() -> None:
    """A rule that does not exist stops before reading, naming the two there are."""
    with pytest.raises(UsageError, match=r"'number'.*'message'"):
        ReadOptions(dedupe="person")  # type: ignore[arg-type]


@pytest.mark.parametrize(("written", "rule"), [(True, "message"), (False, None), (None, None),
                                               ("number", "number"), ("message", "message")])
def test_a_journal_header_reads_back_the_rule_it_was_read_with(
        written: Any, rule: str | None) -> None:
    """A journal from before the rules had names says "dedupe": true, and was read by number
    and text: resume and outcomes read it as "message"; a new header round-trips."""
    header = {"format": "csv", "dedupe": written}
    assert ReadOptions.from_header(header).dedupe == rule
    if rule is not None:
        written_now = orjson.loads(orjson.dumps(ReadOptions(dedupe=rule).as_header()))
        assert written_now["dedupe"] == rule
        assert ReadOptions.from_header(written_now).dedupe == rule


def test_an_old_header_rebuilds_the_records_it_was_read_with() -> None:
    """Two names for one number, read by an old journal's options: both kept, as before."""
    options = ReadOptions.from_header({"dedupe": True}, source="x.csv")
    kept, _ = read(TWO_NAMES, dedupe=options.dedupe)
    assert len(kept) == 3


def cli_dedupe(*flags: str) -> Any:
    args = build_parser().parse_args(["plan", "list.csv", "--from", "+16505550100", *flags])
    return read_options(args).dedupe


@pytest.mark.parametrize(("flags", "rule"), [
    ((), None), (("--dedupe",), "number"), (("--dedupe", "number"), "number"),
    (("--dedupe=number",), "number"), (("--dedupe", "message"), "message"),
    (("--dedupe=message",), "message")])
def test_the_flag_forms(flags: tuple[str, ...], rule: str | None) -> None:
    """A bare --dedupe is by number; --dedupe message keeps number and text together."""
    assert cli_dedupe(*flags) == rule


def test_a_bad_rule_on_the_command_line_names_the_choices(
        capsys: pytest.CaptureFixture[str]) -> None:
    """--dedupe person exits 2 saying which rules there are."""
    with pytest.raises(SystemExit) as stopped:
        cli_dedupe("--dedupe", "person")
    assert stopped.value.code == 2
    assert "argument --dedupe: 'person' is not a rule (choose from 'number', 'message')" in \
        capsys.readouterr().err


def test_a_bare_dedupe_before_input_says_how_to_write_it(
        capsys: pytest.CaptureFixture[str]) -> None:
    """`a2p plan --dedupe list.csv` takes list.csv for the rule: the error says the fix."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["plan", "--dedupe", "list.csv", "--from", "+16505550100"])
    assert "put --dedupe after INPUT or write --dedupe=number" in capsys.readouterr().err


def test_the_help_says_which_rule_is_which(capsys: pytest.CaptureFixture[str]) -> None:
    """plan --help explains number and message, one sentence each, in the library's order."""
    with pytest.raises(SystemExit):
        build_parser().parse_args(["plan", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "number (the default for a bare --dedupe): keep each number's first record, " \
        "whatever its text." in help_text
    assert "message: keep the first record of each number and text" in help_text
    sub = build_parser()._subparsers
    assert sub is not None
    plan = sub._group_actions[0].choices["plan"]  # type: ignore[index]
    flag = next(a for a in plan._actions if a.dest == "dedupe")
    assert tuple(flag.choices) == DEDUPE_RULES
