"""Streaming recipient reader for byte lines (CSV, JSONL, one number per line): blocks of
accepted records out, bad records handed to a sink as local rejections.

Nothing here opens a file: callers pass an iterable of byte lines (an open binary file,
``sys.stdin.buffer``, a gzip stream). Memory stays flat: at most one block of records exists at a
time, and a block is bounded in bytes as well as lines, whatever a line holds
(engine/reading/linesource.py: a line too long to be a record is read past, never held, and
rejected as LCL-LINE-TOO-LONG). Lines are read a block at a time through the bulk paths
(engine/reading/blocks.py); any block holding a record they cannot vouch for goes, alone, to
the careful record-by-record path here, which names each bad record. The two agree to the
byte offset (tests/test_reading.py).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from typing import Literal

import orjson

from engine.core import rejections as codes
from engine.core.rejections import SHOWN
from engine.errors import InputError, UsageError
from engine.reading import FORMATS
from engine.reading.blocks import csv_block, jsonl_block, plain_block
from engine.reading.dialect import DELIMITERS, CsvLayout
from engine.reading.linesource import MAX_LINE_BYTES, PIECE, LineSource, LongLine
from engine.reading.options import MAX_TEXT, ReadOptions, StartAt
from engine.reading.records import BLOCK_SIZE, Block, Builder, RejectSink, add_mapping

# A quoted CSV field may span lines, but a valid record is at most 1000 characters of text:
# past this many lines (or MAX_LINE_BYTES characters) an open quote is a broken record, not a
# long one.
MAX_RECORD_LINES = 64
# Non-letters a Windows-1252 text holds: curly quotes, dashes, the euro sign, a no-break space.
_CP1252_PUNCTUATION = "\u2018\u2019\u201c\u201d\u2013\u2014\u20ac\u00a0"

FastPath = Callable[[list[bytes], int, int], Block | None]  # (lines, first line, offset)
CarefulPath = Callable[[str, int], tuple[Block | None, int]]


def detect_format(source: str, first_line: str, to_column: str
                  ) -> Literal["csv", "jsonl", "lines"]:
    """The format named by the file suffix, else guessed from the first line."""
    name = source.lower().removesuffix(".gz")
    suffixes: tuple[tuple[str, Literal["csv", "jsonl", "lines"]], ...] = (
        (".csv", "csv"), (".tsv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"),
        (".txt", "lines"))
    for suffix, fmt in suffixes:
        if name.endswith(suffix):
            return fmt
    head = first_line.strip()
    if head.startswith("{"):
        return "jsonl"
    if any(d in head for d in DELIMITERS) or head.strip('"') == to_column:
        return "csv"
    return "lines"


def read_lines(lines: Iterable[bytes], options: ReadOptions, reject: RejectSink,
               start: StartAt | None = None) -> Iterator[Block]:
    """Blocks of accepted records from byte lines; bad records go to ``reject``.

    With ``start``, ``lines`` begin at ``start.offset`` of the file (a resumed read).
    """
    source = LineSource(lines, start.offset if start is not None else 0, options.encoding)
    if start is None:
        peeked = source.peek()  # not taken: of a CSV the header, else the first record
        if peeked is None:
            return
        raw_first = peeked.head if isinstance(peeked, LongLine) else peeked
    else:
        raw_first = start.header
        if len(raw_first) > MAX_LINE_BYTES:  # read as the first read saw it: a LongLine's head
            raw_first = raw_first[:PIECE]
    first = raw_first.decode(options.encoding, "surrogateescape").lstrip("\ufeff")
    fmt: str = options.format
    if fmt == "auto":
        fmt = detect_format(options.source, first, options.to_column)
    if fmt not in FORMATS:
        raise UsageError(f"unknown input format {fmt!r}. Use one of: {', '.join(FORMATS)}.")
    if fmt == "lines" and options.tz_column is not None:
        raise UsageError(f"{options.source} is one number a line, which has no column for "
                         f"--tz-column {options.tz_column!r}: give a CSV or JSONL list with "
                         "that column, or leave --tz-column out to place recipients by number.")
    builder = Builder(options, reject, with_lines=True)
    lineno = 0
    if start is not None:
        builder.position, lineno = start.position, start.line - 1
    if fmt == "csv":
        if start is None:
            _take_header(source, options)
        yield from _read_csv(first, source, builder, lineno or 1)
    else:
        yield from (_read_plain if fmt == "lines" else _read_jsonl)(source, builder, lineno)
    tail = builder.flush()
    if tail is not None:
        yield tail


def _take_header(source: LineSource, options: ReadOptions) -> None:
    """Take the CSV header, which a line too long to hold cannot be."""
    long = source.take_long()
    if long is not None:
        raise InputError(
            f"{options.source}: line 1 is {long.size:,} bytes (it starts "
            f"{long.shown(options.encoding)[:40]!r}), and a CSV's first line is its header, "
            f"at most {MAX_LINE_BYTES:,} bytes. This is not a recipient list: a binary file, or "
            "a file with no line ends? Check the file, or pass --format jsonl or lines if it is "
            "one record a line.")
    source.next_raw()


def _too_long(line: int, shown: str, size: int, builder: Builder, lines: int = 1,
              closed: bool = True) -> None:
    """Reject a record too long to be one (read past, never held): one line, or ``lines``
    lines when a quoted field runs over them (``closed`` False: it never closes)."""
    where = f"line {line} is" if lines == 1 else (
        f"lines {line} to {line + lines - 1} (one record: a quoted field runs over them) are")
    message = (f"{where} {size:,} bytes; a record is at most {MAX_LINE_BYTES:,} bytes (one "
               f"number, a text of at most {MAX_TEXT:,} characters and the columns a template "
               "reads), so it was skipped unread. Is the file a list with one record a line "
               "(not a binary file, or one with no line ends)? If so, remove the long field "
               "from that line")
    if not closed:
        message += ("; its quoted field is never closed, so every line to the end of the "
                    'input was read as part of it: close the quote, or write a quote inside '
                    'it as ""')
    builder.reject(line, shown, codes.LINE_TOO_LONG, message, cut=False)


def _shown(head: str, size: int) -> str:
    """The start of a record too long to hold as a rejection shows it, and its size."""
    return f"{head.rstrip(chr(13) + chr(10))[:SHOWN]}... ({size:,} bytes)"


def _past_open_quote(source: LineSource) -> tuple[int, int, bool]:
    """Read past the lines of a quoted field left open by a record too long to hold, as
    csv.reader would read them: (lines, bytes, whether it closed before the end).

    A line with an odd number of ``"`` closes the field (a quote written as ``""`` counts
    two, so the parity stays right); lines are only counted, never held."""
    lines = size = 0
    while True:
        raw = source.next_raw()
        if raw is not None:
            quotes, length = raw.count(b'"'), len(raw)
        else:
            long = source.take_long()
            if long is None:
                return lines, size, False  # the end of the input
            quotes, length = long.quotes, long.size
        lines += 1
        size += length
        if quotes % 2:
            return lines, size, True


def _undecodable(text: str, line: int, builder: Builder) -> bool:
    """True (and the record rejected) when the line held bytes that are not in the input's
    encoding; for UTF-8 that look like Windows-1252 (accented names from Excel), the message
    names ``--encoding cp1252``."""
    if text.isascii():
        return False
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        encoding = builder.options.encoding
        shown = text.encode("utf-8", "replace").decode()[:64]
        message = (f"bytes that are not {encoding} at character {exc.start} of the line; pass "
                   "--encoding NAME (e.g. cp1252), or save the file as UTF-8")
        if encoding == "utf-8":
            message = _utf8_hint(text.encode("utf-8", "surrogateescape"), line, exc.start)
        builder.reject(line, shown, codes.BAD_UTF8, message)
        return True
    return False


def _utf8_hint(raw: bytes, line: int, at: int) -> str:
    """Why a line is not UTF-8, naming --encoding cp1252 when its bytes read as Windows-1252
    letters (what Excel on Windows saves as "CSV")."""
    try:
        legacy = raw.decode("cp1252")
    except UnicodeDecodeError:
        legacy = ""
    odd = [c for c in legacy if not c.isascii()]
    if odd and all(c.isalpha() or c in _CP1252_PUNCTUATION for c in odd):
        return (f"line {line} is not UTF-8 but looks like Windows-1252 "
                f"({''.join(dict.fromkeys(odd))[:5]}); pass --encoding cp1252")
    return (f"invalid UTF-8 at character {at} of the line; save the file as UTF-8, or pass "
            "--encoding NAME with the encoding it was saved in")


def _read_records(source: LineSource, builder: Builder, lineno: int, fast: FastPath | None,
                  careful: CarefulPath, quoted: bool = False) -> Iterator[Block]:
    """Clean blocks in bulk, anything else record by record, in input order.

    ``lineno`` is the line before the first; ``fast`` is None when these options have no bulk
    path; ``careful`` returns a full block (or None) and how many extra lines the record used.
    A block the bulk path refuses is read the careful way, alone: the next is tried in bulk.
    With ``quoted`` (CSV), a line too long to hold that leaves a quoted field open is skipped
    with the lines the field runs over, so no text inside it is read as records.
    """
    while True:
        if fast is not None and not source.pending():
            base = source.offset
            raws = source.take_raw(BLOCK_SIZE)
            if raws:
                block = fast(raws, lineno + 1, base)
                if block is not None:  # empty when every record of it was rejected
                    if block:
                        yield from _flushed(builder, block)
                    lineno += len(raws)
                    continue
                source.give_back(raws)
        builder.offset = source.offset
        long = source.take_long()
        if long is not None:
            lines, size, closed = 1, long.size, True
            if quoted and long.quotes % 2:
                more, extra, closed = _past_open_quote(source)
                lines, size = lines + more, size + extra
            _too_long(lineno + 1, _shown(long.head.decode(source.encoding, "replace"), size),
                      size, builder, lines, closed)
            lineno += lines
            continue
        text = source.next()
        if text is None:
            return
        lineno += 1
        block, extra = careful(text, lineno)
        lineno += extra
        if block is not None:
            yield block


def _bulk_allowed(options: ReadOptions) -> bool:
    """Templates and de-duplication need every record's own fields and key, strict numbers
    a libphonenumber call per number, a --tz-column each record's zone, and a check of the
    numbers without a zone (quiet hours, numbers outside +1) each number: careful only."""
    return options.template is None and not options.dedupe and not options.strict_numbers \
        and options.tz_column is None and options.unplaced is None


def _read_plain(source: LineSource, builder: Builder, lineno: int) -> Iterator[Block]:
    def careful(text: str, line: int) -> tuple[Block | None, int]:
        value = text.strip().lstrip("\ufeff")
        if not value or _undecodable(text, line, builder):
            return None, 0
        return builder.add(line, value, None, None), 0

    fast: FastPath | None = None
    if _bulk_allowed(builder.options) and builder.options.batch_text is not None:
        fast = lambda raws, line, base: plain_block(raws, builder, line, base)  # noqa: E731
    return _read_records(source, builder, lineno, fast, careful)


def _flushed(builder: Builder, fast: Block) -> Iterator[Block]:
    """Records pending in the builder, then a fast block: input order is kept."""
    pending = builder.flush()
    if pending is not None:
        yield pending
    yield fast


def _read_jsonl(source: LineSource, builder: Builder, lineno: int) -> Iterator[Block]:
    def careful(text: str, line: int) -> tuple[Block | None, int]:
        text = text.strip().lstrip("\ufeff")
        if not text or _undecodable(text, line, builder):
            return None, 0
        try:
            item = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            builder.reject(line, text[:64], codes.BAD_JSON, f"{text[:64]!r} is not valid JSON "
                           f"({exc})")
            return None, 0
        return add_mapping(builder, line, item), 0

    fast: FastPath | None = None
    if _bulk_allowed(builder.options) and builder.options.encoding == "utf-8":
        fast = lambda raws, line, base: jsonl_block(raws, builder, line, base)  # noqa: E731
    return _read_records(source, builder, lineno, fast, careful)


def _read_csv(header: str, source: LineSource, builder: Builder, lineno: int
              ) -> Iterator[Block]:
    layout = CsvLayout(header, builder.options)
    fast: FastPath | None = None
    if _bulk_allowed(builder.options):
        fast = lambda raws, line, base: csv_block(raws, layout, builder, line, base)  # noqa: E731
    return _read_records(source, builder, lineno, fast,
                         lambda text, line: _csv_record(text, line, source, layout, builder),
                         quoted=True)


def _csv_record(text: str, line: int, source: LineSource, layout: CsvLayout,
                builder: Builder) -> tuple[Block | None, int]:
    """One record the careful way; returns any full block and how many extra lines it used."""
    if _undecodable(text, line, builder):
        return None, 0
    if '"' not in text:
        return _add_row(builder, layout, line, text.rstrip("\r\n").split(layout.delimiter)), 0
    row, extra, long = _quoted_row(text, source, layout.delimiter)
    if long is not None or (row is None and extra):
        # a quoted field still open past a line too long to hold, or past MAX_LINE_BYTES of
        # lines: a record too long, skipped with every line the field runs over
        size = len(text.encode(source.encoding, "surrogateescape")) + sum(map(len, extra))
        quotes = text.count('"') + sum(raw.count(b'"') for raw in extra)
        if long is not None:
            size, quotes = size + long.size, quotes + long.quotes
        if long is not None or (quotes % 2 and size > MAX_LINE_BYTES):
            lines, closed = len(extra) + 1 + (long is not None), True
            if quotes % 2:
                more, past, closed = _past_open_quote(source)
                lines, size = lines + more, size + past
            _too_long(line, _shown(text, size), size, builder, lines, closed)
            return None, lines - 1
    if row is None or (extra and len(row) != layout.width):
        source.give_back(extra)
        builder.reject(line, text.rstrip("\r\n")[:64], codes.BAD_QUOTES,
                       'unbalanced quotes; close the quoted field, or write a quote inside it '
                       'as ""')
        return None, 0
    return _add_row(builder, layout, line, row), len(extra)


def _quoted_row(text: str, source: LineSource, delimiter: str = ","
                ) -> tuple[list[str] | None, list[bytes], LongLine | None]:
    """Parse a line with quotes, joining the following lines while a quoted field is open.

    Returns the row (None when the quotes never balance), the extra lines it read, and the
    line too long to hold that the open field ran into (taken), if it did.
    """
    extra: list[bytes] = []
    buffer = text
    while buffer.count('"') % 2 and len(extra) < MAX_RECORD_LINES and \
            len(buffer) <= MAX_LINE_BYTES:
        more = source.next_raw()
        if more is None:
            long = source.take_long()
            if long is not None:
                return None, extra, long
            break
        extra.append(more)
        buffer += more.decode(source.encoding, "surrogateescape")
    if buffer.count('"') % 2:
        return None, extra, None
    try:
        rows = list(csv.reader([buffer.rstrip("\r\n")], delimiter=delimiter))
    except csv.Error:  # the quotes balance but do not enclose the line ends
        return None, extra, None
    return (rows[0] if rows else []), extra, None


def _add_row(builder: Builder, layout: CsvLayout, line: int, row: list[str]
             ) -> Block | None:
    if row == [""] or not row:
        return None  # a blank line is not a record
    if len(row) != layout.width:
        builder.reject(line, layout.delimiter.join(row)[:64], codes.COLUMN_COUNT,
                       f"expected {layout.width} columns as in the header, found {len(row)}: "
                       f"{layout.delimiter.join(row)[:64]!r}")
        return None
    text = row[layout.text_index] if layout.text_index >= 0 else None
    fields = dict(zip(layout.names, row, strict=True)) if layout.wants_fields else None
    zone = row[layout.zone_index] if layout.zone_index >= 0 else None
    return builder.add(line, row[layout.to_index].strip(), text or None, fields, zone)
