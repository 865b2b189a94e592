"""Huge rows: a line too long to be a record is read past without being held and rejected as
LCL-LINE-TOO-LONG, blocks are bounded in bytes as well as lines, and a rejection shows a
long value as its first 64 characters and its length, whatever the list holds."""

from __future__ import annotations

import gzip
import io
import tracemalloc
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pytest

from engine.core.rejections import LINE_TOO_LONG, Rejection, shown
from engine.errors import BadRecordError, InputError
from engine.reading import ReadOptions, StartAt, read_items, read_lines
from engine.reading.linesource import BLOCK_BYTES, MAX_LINE_BYTES, PIECE, LineSource

MB = 1_000_000
TOO_LONG = ("line {line} is {size:,} bytes; a record is at most 1,048,576 bytes (one number, a "
            "text of at most 1,000 characters and the columns a template reads), so it was "
            "skipped unread. Is the file a list with one record a line (not a binary file, or "
            "one with no line ends)? If so, remove the long field from that line")


def read_path(path: Path, **options: Any) -> tuple[list[tuple[int, int, str, int]],
                                                  list[Rejection]]:
    """(position, line, number, byte offset) of each record read, and the rejections."""
    rejected: list[Rejection] = []
    with path.open("rb") as handle:
        blocks = list(read_lines(handle, ReadOptions(source=str(path), **options),
                                 rejected.append))
    records = [(p, line, to, offset) for block in blocks
               for p, line, to, offset in zip(block.positions, block.lines or [], block.tos,
                                              block.offsets or [], strict=True)]
    return records, rejected


def peak_of(work: Callable[[], Any]) -> tuple[Any, int]:
    """What ``work`` returns, and the most memory Python held at once while it ran."""
    tracemalloc.start()
    try:
        result = work()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def too_long(index: int, line: int, size: int, start: str = "7") -> list[Any]:
    return [index, line, f"{start * 64}... ({size:,} bytes)", LINE_TOO_LONG,
            TOO_LONG.format(line=line, size=size)]


def fields(rejected: Iterable[Rejection]) -> list[list[Any]]:
    return [[r.index, r.line, r.to, r.error_code, r.description] for r in rejected]


def test_twenty_rows_of_5_mb_are_rejected_without_being_held(tmp_path: Path) -> None:
    """20 rows of 5 MB (a column of pasted documents): each is rejected as LCL-LINE-TOO-LONG
    naming its line, the good rows around them are read, and the reader never holds even one
    of them (the whole file was one block of 100 MB before)."""
    path = tmp_path / "documents.csv"
    with path.open("wb") as out:
        out.write(b"to,text\n+14155550100,Hi\n")
        for _ in range(20):
            out.write(b"7" * (5 * MB) + b",Hi\n")
        out.write(b"+14155550101,Yo\n")
    (records, rejected), peak = peak_of(lambda: read_path(path))
    row = 5 * MB + len(",Hi\n")
    assert fields(rejected) == [too_long(k + 1, k + 3, row) for k in range(20)]
    assert records == [(0, 2, "+14155550100", 8), (21, 23, "+14155550101", 24 + 20 * row)]
    assert peak < 4 * MB  # a 5 MB line is never held whole: 8 KiB pieces, 1 MiB at most


def test_a_200_mb_file_without_line_ends_is_one_rejection_read_in_little_memory(
        tmp_path: Path) -> None:
    """A 200 MB file with no newline (binary input, a one-line dump): one LCL-LINE-TOO-LONG
    for line 1, read past in pieces, never into memory (Python's ``for line in handle`` holds
    the whole line, 200 MB and more)."""
    path = tmp_path / "no-newline.txt"
    with path.open("wb") as out:
        for _ in range(200):
            out.write(b"7" * (1 << 20))
    (records, rejected), peak = peak_of(lambda: read_path(path, batch_text="Hi"))
    assert records == []
    assert fields(rejected) == [too_long(0, 1, 200 << 20)]
    assert peak < 4 * MB


def test_a_csv_without_line_ends_stops_at_its_header_saying_why(tmp_path: Path) -> None:
    """A CSV whose first line is 3 MB cannot have a header: the read stops at once (exit 2
    from the CLI) naming line 1 and what to check, without holding the line."""
    path = tmp_path / "binary.csv"
    path.write_bytes(b"\x00\x01PK" * 750_000)
    with pytest.raises(InputError) as info:
        read_path(path)
    message = str(info.value)
    assert message.startswith(f"{path}: line 1 is 3,000,000 bytes (it starts ")
    assert "a CSV's first line is its header, at most 1,048,576 bytes" in message
    assert "--format jsonl or lines" in message


def test_long_bad_numbers_show_their_first_64_characters_and_length(tmp_path: Path) -> None:
    """40 rows whose number is 500,000 characters (under the line limit, so read): each is
    LCL-INVALID-NUMBER with ``to`` and description cut to the first 64 characters and the
    length, and reading them holds a few blocks' worth, not the file (20 MB) several times."""
    path = tmp_path / "long-numbers.csv"
    with path.open("wb") as out:
        out.write(b"to,text\n")
        for _ in range(40):
            out.write(b"7" * 500_000 + b",Hi\n")
        out.write(b"+14155550101,Yo\n")
    (records, rejected), peak = peak_of(lambda: read_path(path))
    value = f"{'7' * 64}... (500,000 characters)"
    description = (f"'{'7' * 64}'... (500,000 characters) is not a phone number this API can "
                   "text; write it as +1 and ten digits, e.g. +14155550100 or (415) 555-0100 "
                   "(line {} has 500,000 characters where the number should be: check that "
                   "the number column is the right one, and that nothing was pasted into it)")
    assert fields(rejected) == [[k, k + 2, value, "LCL-INVALID-NUMBER",
                                 description.format(k + 2)] for k in range(40)]
    assert [r[2] for r in records] == ["+14155550101"]
    assert peak < 60 * MB  # the old reader held about 120 MB: the block, its copies, the values


@pytest.mark.parametrize(("name", "header", "row"), [
    ("x.txt", b"", b"%s\n"),
    ("x.jsonl", b"", b'{"to": "%s"}\n'),
    ("x.csv", b"to\n", b"%s\n"),
], ids=["lines", "jsonl", "csv"])
@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "careful"])
def test_every_format_cuts_a_long_value_the_same_way(
        tmp_path: Path, name: str, header: bytes, row: bytes, bulk: bool) -> None:
    """A 70-character bad number in a block of good ones reads the same on every format and
    path: its first 64 characters and length, described from the whole value."""
    value = "+1415555" + "9" * 62
    numbers = [b"+1415555%04d" % i for i in range(5)]
    numbers[2] = value.encode()
    path = tmp_path / name
    path.write_bytes(header + b"".join(row % number for number in numbers))
    options: dict[str, Any] = {"batch_text": "Hi"}
    if not bulk:
        options["dedupe"] = "number"  # the careful path only
    records, rejected = read_path(path, **options)
    line = 3 + bool(header)
    assert [r[2] for r in records] == [f"+1415555{i:04d}" for i in (0, 1, 3, 4)]
    assert [(r.index, r.to, r.error_code, r.description) for r in rejected] == [
        (2, shown(value), "LCL-INVALID-NUMBER",
         f"{value[:64]!r}... (70 characters) is not a phone number this API can text; write "
         f"it as +1 and ten digits, e.g. +14155550100 or (415) 555-0100 (line {line} has 70 "
         "characters where the number should be: check that the number column is the right "
         "one, and that nothing was pasted into it)")]


def test_normal_values_are_shown_whole() -> None:
    """A value of up to 64 characters (every number a list holds) is shown as written."""
    raw = "(415) 555-0100 ext. " + "1" * 44
    assert len(raw) == 64
    rejected: list[Rejection] = []
    list(read_items([raw, "x" * 65], ReadOptions(batch_text="Hi"), rejected.append))
    assert [r.to for r in rejected] == [raw, "x" * 64 + "... (65 characters)"]
    assert rejected[0].description.startswith(repr(raw))


def test_a_python_item_of_a_megabyte_is_cut_in_its_rejection() -> None:
    """Library items go through the same rejection: a 1 MB string is not kept whole."""
    rejected: list[Rejection] = []
    list(read_items(["+14155550100", "5" * MB], ReadOptions(batch_text="Hi"), rejected.append))
    assert [(r.index, r.to) for r in rejected] == [(1, "5" * 64 + "... (1,000,000 characters)")]
    assert len(rejected[0].description) < 400
    assert "(item 1 has 1,000,000 characters where the number should be" in \
        rejected[0].description


def test_strict_mode_stops_at_a_line_too_long_naming_it(tmp_path: Path) -> None:
    """--strict stops at the over-long line with its file, line and the fix."""
    path = tmp_path / "x.txt"
    path.write_bytes(b"+14155550100\n" + b"1" * (2 * MB) + b"\n")
    with pytest.raises(BadRecordError) as info:
        read_path(path, batch_text="Hi", strict=True)
    assert f"{path}, line 2 (record 1): line 2 is 2,000,001 bytes" in str(info.value)


def test_a_gzip_stream_and_a_list_of_lines_reject_the_same_line(tmp_path: Path) -> None:
    """A .gz input (read through gzip's readline) and lines given as a list (no readline)
    both reject the long line and keep the byte offsets of the records after it."""
    data = b"+14155550100\n" + b"8" * (2 * MB) + b"\n+14155550101\n"
    path = tmp_path / "x.txt.gz"
    path.write_bytes(gzip.compress(data))
    with gzip.open(path, "rb") as unzipped:
        sources: list[Any] = [unzipped, data.splitlines(keepends=True)]
        for source in sources:
            rejected: list[Rejection] = []
            blocks = list(read_lines(source, ReadOptions(source="x.txt", batch_text="Hi"),
                                     rejected.append))
            assert [(b.tos, list(b.lines or []), list(b.offsets or [])) for b in blocks] == [
                (["+14155550100"], [1], [0]), (["+14155550101"], [3], [2 * MB + 14])]
            assert fields(rejected) == [too_long(1, 2, 2 * MB + 1, "8")]


def test_a_resumed_read_after_a_long_line_starts_at_the_same_record(tmp_path: Path) -> None:
    """A resume reads from a journaled offset: the records after a long line have the byte
    offsets the first read gave them, and a read from one of them gives the same records."""
    path = tmp_path / "x.jsonl"
    rows = [b'{"to": "+1415555%04d"}\n' % i for i in range(4)]
    path.write_bytes(rows[0] + b'{"to": "' + b"3" * (3 * MB) + b'"}\n' + b"".join(rows[1:]))
    records, rejected = read_path(path, batch_text="Hi")
    data = path.read_bytes()
    assert [offset for *_, offset in records] == [data.index(row) for row in rows]
    assert [r.line for r in rejected] == [2]
    position, line, _, offset = records[2]
    with path.open("rb") as handle:
        header = handle.readline(MAX_LINE_BYTES + 1)
        handle.seek(offset)
        again = list(read_lines(handle, ReadOptions(source=str(path), batch_text="Hi"),
                                lambda r: None, StartAt(header, offset, position, line)))
    assert [to for block in again for to in block.tos] == ["+14155550002", "+14155550003"]


def test_blocks_stop_at_their_byte_bound(tmp_path: Path) -> None:
    """Lines of 100 kB make blocks of about BLOCK_BYTES, not of 8,192 lines (800 MB); each
    block holds its lines whole, in order, with the byte offset counted exactly."""
    lines = [b"+1415555%04d" % i + b" " * 100_000 + b"\n" for i in range(200)]
    source = LineSource(io.BufferedReader(io.BytesIO(b"".join(lines))))
    taken: list[bytes] = []
    while raws := source.take_raw(8192):
        size = sum(map(len, raws))
        assert size < BLOCK_BYTES + 3 * (1 << 20)
        assert size >= BLOCK_BYTES or len(taken) + len(raws) == len(lines)
        taken += raws
        assert source.offset == sum(map(len, taken))
    assert taken == lines


def test_lines_longer_than_a_piece_are_put_back_together() -> None:
    """A line of several pieces (up to MAX_LINE_BYTES) comes back whole, with its offset."""
    lines = [b"a" * (PIECE - 1) + b"\n", b"b" * PIECE + b"\n", b"c" * (5 * PIECE + 3) + b"\n",
             b"d" * MAX_LINE_BYTES, b"e\n"]
    lines[3] = lines[3][:-1] + b"\n"  # exactly MAX_LINE_BYTES with its line end: kept
    source = LineSource(io.BufferedReader(io.BytesIO(b"".join(lines))))
    assert source.take_raw(8192) == lines
    assert source.take_long() is None
    assert source.take_raw(8192) == []


CELL = b"x" * (1100 * 1024)  # a quoted text cell's part longer than a record may be
SPAN = ("lines {line} to {last} (one record: a quoted field runs over them) are {size:,} "
        "bytes; a record is at most 1,048,576 bytes (one number, a text of at most 1,000 "
        "characters and the columns a template reads), so it was skipped unread. Is the file "
        "a list with one record a line (not a binary file, or one with no line ends)? If so, "
        "remove the long field from that line")
OPEN = ('; its quoted field is never closed, so every line to the end of the input was read '
        'as part of it: close the quote, or write a quote inside it as ""')


def read_csv_both(tmp_path: Path, data: bytes) -> tuple[list[tuple[int, int, str, int]],
                                                        list[list[Any]]]:
    """Records and rejections of a CSV read from a file and from a list of its lines (the two
    ways a line too long is read past), which must agree."""
    path = tmp_path / "list.csv"
    path.write_bytes(data)
    records, rejected = read_path(path)
    listed: list[Rejection] = []
    blocks = list(read_lines(data.splitlines(keepends=True), ReadOptions(source=str(path)),
                             listed.append))
    assert [(p, line, to, offset) for block in blocks
            for p, line, to, offset in zip(block.positions, block.lines or [], block.tos,
                                           block.offsets or [], strict=True)] == records
    assert fields(listed) == fields(rejected)
    return records, fields(rejected)


def cell_rows(middle: bytes) -> tuple[bytes, list[bytes]]:
    """A CSV whose line 3 opens a quoted cell holding ``middle``, and its recipients' rows."""
    rows = [b'+12015550001,"hello"\n', b'+12015550003,"bye"\n', b'+12015550004,bye again\n']
    return b"to,text\n" + rows[0] + b'+12015550002,"' + middle + b"".join(rows[1:]), rows


@pytest.mark.parametrize("middle", [
    CELL + b"\n+12015550099,pasted inside the quoted cell\nmore xxxxxxxxxx\"\n",
    CELL + b'""\n+12015550099,"" pasted after a doubled quote\nmore ""quoted"" end"\n',
    b"short first line\n" + CELL + b"\n+12015550099,pasted inside the quoted cell\nend\"\n",
    CELL[:600 * 1024] + b"\n" + CELL[:600 * 1024] + b"\n+12015550099,pasted inside\nend\"\n",
], ids=["long-first-line", "doubled-quotes", "long-second-line", "two-lines-over-1-mib"])
def test_a_long_quoted_cell_with_line_breaks_is_one_rejected_record(
        tmp_path: Path, middle: bytes) -> None:
    """A quoted text cell over 1 MiB (on one line or over several) with line breaks inside
    it is one LCL-LINE-TOO-LONG naming the lines it spans: no text inside the cell becomes
    a recipient, the rows after it are read, and their byte offsets stay exact (a resume
    starts there)."""
    data, rows = cell_rows(middle)
    records, rejected = read_csv_both(tmp_path, data)
    span = len(b'+12015550002,"' + middle)
    last = 2 + middle.count(b"\n")
    head = '+12015550002,"' + ("x" * 50 if middle.startswith(b"x") else "short first line")
    assert rejected == [[1, 3, f"{head}... ({span:,} bytes)", LINE_TOO_LONG,
                         SPAN.format(line=3, last=last, size=span)]]
    assert records == [(0, 2, "+12015550001", data.index(rows[0])),
                       (2, last + 1, "+12015550003", data.index(rows[1])),
                       (3, last + 2, "+12015550004", data.index(rows[2]))]


def test_a_long_quoted_cell_closed_on_its_long_line_skips_that_line_only(
        tmp_path: Path) -> None:
    """A quoted cell opened on a short line and closed on a line too long to hold is one
    rejection for its two lines; the row after it is read."""
    data, rows = cell_rows(b"opened here\n" + CELL + b'"\n')
    records, rejected = read_csv_both(tmp_path, data)
    assert [r[:2] + r[3:4] for r in rejected] == [[1, 3, LINE_TOO_LONG]]
    assert [to for _, _, to, _ in records] == ["+12015550001", "+12015550003", "+12015550004"]
    assert records[1][1:] == (5, "+12015550003", data.index(rows[1]))


def test_a_long_quoted_cell_never_closed_skips_to_the_end_saying_so(tmp_path: Path) -> None:
    """A quote opened on a line too long to hold and never closed: the lines after it are read
    as csv.reader reads them, part of the cell, and the rejection says the quote never closes
    and what to do."""
    data = b'to,text\n+12015550001,hi\n+12015550002,"' + CELL + b'\n+12015550003,bye\n'
    records, rejected = read_csv_both(tmp_path, data)
    size = len(data) - len(b"to,text\n+12015550001,hi\n")
    assert [to for _, _, to, _ in records] == ["+12015550001"]
    assert [r[:2] + r[3:] for r in rejected] == [
        [1, 3, LINE_TOO_LONG, SPAN.format(line=3, last=4, size=size) + OPEN]]


def test_a_long_line_with_an_odd_quote_in_plain_lines_skips_that_line_only(
        tmp_path: Path) -> None:
    """Quotes mean nothing in a list of numbers: a long line holding one is skipped alone."""
    path = tmp_path / "x.txt"
    path.write_bytes(b'+14155550100\n"' + b"1" * (2 * MB) + b"\n+14155550101\n")
    records, rejected = read_path(path, batch_text="Hi")
    assert [to for _, _, to, _ in records] == ["+14155550100", "+14155550101"]
    assert [r.line for r in rejected] == [2]
