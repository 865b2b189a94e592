"""The streaming reader: every input format, every bad-record kind, strict mode, de-duplication."""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.core.rejections import Rejection
from engine.errors import BadRecordError, InputError, UsageError
from engine.reading import (
    BLOCK_SIZE,
    Block,
    ReadOptions,
    StartAt,
    aread_items,
    read_items,
    read_lines,
)
from engine.reading import blocks as bulk_paths
from engine.reading import lines as line_reader
from engine.reading import records as record_builder
from engine.reading.options import MAX_TEXT

BAD = Path(__file__).parent / "data" / "bad"
EXPECTED: dict[str, Any] = orjson.loads((BAD / "expected.json").read_bytes())


@contextmanager
def blocks_of(size: int) -> Iterator[pytest.MonkeyPatch]:
    """Reads in blocks of ``size`` records inside the ``with``. The builder and the line loop
    each hold the constant as a global (no lookup per record), so both change."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(record_builder, "BLOCK_SIZE", size)
        patch.setattr(line_reader, "BLOCK_SIZE", size)
        yield patch


def flatten(blocks: list[Block], batch_text: str | None = None) -> list[list[Any]]:
    rows = []
    for block in blocks:
        for k, to in enumerate(block.tos):
            text = block.texts[k] if block.texts is not None else None
            line = block.lines[k] if block.lines is not None else None
            rows.append([block.positions[k], line, to, text])
    return rows


def read_file(path: Path, **options: Any) -> tuple[list[list[Any]], list[Rejection]]:
    rejected: list[Rejection] = []
    with path.open("rb") as handle:
        blocks = list(read_lines(handle, ReadOptions(source=str(path), **options),
                                 rejected.append))
    return flatten(blocks), rejected


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_input_corpus(name: str) -> None:
    """Each file of the corpus gives exactly its expected records and rejections."""
    case = EXPECTED[name]
    accepted, rejected = read_file(BAD / name, **case["options"])
    assert accepted == case["accepted"]
    assert [[r.index, r.line, r.error_code] for r in rejected] == case["rejected"]
    assert all(r.source == "local" and r.batch_id is None and r.description for r in rejected)


DESCRIPTIONS: dict[str, list[str]] = orjson.loads((BAD / "descriptions.json").read_bytes())
NUMBER_DESCRIPTIONS: dict[str, Any] = orjson.loads(
    (BAD / "number_descriptions.json").read_bytes())


@pytest.mark.parametrize("name", sorted(EXPECTED))
@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "careful"])
def test_every_description_is_the_text_the_eager_reader_wrote(
        name: str, bulk: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each rejection of the corpus reads exactly as before descriptions were written lazily
    (the texts of main f4ebd24, kept in descriptions.json; a duplicate under --dedupe
    number no longer says "with the same text"), on the bulk and careful paths."""
    if not bulk:
        monkeypatch.setattr(line_reader, "_bulk_allowed", lambda options: False)
    _, rejected = read_file(BAD / name, **EXPECTED[name]["options"])
    assert [r.description for r in rejected] == DESCRIPTIONS[name]
    assert [r.as_json()["description"] for r in rejected] == DESCRIPTIONS[name]


@pytest.mark.parametrize("country", ["US", None])
@pytest.mark.parametrize("empty", [True, False], ids=["with-empty", "without-empty"])
@pytest.mark.parametrize("bulk", [True, False], ids=["bulk", "careful"])
def test_every_number_problem_reads_as_the_eager_text(
        country: str | None, empty: bool, bulk: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kind of number problem (each area-code reason, lengths, other countries, national
    spellings, spreadsheet damage, no country code) has the description, code and value the
    eager reader gave, whichever path reads the block (an empty number sends it the careful
    way; without one the bulk path sorts it)."""
    if not bulk:
        monkeypatch.setattr(line_reader, "_bulk_allowed", lambda options: False)
    expected = [e for e in NUMBER_DESCRIPTIONS[str(country)] if empty or e[0] != ""]
    rows = [f"{raw},Hi" for raw in NUMBER_DESCRIPTIONS["raws"]] + ([",Hi"] if empty else [])
    rows += ["4155550100,Hi", "+14155550101,Hi"]
    accepted, rejected = read_text("\n".join(["to,text", *rows]) + "\n",
                                   default_country=country)
    assert [[r.to, r.error_code, r.description] for r in rejected] == expected
    good = {"+14155550101,Hi"} | ({"4155550100,Hi"} if country else set())
    assert [r.line for r in rejected] == [k + 2 for k, row in enumerate(rows) if row not in good]
    assert [row[2] for row in accepted] == ["+14155550100"] * (country is not None) + [
        "+14155550101"]


def test_a_block_of_bad_numbers_is_read_in_bulk_with_each_rejection_in_place() -> None:
    """A block whose only faults are bad numbers is not read record by record: its good
    records come as one block and each bad one is rejected at its own position and line."""
    rows = [f"+1415{2_000_000 + i}" for i in range(BLOCK_SIZE)]
    bad = {3: "+14151550100", 700: "+15555550100", BLOCK_SIZE - 1: "+10005550100"}
    for k, raw in bad.items():
        rows[k] = raw
    rejected: list[Rejection] = []
    lines = [(line + "\n").encode() for line in ["to", *rows]]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(line_reader, "_csv_record", lambda *args: pytest.fail("careful path"))
        blocks = list(read_lines(lines, ReadOptions(source="x.csv", batch_text="Hi"),
                                 rejected.append))
    assert [len(b) for b in blocks] == [BLOCK_SIZE - 3]
    assert [(r.index, r.line, r.to) for r in rejected] == [(k, k + 2, raw)
                                                           for k, raw in bad.items()]
    assert 3 not in blocks[0].positions
    assert blocks[0].positions[3] == 4


def test_every_local_code_is_in_the_corpus() -> None:
    """The corpus covers every kind of bad record the reader knows (a suppressed number is
    not a bad record: tests/test_suppress_reading.py; a line too long to be a record is a
    megabyte or more: tests/test_long_lines.py)."""
    from engine.core import rejections

    known = {v for k, v in vars(rejections).items() if isinstance(v, str) and v.startswith("LCL-")}
    known.discard(rejections.OPTED_OUT)
    known.discard(rejections.LINE_TOO_LONG)
    seen = {code for case in EXPECTED.values() for _, _, code in case["rejected"]}
    assert known == seen


def test_strict_mode_stops_at_first_bad_record_naming_file_and_line() -> None:
    """With strict, the first bad record raises an error naming file, line and fix."""
    path = BAD / "numbers.csv"
    with pytest.raises(BadRecordError) as info:
        read_file(path, strict=True)
    message = str(info.value)
    assert f"{path}, line 2" in message
    assert "drop --strict" in message


def test_missing_to_column_is_fatal_with_the_fix(tmp_path: Path) -> None:
    """A CSV without the recipient column fails at line 1 and says how to name it."""
    path = tmp_path / "x.csv"
    path.write_text("phone,text\n+14155550100,Hi\n")
    with pytest.raises(InputError, match=r"line 1: no column named 'to'.*--to-column"):
        read_file(path)
    accepted, _ = read_file(path, to_column="phone")
    assert accepted == [[0, 2, "+14155550100", "Hi"]]


def test_text_equal_to_batch_text_is_not_repeated(tmp_path: Path) -> None:
    """A record whose text is the batch text is sent without its own copy."""
    path = tmp_path / "x.csv"
    path.write_text("to,text\n+14155550100,Same\n+14155550101,Other\n+14155550102,\n")
    accepted, _ = read_file(path, batch_text="Same")
    assert [row[3] for row in accepted] == [None, "Other", None]


def test_text_of_exactly_max_length_is_accepted() -> None:
    """1000 characters is allowed; 1001 is a local rejection."""
    rejected: list[Rejection] = []
    items = [("+14155550100", "x" * MAX_TEXT), ("+14155550101", "x" * (MAX_TEXT + 1))]
    blocks = list(read_items(items, ReadOptions(), rejected.append))
    assert flatten(blocks) == [[0, None, "+14155550100", "x" * MAX_TEXT]]
    assert [r.index for r in rejected] == [1]


def test_gzip_stream_reads_like_plain(tmp_path: Path) -> None:
    """A .gz input is just another byte-line stream."""
    path = tmp_path / "list.csv.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b"to\n+14155550100\n+14155550101\n")
    with gzip.open(path, "rb") as handle:
        blocks = list(read_lines(handle, ReadOptions(source=str(path), batch_text="Hi"),
                                 lambda r: None))
    assert [row[2] for row in flatten(blocks)] == ["+14155550100", "+14155550101"]


@pytest.mark.parametrize(
    ("first", "source", "expected_lines"),
    [(b'{"to": "+14155550100"}\n', "-", 1), (b"to\n+14155550100\n", "-", 2),
     (b"+14155550100\n", "-", 1)],
    ids=["jsonl", "csv", "lines"],
)
def test_format_is_detected_from_content(first: bytes, source: str, expected_lines: int) -> None:
    """Without a suffix (stdin), the first line tells JSONL, CSV and plain lines apart."""
    lines = first.splitlines(keepends=True)
    blocks = list(read_lines(lines, ReadOptions(source=source, batch_text="Hi"), lambda r: None))
    assert flatten(blocks) == [[0, expected_lines, "+14155550100", None]]


def test_python_items_of_every_shape() -> None:
    """Strings, (to, text) pairs and mappings are read; anything else is a local rejection."""
    rejected: list[Rejection] = []
    items: list[Any] = ["+14155550100", ("+14155550101", "Pair"),
                        {"to": "+14155550102", "text": "Map"}, 42]
    blocks = list(read_items(items, ReadOptions(batch_text="B"), rejected.append))
    assert flatten(blocks) == [[0, None, "+14155550100", None], [1, None, "+14155550101", "Pair"],
                               [2, None, "+14155550102", "Map"]]
    assert [(r.index, r.error_code) for r in rejected] == [(3, "LCL-BAD-ITEM")]


async def test_async_iterable_of_items() -> None:
    """An async iterable streams like a plain one."""
    async def numbers() -> Any:
        for i in range(3):
            yield f"+1415555010{i}"

    blocks = [b async for b in aread_items(numbers(), ReadOptions(batch_text="Hi"), print)]
    assert [row[2] for row in flatten(blocks)] == ["+14155550100", "+14155550101", "+14155550102"]


def test_blocks_are_bounded_so_memory_stays_flat() -> None:
    """A long stream comes out in blocks of at most BLOCK_SIZE records, produced lazily."""
    def endless() -> Any:
        i = 0
        while True:
            yield f"+1415{2000000 + i:07d}"
            i += 1

    stream = read_items(endless(), ReadOptions(batch_text="Hi"), print)
    sizes = [len(next(stream)) for _ in range(3)]
    assert sizes == [BLOCK_SIZE] * 3


def test_template_conversions_and_lone_braces_are_refused_with_the_fix() -> None:
    """{name!r:>10} and a lone brace are refused before reading, naming the form to write."""
    with pytest.raises(UsageError, match=r"Python conversion or format spec \(!r:>10\).*"
                       r"write \{name\}"):
        ReadOptions(template="Hi {name!r:>10}")
    with pytest.raises(UsageError, match=r"lone '\{' at character 4. Write a literal brace"):
        ReadOptions(template="Hi {name")


def test_template_fields_are_header_names_with_defaults(tmp_path: Path) -> None:
    """{First Name} reads a header with a space; {x|there} fills an empty cell; an empty cell
    with no default is rejected with its line and the field's name."""
    path = tmp_path / "list.csv"
    path.write_text("to,First Name,City\n+14155550100,Ann,Oslo\n+14155550101,,Rome\n"
                    "+14155550102,Cy,\n")
    accepted, rejected = read_file(path, template="Hi {First Name|there} from {City}")
    assert [a[3] for a in accepted] == ["Hi Ann from Oslo", "Hi there from Rome"]
    assert [(r.line, r.error_code) for r in rejected] == [(4, "LCL-TEMPLATE-FIELD")]
    assert "{City} is empty" in rejected[0].description


def test_template_field_not_in_the_header_is_refused_before_reading(tmp_path: Path) -> None:
    """A field that is no column stops the read at the header, naming the columns."""
    path = tmp_path / "list.csv"
    path.write_text("to,First Name\n+14155550100,Ann\n")
    with pytest.raises(InputError, match=r"\{Name\} is not a column of the header "
                       r"\(to, First Name\)"):
        read_file(path, template="Hi {Name}")


def test_batch_text_over_the_limit_is_a_usage_error() -> None:
    """--text longer than 1000 characters is refused up front."""
    with pytest.raises(UsageError, match="1000"):
        ReadOptions(batch_text="x" * 1001)



# Each row is a pattern; {n} becomes a number unique to the row.
row = st.sampled_from([
    "{n},", "{n},Hi", "{n},Batch", "{n}," + "x" * 1001, "bad,Hi", ",Hi", "{n},Hi,extra", "",
    " {n} ,Hi", '{n},"quoted, text"', '{n},"open', "{n}\xe9,Hi", "{n},caf\xe9",
])


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(row, max_size=40), block=st.integers(1, 6), crlf=st.booleans())
def test_fast_path_agrees_with_the_careful_path(rows: list[str], block: int, crlf: bool) -> None:
    """Clean batches read in bulk give exactly what the record-by-record path gives."""
    end = "\r\n" if crlf else "\n"
    filled = [pattern.format(n=f"+1415555{i:04d}") for i, pattern in enumerate(rows)]
    lines = [(line + end).encode() for line in ["to,text", *filled]]

    def read(dedupe: bool) -> tuple[list[list[Any]], list[tuple[int, int | None, str]]]:
        rejected: list[Rejection] = []
        options = ReadOptions(source="x.csv", batch_text="Batch", dedupe=dedupe)
        blocks = list(read_lines(lines, options, rejected.append))
        return flatten(blocks), [(r.index, r.line, r.error_code) for r in rejected]

    with blocks_of(block):
        fast = read(dedupe=False)
        # Every number is distinct, so de-duplication rejects nothing: it only turns the bulk
        # path off.
        careful = read(dedupe=True)
    assert fast == careful


@settings(max_examples=150, deadline=None)
@given(rows=st.lists(row, min_size=1, max_size=30), block=st.integers(1, 5), data=st.data())
def test_a_read_resumed_at_any_record_offset_gives_the_rest(rows: list[str], block: int,
                                                            data: st.DataObject) -> None:
    """Offsets point at each record's line; reading from one continues exactly as before."""
    filled = [pattern.format(n=f"+1415555{i:04d}") for i, pattern in enumerate(rows)]
    raw = b"".join((line + "\n").encode() for line in ["to,text", *filled])
    options = ReadOptions(source="x.csv", batch_text="Batch")

    def read(start: StartAt | None = None) -> tuple[list[list[Any]], list[tuple[int, int | None]]]:
        rejected: list[Rejection] = []
        lines = raw[start.offset:].splitlines(keepends=True) if start else \
            raw.splitlines(keepends=True)
        blocks = list(read_lines(lines, options, rejected.append, start))
        records = [[*r, b.offsets[k] if b.offsets is not None else None]
                   for b in blocks for k, r in enumerate(flatten([b]))]
        return records, [(r.index, r.line) for r in rejected]

    with blocks_of(block):
        records, rejected = read()
        for _, line, to, _, offset in records:
            assert raw[offset - 1:offset] == b"\n"  # the start of a line...
            assert raw[:offset].count(b"\n") == line - 1  # ...the record's own
            assert to[2:].encode() in raw[offset:].split(b"\n")[0].replace(b" ", b"")
        if not records:
            return
        k = data.draw(st.integers(0, len(records) - 1))
        position, line, _, _, offset = records[k]
        resumed, resumed_rejected = read(StartAt(raw.split(b"\n")[0] + b"\n", offset,
                                                 position, line))
    assert resumed == records[k:]
    assert resumed_rejected == [r for r in rejected if r[0] > position]


def read_both(rows: list[str], header: list[str], crlf: bool, block: int, *,
              rows_per_reader: int = bulk_paths._ROWS_PER_READER, **options: Any
              ) -> tuple[tuple[list[list[Any]], list[Any]], tuple[list[list[Any]], list[Any]]]:
    """(bulk, careful): the same lines read with the block paths on and with them off. In each
    row pattern, {n} becomes a number unique to the row and {k} its last four digits."""
    end = "\r\n" if crlf else "\n"
    filled = [pattern.format(n=f"+1415555{i:04d}", k=f"{i:04d}") for i, pattern in enumerate(rows)]
    lines = [(line + end).encode("utf-8", "surrogateescape") for line in [*header, *filled]]

    def read() -> tuple[list[list[Any]], list[Any]]:
        rejected: list[Rejection] = []
        blocks = list(read_lines(lines, ReadOptions(**options), rejected.append))
        records = [[*r, b.offsets[k] if b.offsets is not None else None]
                   for b in blocks for k, r in enumerate(flatten([b]))]
        return records, [(r.index, r.line, r.to, r.error_code, r.description)
                         for r in rejected]

    with blocks_of(block) as patch:
        patch.setattr(bulk_paths, "_ROWS_PER_READER", rows_per_reader)
        bulk = read()
        patch.setattr(line_reader, "_bulk_allowed", lambda options: False)
        careful = read()
    return bulk, careful


# Messy CSV fields: quotes, doubled quotes, commas and line ends inside quotes, stray quotes,
# carriage returns, non-ASCII, bytes that are not UTF-8, formatted and bad numbers.
csv_to = st.sampled_from(["{n}", '"{n}"', " {n} ", '"+1 (415) 555-{k}"', "", "bad", '"{n}',
                          "{n}\xe9", "+1415155{k}", "+1555555{k}", "+1015555{k}", "+44207183{k}",
                          " +1555555{k}"])
csv_text = st.sampled_from([
    "", "Hi", "Batch", '"Hi, there"', '"say ""hi"""', '"two\nlines"', '"three\r\nline\nend"',
    '"open', 'mid"quote', "caf\xe9", '"caf\xe9, \u4f60\u597d"', "x" * 1001, '"' + "y" * 1000 + '"',
    '"a"b', "tab\tbed", "cr\rin", '""', "\udcff",
])
csv_row = st.one_of(st.tuples(csv_to, csv_text).map(lambda r: ",".join(r)),
                    st.sampled_from(["", "{n},Hi,extra", '"{n}","Hi"', "{n}",
                                     # two records in what the source gave as one line
                                     '{n},Hi\n{n},"q, r"']))


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(csv_row, max_size=40), block=st.integers(1, 7), crlf=st.booleans(),
       batch=st.sampled_from([None, "Batch"]), rows_per_reader=st.integers(1, 3))
def test_quoted_csv_block_path_agrees_with_the_careful_path(
        rows: list[str], block: int, crlf: bool, batch: str | None, rows_per_reader: int
) -> None:
    """Quoted CSV read a block at a time, a few rows per csv.reader, gives the careful path's
    records, rejections, lines and byte offsets exactly."""
    bulk, careful = read_both(rows, ["to,text"], crlf, block, source="x.csv", batch_text=batch,
                              rows_per_reader=rows_per_reader)
    assert bulk == careful


json_line = st.sampled_from([
    '{{"to": "{n}", "text": "Hi"}}', '{{"to":"{n}"}}', '{{"to": ["{n}"], "text": "Batch"}}',
    '{{"to": "{n}", "text": ""}}', '{{"to": "{n}", "text": null}}', '{{"to": 5}}', "[1, 2]",
    '{{"to": "{n}", "text": "caf\xe9 \\u4f60 \\"q\\""}}', '{{"to": "+1 (415) 555-{k}"}}',
    "", "  ", "{{", '{{"to": "{n}", "x": [1', '2]}}', '\ufeff{{"to": "{n}"}}',
    '{{"to": "{n}", "text": "' + "x" * 1001 + '"}}', '{{"to": "bad"}}', '{{"to": "{n}"}} ',
    '{{"to": "{n}", "text": 3}}', '{{"to": "{n}\\n{n}"}}', '{{"to": "{n}\udcff"}}',
    '{{"to": "{n}"}}\r', '{{"to": "+1555555{k}"}}', '{{"to": " +1415155{k} ", "text": "Hi"}}',
    # a line that opens a bracket, then one that closes it and holds a second object
    '{{"to": "{n}", "x": [1\n2], "text": "Hi"}}, {{"to": "{n}"}}',
])


@settings(max_examples=300, deadline=None)
@given(rows=st.lists(json_line, max_size=40), block=st.integers(1, 7), crlf=st.booleans(),
       batch=st.sampled_from([None, "Batch"]))
def test_jsonl_block_path_agrees_with_the_careful_path(
        rows: list[str], block: int, crlf: bool, batch: str | None) -> None:
    """JSON lines read a block at a time give the careful path's records, rejections, lines
    and byte offsets exactly."""
    bulk, careful = read_both(rows, [], crlf, block, source="x.jsonl", batch_text=batch)
    assert bulk == careful


def test_a_refused_block_is_read_alone_and_the_next_in_bulk() -> None:
    """A record the bulk path refuses (an empty number) sends only its own block the careful
    way; the rest come in bulk."""
    rows = [f"+1415{2_000_000 + i},\"Hi, {i}\"" for i in range(3 * BLOCK_SIZE)]
    rows[BLOCK_SIZE + 5] = ',"Hi"'
    lines = [(line + "\n").encode() for line in ["to,text", *rows]]
    rejected: list[Rejection] = []
    blocks = list(read_lines(lines, ReadOptions(source="x.csv"), rejected.append))
    assert [len(b) for b in blocks] == [BLOCK_SIZE, BLOCK_SIZE - 1, BLOCK_SIZE]
    assert isinstance(blocks[2].offsets, record_builder._Offsets)  # the bulk path's mark
    assert not isinstance(blocks[1].offsets, record_builder._Offsets)
    assert [(r.index, r.line) for r in rejected] == [(BLOCK_SIZE + 5, BLOCK_SIZE + 7)]


@pytest.mark.parametrize("options", [{"dedupe": True}, {"template": "Hi {name}"}],
                         ids=["dedupe", "template"])
@pytest.mark.parametrize("source", ["x.csv", "x.jsonl"])
def test_no_bulk_attempt_where_every_record_needs_its_own_look(
        options: dict[str, Any], source: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """De-duplication and templates read record by record, without trying a block first."""
    def refuse(*args: Any) -> None:
        raise AssertionError("a bulk path was tried")

    monkeypatch.setattr(line_reader, "csv_block", refuse)
    monkeypatch.setattr(line_reader, "jsonl_block", refuse)
    if source.endswith(".csv"):
        lines = [b"to,name\n", b"+14155550100,Ann\n"]
    else:
        lines = [b'{"to": "+14155550100", "name": "Ann"}\n']
    blocks = list(read_lines(lines, ReadOptions(source=source, batch_text="Hi", **options),
                             print))
    assert [row[2] for row in flatten(blocks)] == ["+14155550100"]


plain_line = st.sampled_from(["{n}", " {n} ", "+1 (415) 555-{k}", "", "  ", "bad", "{n}\xe9",
                              "\ufeff{n}", "{n}\r", "{n}\udcff", "1{n}", "+1415155{k}",
                              "+1555555{k}", " +1011555{k}"])


@settings(max_examples=200, deadline=None)
@given(rows=st.lists(plain_line, max_size=40), block=st.integers(1, 7), crlf=st.booleans())
def test_plain_lines_block_path_agrees_with_the_careful_path(rows: list[str], block: int,
                                                             crlf: bool) -> None:
    """One number per line, read a block at a time (numbers through the same hook as CSV and
    JSONL), gives the careful path's records, rejections, lines and byte offsets exactly."""
    bulk, careful = read_both(rows, [], crlf, block, source="x.txt", batch_text="Batch")
    assert bulk == careful


def lines_of(text: str, encoding: str = "utf-8") -> list[bytes]:
    return [line.encode(encoding) for line in text.splitlines(keepends=True)]


def read_text(text: str, source: str = "x.csv", encoding: str = "utf-8", **options: Any
              ) -> tuple[list[list[Any]], list[Rejection]]:
    rejected: list[Rejection] = []
    blocks = list(read_lines(lines_of(text, encoding), ReadOptions(source=source, **options),
                             rejected.append))
    return flatten(blocks), rejected


def test_windows_1252_bytes_suggest_the_encoding_and_are_read_with_it() -> None:
    """Accented cp1252 names are refused as UTF-8 with the fix named; with --encoding cp1252
    the same bytes are read, at the same byte offsets."""
    text = "to,text\n+14155550100,Hi\n+14155550101,Hi José\n"
    _, rejected = read_text(text, encoding="cp1252")
    assert [(r.line, r.error_code) for r in rejected] == [(3, "LCL-BAD-UTF8")]
    assert rejected[0].description == ("line 3 is not UTF-8 but looks like Windows-1252 (é); "
                                       "pass --encoding cp1252")
    rows: list[Block] = list(read_lines(lines_of(text, "cp1252"),
                                        ReadOptions(encoding="cp1252"), lambda r: None))
    assert flatten(rows) == [[0, 2, "+14155550100", "Hi"], [1, 3, "+14155550101", "Hi José"]]
    assert list(rows[0].offsets or []) == [len(b"to,text\n"), len(b"to,text\n+14155550100,Hi\n")]


def test_an_encoding_that_splits_newlines_is_refused() -> None:
    """UTF-16 cannot be read line by line at byte offsets: refused with the conversion."""
    with pytest.raises(UsageError, match="iconv"):
        ReadOptions(encoding="utf-16")
    with pytest.raises(UsageError, match="cp1252"):
        ReadOptions(encoding="klingon")


@pytest.mark.parametrize(("source", "text", "options"), [
    ("x.tsv", "to\ttext\n+14155550100\tHi, all\n", {}),
    ("x.csv", "to;text\n+14155550100;Hi, all\n", {}),
    ("x.csv", 'to;text\n+14155550100;"Hi, all"\n', {}),
    ("x.txt", "to|text\n+14155550100|Hi, all\n", {"format": "csv", "delimiter": "|"}),
])
def test_tab_semicolon_and_given_delimiters(source: str, text: str, options: Any) -> None:
    """.tsv is tab-separated, a semicolon header is sniffed, --delimiter is obeyed."""
    assert read_text(text, source, **options) == ([[0, 2, "+14155550100", "Hi, all"]], [])


def test_a_header_without_the_number_column_names_the_likely_fix() -> None:
    """No 'to' column: the message shows the header as split and the column to pass."""
    with pytest.raises(InputError, match=r"read as semicolon-separated: 'Name', 'Mobile "
                       r"Phone'\. Pass --to-column 'Mobile Phone'"):
        read_text("Name;Mobile Phone\nAnn;+14155550100\n")


def test_jsonl_numeric_to_is_read_and_a_missing_to_is_named() -> None:
    """A number written without quotes is its digits; a record without "to" says so."""
    text = '{"to": 6505550123}\n{"to": 16505550124.0}\n{"phone": "+14155550100"}\n'
    accepted, rejected = read_text(text, "x.jsonl", batch_text="Hi")
    assert [a[2] for a in accepted] == ["+16505550123", "+16505550124"]
    assert [(r.line, r.to) for r in rejected] == [(3, None)]
    assert rejected[0].description.startswith('no "to" in this record (it has: phone)')


def test_a_duplicate_names_the_line_it_repeats() -> None:
    """LCL-DUPLICATE shows the value and the earlier line (or item) it repeats."""
    _, rejected = read_text("+14155550100\n(415) 555-0101\n415.555.0100\n", "x.txt",
                            batch_text="Hi", dedupe=True)
    assert [r.description for r in rejected] == [
        "'415.555.0100' (+14155550100) repeats line 1"]
    rejected = []
    list(read_items(["+14155550100", "+14155550100"], ReadOptions(batch_text="Hi", dedupe=True),
                    rejected.append))
    assert "repeats item 0" in rejected[0].description


@pytest.mark.parametrize("value", ["+44 20 7183 8750", "555-234-5678", "6.50555E+09", "12345",
                                   "phone"])
def test_every_number_rejection_shows_the_value(value: str) -> None:
    """Whatever the reason, the message quotes the number as the list wrote it."""
    _, rejected = read_text(f"to\n{value}\n", batch_text="Hi")
    assert repr(value) in rejected[0].description


def test_default_country_none_requires_the_plus_and_any_country_lets_others_through() -> None:
    """--default-country none needs +1; --any-country leaves +44 to the server."""
    _, rejected = read_text("to\n6505550123\n", batch_text="Hi", default_country=None)
    assert "--default-country US" in rejected[0].description
    accepted, _ = read_text("to\n+44 20 7183 8750\n", batch_text="Hi",
                            north_american_only=False)
    assert accepted[0][2] == "+442071838750"


def test_strict_numbers_use_libphonenumber_on_the_careful_path() -> None:
    """Area code 222 passes the built-in check; --strict-numbers refuses it, with its line."""
    text = "to\n+12225550100\n+16505550123\n"
    assert len(read_text(text, batch_text="Hi")[0]) == 2
    accepted, rejected = read_text(text, batch_text="Hi", strict_numbers=True)
    assert [a[2] for a in accepted] == ["+16505550123"]
    assert [(r.line, r.error_code) for r in rejected] == [(2, "LCL-UNREACHABLE-NUMBER")]


def test_the_journal_header_round_trips_every_read_option() -> None:
    """Resume and outcomes re-read the input with exactly the options of the first run."""
    given = ReadOptions(source="x.csv", format="csv", to_column="Phone", text_column="Msg",
                        text_column_required=True, encoding="cp1252", delimiter=";",
                        default_country="CA", strict_numbers=True, north_american_only=False)
    header = orjson.loads(orjson.dumps(given.as_header()))
    assert ReadOptions.from_header(header, source="x.csv") == given


@pytest.mark.parametrize(("source", "text", "value"), [
    ("x.jsonl", '{"to": "+14155550100", \n', '{"to": "+14155550100",'),
    ("x.jsonl", "[1, 2]\n", "[1,2]"),
    ("x.csv", "to,text\n+14155550100,a,b\n", "+14155550100,a,b"),
    ("x.csv", "to,text\n+14155550100,\n", "+14155550100"),
])
def test_other_rejections_show_the_value_too(source: str, text: str, value: str) -> None:
    """Broken JSON, a non-object, a wrong column count, no text: the message quotes it."""
    _, rejected = read_text(text, source)
    assert value in rejected[0].description


def test_an_item_with_a_lone_surrogate_is_rejected_at_its_position() -> None:
    """A Python item whose text holds a lone surrogate is a local rejection naming the record."""
    rejected: list[Rejection] = []
    items: list[Any] = [("+14155550100", "a\ud800"), {"to": "+14155550101", "text": "\udc80"},
                        "+14155550102"]
    blocks = list(read_items(items, ReadOptions(batch_text="B"), rejected.append))
    assert [row[0] for row in flatten(blocks)] == [2]
    assert [(r.index, r.error_code) for r in rejected] == [(0, "LCL-BAD-UTF8"),
                                                            (1, "LCL-BAD-UTF8")]
    assert "surrogate" in rejected[0].description
