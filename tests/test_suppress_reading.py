"""Suppressed recipients while reading: LCL-OPTED-OUT on the bulk and careful paths alike,
never in a block; suppression files read with the list reader, a bad line refused."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest

from engine.core.rejections import OPTED_OUT, Rejection
from engine.errors import InputError
from engine.reading import ReadOptions, read_lines
from engine.reading import lines as line_reader
from engine.reading import records as record_builder
from engine.run.suppress import load


def number(i: int) -> str:
    return f"+1415555{i:04d}"


def read(lines: list[bytes], options: ReadOptions, careful: bool, block: int = 64
         ) -> tuple[list[tuple[int, int | None, str]], list[tuple[Any, ...]]]:
    """(records, rejections) of ``lines``, the bulk paths on or off."""
    rejected: list[Rejection] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(record_builder, "BLOCK_SIZE", block)
        patch.setattr(line_reader, "BLOCK_SIZE", block)
        if careful:
            patch.setattr(line_reader, "_bulk_allowed", lambda options: False)
        blocks = list(read_lines(lines, options, rejected.append))
    records = [(b.positions[k], b.lines[k] if b.lines is not None else None, to)
               for b in blocks for k, to in enumerate(b.tos)]
    return records, [(r.index, r.line, r.to, r.error_code, r.description) for r in rejected]


@pytest.fixture
def opt_outs(tmp_path: Path) -> Path:
    """Every fifth number of the list (written nationally in a CSV with a name column)."""
    path = tmp_path / "opt-outs.csv"
    path.write_text("name,phone\n" + "".join(f"n{i},(415) 555-{i:04d}\n"
                                             for i in range(0, 400, 5)))
    return path


Row = Callable[[int], str]
CASES: dict[str, tuple[str, list[str], Row]] = {
    # every number clean: the fast path reads the blocks
    "plain": ("x.txt", [], lambda i: number(i)),
    "csv": ("x.csv", ["to,text"], lambda i: f"{number(i)},hello {i}"),
    "jsonl": ("x.jsonl", [], lambda i: f'{{"to": "{number(i)}", "text": "hi {i}"}}'),
    # national numbers and a bad one every 37: the mixed block reads them
    "mixed-csv": ("x.csv", ["to,text"],
                  lambda i: f"415555{i:04d}x,hi" if i % 37 == 1 else f" (415) 555-{i:04d},hi"),
    "mixed-plain": ("x.txt", [], lambda i: "555" if i % 37 == 1 else f"415-555-{i:04d}"),
}


@pytest.mark.parametrize("case", CASES)
def test_both_paths_reject_every_suppressed_record_alike(case: str, opt_outs: Path) -> None:
    """On the bulk path and the careful path, every record of a suppressed number is an
    LCL-OPTED-OUT naming the file and line, no block holds one, and both agree exactly."""
    source, header, row = CASES[case]
    lines = [f"{text}\n".encode() for text in [*header, *(row(i) for i in range(400))]]
    options = ReadOptions(source=source, batch_text="Hi")
    options = ReadOptions(source=source, batch_text="Hi",
                          suppress=load([str(opt_outs)], options))
    bulk = read(lines, options, careful=False)
    careful = read(lines, options, careful=True)
    assert bulk == careful
    records, rejections = bulk
    assert not {to for _, _, to in records} & {number(i) for i in range(0, 400, 5)}
    opted = [r for r in rejections if r[3] == OPTED_OUT]
    bad = case.startswith("mixed")  # a bad number is refused as bad, suppressed or not
    assert [r[0] for r in opted] == [i for i in range(0, 400, 5) if not (bad and i % 37 == 1)]
    first = opted[1]
    assert f"is on the suppression list {opt_outs} (line 3); it is never sent" in first[4]
    assert "+14155550005" in first[4]


def test_the_bulk_path_checks_suppression_on_clean_blocks(opt_outs: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    """A clean list read with no careful record at all still rejects its suppressed
    numbers: the fast path cannot skip the check."""
    lines = [f"{number(i)}\n".encode() for i in range(400)]
    options = ReadOptions(source="x.txt", batch_text="Hi")
    options = ReadOptions(source="x.txt", batch_text="Hi",
                          suppress=load([str(opt_outs)], options))

    def no_careful(*args: Any) -> Any:
        raise AssertionError("the careful path read a record")

    monkeypatch.setattr(record_builder.Builder, "add", no_careful)
    records, rejections = read(lines, options, careful=False)
    assert len(records) == 320
    assert [r[0] for r in rejections] == list(range(0, 400, 5))


def test_a_suppressed_duplicate_is_opted_out_not_a_duplicate(opt_outs: Path) -> None:
    """With --dedupe, each record of a suppressed number reports LCL-OPTED-OUT (the reason it
    is not sent), none LCL-DUPLICATE; other repeats are still duplicates."""
    lines = [f"{number(i)}\n".encode() for i in (0, 1, 0, 1)]
    options = ReadOptions(source="x.txt", batch_text="Hi", dedupe="number")
    options = ReadOptions(source="x.txt", batch_text="Hi", dedupe="number",
                          suppress=load([str(opt_outs)], options))
    records, rejections = read(lines, options, careful=False)
    assert records == [(1, 2, number(1))]
    assert [(r[0], r[3]) for r in rejections] == [
        (0, OPTED_OUT), (2, OPTED_OUT), (3, "LCL-DUPLICATE")]


def test_a_bad_number_in_a_suppression_file_is_an_error_naming_it(tmp_path: Path) -> None:
    """A suppression file with a number the reader refuses is not read with it skipped: the
    error names the file, the line and the fix."""
    path = tmp_path / "dnc.txt"
    path.write_text("+14155550100\n\n(415) 555-0101\n555-0102\n")
    with pytest.raises(InputError, match=r"dnc\.txt: 1 line\(s\) hold no number .*line 4: "
                       r"'555-0102' .*fix or delete"):
        load([str(path)], ReadOptions())


@pytest.mark.parametrize(("name", "text"), [
    ("lines.txt", "+14155550100\n4155550101\n"),
    ("header.txt", "Phone\n+14155550100\n4155550101\n"),
    ("quoted.csv", '"phone"\n"+14155550100"\n4155550101\n'),
    ("no-header.csv", "\ufeff+14155550100\n\n4155550101\n"),
    ("semi.csv", "id;Mobile Number;email\n1;+14155550100;a@b\n2;4155550101;c@d\n"),
    ("items.jsonl", '{"to": "+14155550100"}\n{"to": "4155550101"}\n'),
])
def test_suppression_files_in_every_shape(tmp_path: Path, name: str, text: str) -> None:
    """One number a line, a one-column header, a CSV with a number column, JSON lines: all
    read with the list's --default-country."""
    path = tmp_path / name
    path.write_text(text)
    suppressed = load([str(path)], ReadOptions())
    assert suppressed is not None
    assert sorted(n for n in ("+14155550100", "+14155550101", "+14155550102")
                  if n in suppressed) == ["+14155550100", "+14155550101"]


@pytest.mark.parametrize(("header", "row", "column"), [
    # a CRM's 10-digit account number before the phone column: the phone word wins
    ("account_number,phone", "4155550007,{n}", "phone"),
    ("Member Number,Name,Mobile", "4155550008,Ann,{n}", "Mobile"),
    ("customer_number;PhoneNumber", "4155550009;{n}", "PhoneNumber"),
    # "cell" inside another word is no phone word
    ("cancellation_reason,phone", "moved,{n}", "phone"),
    ("account_number", "{n}", "account_number"),  # one column: whatever its name
])
def test_a_phone_column_wins_over_a_bare_number_and_is_said(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, header: str, row: str,
        column: str) -> None:
    """A suppression CSV with several number-like columns reads its phone column, never the
    account number before it, and the log says which column of which file was read."""
    path = tmp_path / "dnc.csv"
    path.write_text(f"{header}\n" + "".join(row.format(n=number(50 + k)) + "\n"
                                            for k in range(2)))
    with caplog.at_level("INFO", logger="engine.suppress"):
        suppressed = load([str(path)], ReadOptions())
    assert suppressed is not None
    assert [n for n in map(number, range(60)) if n in suppressed] == [number(50), number(51)]
    assert f'--suppress {path}: numbers from column "{column}"' in caplog.messages


@pytest.mark.parametrize("header", ["Phone Number,Mobile Phone Number", "cell,msisdn",
                                    "account_number,member_number"])
def test_two_columns_of_the_best_kind_are_refused_unless_one_is_named(
        tmp_path: Path, header: str) -> None:
    """Two columns that both look like the phone numbers are refused, naming both and
    --to-column (for a2p send/plan and a2p optouts push alike); named, that one is read."""
    from engine.run.suppress import read_numbers

    first, second = header.split(",")
    path = tmp_path / "dnc.csv"
    path.write_text(f"{header}\n{number(1)},{number(2)}\n")
    shown = rf'"{first}", "{second}" all look like phone numbers.*--to-column'
    with pytest.raises(InputError, match=shown):
        load([str(path)], ReadOptions())
    with pytest.raises(InputError, match=shown):
        list(read_numbers(str(path), ReadOptions(), lambda r: None))
    suppressed = load([str(path)], ReadOptions(to_column=second))
    assert suppressed is not None
    assert [n for n in (number(1), number(2)) if n in suppressed] == [number(2)]


def test_a_library_iterable_is_a_suppression_list(tmp_path: Path) -> None:
    """engine.send(suppress=[["(415) 555-0100"]]) suppresses those numbers."""
    suppressed = load([["(415) 555-0100"]], ReadOptions())
    assert suppressed is not None
    assert "+14155550100" in suppressed
    assert suppressed.where("+14155550100") == ("<suppress 1>", 1)


def test_plan_counts_the_suppressed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """'a2p plan --suppress' shows how many of the list are suppressed, in its table and its
    JSON, and each suppressed record's line and file."""
    from engine.cli.commands import main

    path, opt_outs = tmp_path / "l.txt", tmp_path / "dnc.txt"
    path.write_text("".join(f"{number(i)}\n" for i in range(10)))
    opt_outs.write_text(f"{number(3)}\n(415) 555-0007\n")
    args = ["plan", str(path), "--from", "+16505550100", "--text", "Hi", "--suppress",
            str(opt_outs)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "    suppressed                 2" in out
    assert f"line 8: '{number(7)}': LCL-OPTED-OUT: {number(7)} is on the suppression list " \
        f"{opt_outs} (line 2)" in out
    assert main([*args, "--json"]) == 0
    plan = orjson.loads(capsys.readouterr().out)
    assert (plan["recipients"], plan["rejectedLocal"], plan["suppressed"]) == (8, 2, {"file": 2})


def test_a_journal_header_brings_back_the_same_set_or_says_what_changed(tmp_path: Path) -> None:
    """The header records each file (path, size, mtime, count, digest); without the run's
    copy beside the journal (an older journal) the files read again give the same decisions,
    a touched file with the same numbers included; a file that lists other numbers, or is
    gone, is refused saying so; a header without it reads none."""
    from engine.errors import JournalError
    from engine.run.suppresskept import reloaded

    path = tmp_path / "dnc.txt"
    path.write_text(f"{number(1)}\n{number(2)}\n")
    options = ReadOptions(source="x.txt", batch_text="Hi")
    header = ReadOptions(suppress=load([str(path)], options)).as_header()
    (entry,) = header["suppress"]
    assert entry["path"] == str(path)
    assert {"absolute", "size", "mtimeNs"} <= set(entry)
    assert entry["numbers"] == 2
    journal = tmp_path / "run.journal"
    assert reloaded({}, options, journal) is options  # an older journal: nothing to read
    path.write_text(f"{number(2)}\n{number(1)}\n{number(2)}\n")  # other order, a repeat
    again = reloaded(header, options, journal).suppress
    assert again is not None
    assert [n for n in map(number, range(4)) if n in again] == [number(1), number(2)]
    path.write_text(f"{number(2)}\n")  # one opt-out gone: a resume would text it
    with pytest.raises(JournalError, match=r"changed since the run began: it listed 2 "
                       r"numbers .* now lists 1 .*Put the file back as it was"):
        reloaded(header, options, journal)
    path.unlink()
    with pytest.raises(JournalError, match=r"which is gone, and its copy .* is missing"):
        reloaded(header, options, journal)


def test_strict_mode_rejects_a_suppressed_record_and_goes_on(opt_outs: Path) -> None:
    """--strict stops at a bad record; a suppressed one is not bad: it is rejected, and the
    read goes on."""
    lines = [f"{number(i)}\n".encode() for i in range(7)]
    options = ReadOptions(source="x.txt", batch_text="Hi", strict=True)
    options = ReadOptions(source="x.txt", batch_text="Hi", strict=True,
                          suppress=load([str(opt_outs)], options))
    for careful in (False, True):
        records, rejections = read(lines, options, careful=careful)
        assert [r[0] for r in rejections] == [0, 5]
        assert len(records) == 5


def test_a_copy_beside_the_journal_is_used_only_when_it_is_the_runs_own(tmp_path: Path) -> None:
    """``kept`` gives the copy written beside a journal back only for the header that
    recorded the same lists (path and digest); another run's copy, or a damaged one, is
    not used (the files are read again instead)."""
    from engine.run.suppresskept import keep, kept, kept_path

    ours, theirs = tmp_path / "ours.txt", tmp_path / "theirs.txt"
    ours.write_text(f"{number(1)}\n{number(2)}\n")
    theirs.write_text(f"{number(3)}\n")
    journal = tmp_path / "run.journal"
    mine = load([str(ours)], ReadOptions())
    other = load([str(theirs)], ReadOptions())
    assert mine is not None
    assert other is not None
    keep(journal, mine)
    copy = kept(journal, mine.as_header())
    assert copy is not None
    assert number(2) in copy
    assert number(3) not in copy
    assert kept(journal, other.as_header()) is None
    kept_path(journal).write_bytes(kept_path(journal).read_bytes()[:-3])
    assert kept(journal, mine.as_header()) is None
    keep(journal, None)  # a run without lists leaves no copy of another's
    assert not kept_path(journal).exists()


def test_a_dnc_export_with_blank_rows_and_bad_values_is_judged_in_one_pass(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Blank number cells (an export's empty rows) and numbers outside North America are
    skipped with a warning; unreadable values are refused together, each named with its
    line, not one rerun a line; once fixed, every number of the file suppresses."""
    dnc = tmp_path / "dnc.csv"
    rows = ["name,phone", "Ann,+14155550001", ",", "Bo,+447911123456", "Cy,call me",
            ",", "Di,+14155550002", "Ed,12"]
    dnc.write_text("\r\n".join(rows) + "\r\n")
    with pytest.raises(InputError) as refused:
        load([str(dnc)], ReadOptions())
    message = str(refused.value)
    assert "2 line(s) hold no number" in message
    assert "line 5: 'call me'" in message
    assert "line 8: '12'" in message
    dnc.write_text("\r\n".join(rows[:4] + rows[5:7]) + "\r\n")
    with caplog.at_level("WARNING", logger="engine.suppress"):
        suppressed = load([str(dnc)], ReadOptions())
    assert suppressed is not None
    assert "+14155550001" in suppressed
    assert "+14155550002" in suppressed
    assert len(suppressed) == 2
    assert "2 line(s) without a number (blank) were skipped" in caplog.text
    assert "1 number(s) outside North America were skipped" in caplog.text
