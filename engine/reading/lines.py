"""Streaming recipient reader for byte lines (CSV, JSONL, one number per line): blocks of
accepted records out, bad records handed to a sink as local rejections.

Nothing here opens a file: callers pass an iterable of byte lines (an open binary file,
``sys.stdin.buffer``, a gzip stream). Memory stays flat: at most one block of records exists at a
time. Lines are read a block at a time through the bulk paths (engine/reading/blocks.py); any
block holding a record they cannot vouch for goes, alone, to the careful record-by-record path
here, which names each bad record. The two agree to the byte offset (tests/test_reading.py).
"""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from itertools import chain, islice

import orjson

from engine.core import rejections as codes
from engine.errors import UsageError
from engine.reading import FORMATS
from engine.reading.blocks import csv_block, jsonl_block, plain_block
from engine.reading.dialect import DELIMITERS, CsvLayout
from engine.reading.options import ReadOptions, StartAt
from engine.reading.records import BLOCK_SIZE, Block, Builder, RejectSink, add_mapping

# A quoted CSV field may span lines, but a valid record is at most 1000 characters of text:
# past this many lines an open quote is a broken record, not a long one.
MAX_RECORD_LINES = 64
# Non-letters a Windows-1252 text holds: curly quotes, dashes, the euro sign, a no-break space.
_CP1252_PUNCTUATION = "\u2018\u2019\u201c\u201d\u2013\u2014\u20ac\u00a0"

FastPath = Callable[[list[bytes], int, int], Block | None]  # (lines, first line, offset)
CarefulPath = Callable[[str, int], tuple[Block | None, int]]


def detect_format(source: str, first_line: str, to_column: str) -> str:
    """The format named by the file suffix, else guessed from the first line."""
    name = source.lower().removesuffix(".gz")
    for suffix, fmt in ((".csv", "csv"), (".tsv", "csv"), (".jsonl", "jsonl"),
                        (".ndjson", "jsonl"), (".txt", "lines")):
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
    stream = iter(lines)
    raw_first = next(stream, None) if start is None else start.header
    if raw_first is None:
        return
    first = raw_first.decode(options.encoding, "surrogateescape").lstrip("\ufeff")
    fmt = options.format
    if fmt == "auto":
        fmt = detect_format(options.source, first, options.to_column)
    if fmt not in FORMATS:
        raise UsageError(f"unknown input format {fmt!r}. Use one of: {', '.join(FORMATS)}.")
    builder = Builder(options, reject, with_lines=True)
    lineno = 0
    if start is not None:
        builder.position, lineno = start.position, start.line - 1
    if fmt == "csv":
        source = _LineSource(stream, start.offset if start else len(raw_first),
                             options.encoding)
        yield from _read_csv(first, source, builder, lineno or 1)
    else:
        if start is None:  # the first line was only a peek: it is a record
            stream = chain([raw_first], stream)
        source = _LineSource(stream, start.offset if start else 0, options.encoding)
        yield from (_read_plain if fmt == "lines" else _read_jsonl)(source, builder, lineno)
    tail = builder.flush()
    if tail is not None:
        yield tail


class _LineSource:
    """Byte lines in, with push-back (a broken multi-line record returns what it borrowed, a
    block the bulk path refused goes back whole) and batches (clean stretches are read a block
    at a time). Lines stay bytes until a record is read the careful way, so pushing a block
    back costs no decoding and the byte offset stays exact.

    Lines are decoded one at a time from ``encoding`` (one byte per newline, so the offsets of
    the original bytes stay exact whatever the encoding). Bytes that are not in it survive
    decoding as lone surrogates, checked per record, so one bad byte costs one record, not
    the file.
    """

    def __init__(self, stream: Iterator[bytes], offset: int = 0, encoding: str = "utf-8"
                 ) -> None:
        self._stream = stream
        self._back: list[bytes] = []
        self.offset = offset  # byte offset of the next line to be read
        self.encoding = encoding

    def next_raw(self) -> bytes | None:
        raw = self._back.pop() if self._back else next(self._stream, None)
        if raw is not None:
            self.offset += len(raw)
        return raw

    def next(self) -> str | None:
        raw = self.next_raw()
        return None if raw is None else raw.decode(self.encoding, "surrogateescape")

    def pending(self) -> bool:
        return bool(self._back)

    def take_raw(self, n: int) -> list[bytes]:
        """Up to ``n`` lines; only called when nothing is pushed back."""
        raws = list(islice(self._stream, n))
        self.offset += sum(map(len, raws))
        return raws

    def give_back(self, raws: list[bytes]) -> None:
        self._back.extend(reversed(raws))
        self.offset -= sum(map(len, raws))


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


def _read_records(source: _LineSource, builder: Builder, lineno: int, fast: FastPath | None,
                  careful: CarefulPath) -> Iterator[Block]:
    """Clean blocks in bulk, anything else record by record, in input order.

    ``lineno`` is the line before the first; ``fast`` is None when these options have no bulk
    path; ``careful`` returns a full block (or None) and how many extra lines the record used.
    A block the bulk path refuses is read the careful way, alone: the next is tried in bulk.
    """
    while True:
        if fast is not None and not source.pending():
            base = source.offset
            raws = source.take_raw(BLOCK_SIZE)
            if not raws:
                return
            block = fast(raws, lineno + 1, base)
            if block is not None:  # empty when every record of it was rejected
                if block:
                    yield from _flushed(builder, block)
                lineno += len(raws)
                continue
            source.give_back(raws)
        builder.offset = source.offset
        text = source.next()
        if text is None:
            return
        lineno += 1
        block, extra = careful(text, lineno)
        lineno += extra
        if block is not None:
            yield block


def _bulk_allowed(options: ReadOptions) -> bool:
    """Templates and de-duplication need every record's own fields and key, and strict numbers
    a libphonenumber call per number: careful only."""
    return options.template is None and not options.dedupe and not options.strict_numbers


def _read_plain(source: _LineSource, builder: Builder, lineno: int) -> Iterator[Block]:
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


def _read_jsonl(source: _LineSource, builder: Builder, lineno: int) -> Iterator[Block]:
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


def _read_csv(header: str, source: _LineSource, builder: Builder, lineno: int
              ) -> Iterator[Block]:
    layout = CsvLayout(header, builder.options)
    fast: FastPath | None = None
    if _bulk_allowed(builder.options):
        fast = lambda raws, line, base: csv_block(raws, layout, builder, line, base)  # noqa: E731
    return _read_records(source, builder, lineno, fast,
                         lambda text, line: _csv_record(text, line, source, layout, builder))


def _csv_record(text: str, line: int, source: _LineSource, layout: CsvLayout,
                builder: Builder) -> tuple[Block | None, int]:
    """One record the careful way; returns any full block and how many extra lines it used."""
    if _undecodable(text, line, builder):
        return None, 0
    if '"' not in text:
        return _add_row(builder, layout, line, text.rstrip("\r\n").split(layout.delimiter)), 0
    row, extra = _quoted_row(text, source, layout.delimiter)
    if row is None or (extra and len(row) != layout.width):
        source.give_back(extra)
        builder.reject(line, text.rstrip("\r\n")[:64], codes.BAD_QUOTES,
                       'unbalanced quotes; close the quoted field, or write a quote inside it '
                       'as ""')
        return None, 0
    return _add_row(builder, layout, line, row), len(extra)


def _quoted_row(text: str, source: _LineSource, delimiter: str = ","
                ) -> tuple[list[str] | None, list[bytes]]:
    """Parse a line with quotes, joining the following lines while a quoted field is open.

    Returns the row (None when the quotes never balance) and the extra lines it read.
    """
    extra: list[bytes] = []
    buffer = text
    while buffer.count('"') % 2 and len(extra) < MAX_RECORD_LINES:
        more = source.next_raw()
        if more is None:
            break
        extra.append(more)
        buffer += more.decode(source.encoding, "surrogateescape")
    if buffer.count('"') % 2:
        return None, extra
    try:
        rows = list(csv.reader([buffer.rstrip("\r\n")], delimiter=delimiter))
    except csv.Error:  # the quotes balance but do not enclose the line ends
        return None, extra
    return (rows[0] if rows else []), extra


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
    return builder.add(line, row[layout.to_index].strip(), text or None, fields)
