"""Streaming recipient reader: byte lines (CSV, JSONL, one number per line) or Python items in,
blocks of accepted records out, bad records handed to a sink as local rejections.

Nothing here opens a file: callers pass an iterable of byte lines (an open binary file,
``sys.stdin.buffer``, a gzip stream) or of items. Memory stays flat: at most one block of
records exists at a time.

Lines are read a block at a time and each format has a bulk path (one decode, one split or
one ``csv.reader`` per block for CSV, one ``orjson.loads`` per line mapped in C for JSONL);
any block holding a record it cannot vouch for goes, alone, to the careful record-by-record
path, which names each bad record. The two agree to the byte offset (tests/test_reader.py).
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Callable,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from itertools import accumulate, chain, islice, repeat
from operator import itemgetter
from typing import Any, cast, overload

import orjson

from engine import rejections as codes
from engine.errors import BadRecordError, InputError, UsageError
from engine.reading import phone, templates
from engine.rejections import Rejection

MAX_TEXT = 1000  # MessageCreateRequest.text maxLength in the spec
BLOCK_SIZE = 8192
# A quoted CSV field may span lines, but a valid record is at most 1000 characters of text:
# past this many lines an open quote is a broken record, not a long one.
MAX_RECORD_LINES = 64
FORMATS = ("csv", "jsonl", "lines")

# Delimiters tried, in order, when the header has none of the expected columns with a comma.
DELIMITERS = (",", ";", "\t", "|")
_DELIMITER_NAMES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
# Header names that usually hold the phone number, for the "no column named" hint.
_PHONE_LIKE = re.compile(r"phone|mobile|cell|number|msisdn|tel|sms|\bto\b", re.IGNORECASE)

# Non-letters a Windows-1252 text holds: curly quotes, dashes, the euro sign, a no-break space.
_CP1252_PUNCTUATION = "\u2018\u2019\u201c\u201d\u2013\u2014\u20ac\u00a0"

RejectSink = Callable[[Rejection], None]
_E164_LINES = re.compile(f"(?:{phone.E164.pattern}\n)*")


@dataclass(slots=True)
class Block:
    """Accepted records in input order, as parallel lists. ``texts`` is None when every record
    uses the batch text; an entry is None where that record does. Positions and lines are
    ``range`` objects when contiguous, which is the common case."""

    tos: list[str] = field(default_factory=list)
    texts: list[str | None] | None = None
    positions: Sequence[int] = field(default_factory=list)
    lines: Sequence[int] | None = None
    offsets: Sequence[int] | None = None  # byte offset of each record's first line (files)

    def __len__(self) -> int:
        return len(self.tos)


class _Offsets(Sequence[int]):
    """The byte offsets of a bulk block's lines, worked out when first asked for: only a
    block in which a chunk starts, or one a resume reads again, ever needs them."""

    __slots__ = ("_base", "_raws", "_values")

    def __init__(self, raws: list[bytes], base: int) -> None:
        self._raws = raws
        self._base = base
        self._values: list[int] | None = None

    def _all(self) -> list[int]:
        if self._values is None:
            self._values = list(accumulate(map(len, self._raws[:-1]), initial=self._base))
            self._raws = []
        return self._values

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...

    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())


@dataclass(frozen=True, slots=True)
class StartAt:
    """Where a resumed read begins: the file's first line (format and CSV header), then the
    byte offset, input position and line number of the first record to read."""

    header: bytes
    offset: int
    position: int
    line: int


@dataclass(frozen=True, slots=True)
class ReadOptions:
    """How to read one input. ``batch_text`` is the request-level text, if any."""

    source: str = "<input>"
    format: str = "auto"
    to_column: str = "to"
    text_column: str = "text"
    text_column_required: bool = False
    batch_text: str | None = None
    template: str | None = None
    strict: bool = False
    dedupe: bool = False
    encoding: str = "utf-8"
    delimiter: str | None = None  # None: comma, tab for .tsv, sniffed when the header needs it
    default_country: str | None = "US"  # numbers without + read in the North American plan
    strict_numbers: bool = False  # libphonenumber's validity rules on top of the local check
    north_american_only: bool = True  # refuse numbers outside +1 locally (SMS-RC-410 anyway)

    def __post_init__(self) -> None:
        if self.batch_text is not None and len(self.batch_text) > MAX_TEXT:
            raise UsageError(f"--text is {len(self.batch_text)} characters; RingCentral allows "
                             f"{MAX_TEXT}. Shorten it.")
        if self.template is not None:
            templates.parse(self.template)
        object.__setattr__(self, "encoding", check_encoding(self.encoding))
        object.__setattr__(self, "default_country", phone.check_country(self.default_country))
        if self.delimiter is not None and len(self.delimiter) != 1:
            raise UsageError(f"--delimiter {self.delimiter!r} must be one character, e.g. ';' "
                             "or a tab ($'\\t' in a shell).")

    def as_header(self) -> dict[str, Any]:
        """What a journal records so a resume or 'a2p outcomes' reads the input the same way."""
        return {"format": self.format, "toColumn": self.to_column,
                "textColumn": self.text_column, "textColumnRequired": self.text_column_required,
                "strict": self.strict, "dedupe": self.dedupe, "encoding": self.encoding,
                "delimiter": self.delimiter,
                "defaultCountry": self.default_country, "strictNumbers": self.strict_numbers,
                "northAmericanOnly": self.north_american_only}

    @classmethod
    def from_header(cls, read: Mapping[str, Any], **given: Any) -> ReadOptions:
        """The options a journal's ``read`` header recorded (older journals: the defaults)."""
        return cls(format=read.get("format", "auto"), to_column=read.get("toColumn", "to"),
                   text_column=read.get("textColumn", "text"),
                   text_column_required=read.get("textColumnRequired", False),
                   strict=read.get("strict", False), dedupe=read.get("dedupe", False),
                   encoding=read.get("encoding", "utf-8"), delimiter=read.get("delimiter"),
                   default_country=read.get("defaultCountry", "US"),
                   strict_numbers=read.get("strictNumbers", False),
                   north_american_only=read.get("northAmericanOnly", True), **given)


def check_encoding(name: str) -> str:
    """``--encoding`` as a codec name; refused when lines cannot be split on the newline byte
    (UTF-16/32), since byte offsets for resume are taken between lines."""
    try:
        codec = codecs.lookup(name).name
    except LookupError as exc:
        raise UsageError(f"--encoding {name!r} is not an encoding Python knows. Use e.g. "
                         "utf-8, cp1252 (Windows Western), latin-1 or cp1250.") from exc
    if codec == "utf-8-sig":
        return "utf-8"  # a byte-order mark is skipped either way
    if "\n".encode(codec) != b"\n" or "a,".encode(codec) != b"a,":
        raise UsageError(f"--encoding {name!r} does not keep one byte per newline (UTF-16 and "
                         "UTF-32 do not). Convert the file to UTF-8, e.g. iconv -f UTF-16 -t "
                         "UTF-8.")
    return codec


class _Builder:
    """Turns raw (to, text, fields) into accepted records or local rejections, and fills
    blocks. Shared by every input format so they agree to the letter."""

    def __init__(self, options: ReadOptions, reject: RejectSink, with_lines: bool) -> None:
        self.options = options
        self.reject_sink = reject
        self.with_lines = with_lines
        self.position = 0
        self.offset = 0  # byte offset of the record being added (files only)
        # first line (or position, for items) of each key, so a duplicate names what it repeats
        self.seen: dict[int, int] | None = {} if options.dedupe else None
        self.check = number_checker(options)
        self.template = None if options.template is None else templates.parse(options.template)
        self._start()

    def _start(self) -> None:
        self._tos: list[str] = []
        self._texts: list[str | None] | None = None
        self._positions: list[int] = []
        self._lines: list[int] | None = [] if self.with_lines else None
        self._offsets: list[int] | None = [] if self.with_lines else None

    def reject(self, line: int | None, to: str | None, code: str, reason: str) -> None:
        """Record a bad record at the current position (or stop, in strict mode)."""
        if self.options.strict:
            where = self.options.source + (f", line {line}" if line is not None else "")
            where += f" (record {self.position})"
            raise BadRecordError(where, reason, "Fix that record, or drop --strict to skip "
                                 "bad records and list them in the report.")
        self.reject_sink(Rejection(self.position, line, to, code, reason))
        self.position += 1

    def add(self, line: int | None, raw_to: str, text: str | None,
            fields: Mapping[str, Any] | None) -> Block | None:
        """One data record; returns a full block when this record completed one."""
        number = self.check(raw_to)
        if isinstance(number, phone.Problem):
            self.reject(line, raw_to, number.code, number.message)
            return None
        template = self.template
        if template is not None and fields is not None:
            rendered = template.render(fields)
            if isinstance(rendered, templates.Missing):
                self.reject(line, raw_to, codes.TEMPLATE_FIELD, rendered.message())
                return None
            text = rendered
        return self._accept(line, raw_to, number, text)

    def _accept(self, line: int | None, raw_to: str, number: str, text: str | None
                ) -> Block | None:
        batch_text = self.options.batch_text
        if not text:
            if batch_text is None:
                self.reject(line, raw_to, codes.NO_TEXT,
                            f"no text for {raw_to!r} and no batch text; pass --text or fill "
                            "the text column")
                return None
            text = None
        elif len(text) > MAX_TEXT:
            self.reject(line, raw_to, codes.TEXT_TOO_LONG,
                        f"text is {len(text)} characters ({text[:24]!r}...); RingCentral "
                        f"allows {MAX_TEXT}")
            return None
        elif text == batch_text:
            text = None
        if self.seen is not None:
            earlier = self._earlier(number, text, line)
            if earlier is not None:
                where = f"line {earlier}" if line is not None else f"item {earlier}"
                self.reject(line, raw_to, codes.DUPLICATE,
                            f"{raw_to!r} ({number}) repeats {where}, with the same text")
                return None
        if text is not None and self._texts is None:
            self._texts = [None] * len(self._tos)
        self._tos.append(number)
        if self._texts is not None:
            self._texts.append(text)
        self._positions.append(self.position)
        if self._lines is not None and line is not None:
            self._lines.append(line)
        if self._offsets is not None:
            self._offsets.append(self.offset)
        self.position += 1
        if len(self._tos) >= BLOCK_SIZE:
            return self.flush()
        return None

    def _earlier(self, number: str, text: str | None, line: int | None) -> int | None:
        """The line (or, for items, the position) this recipient first appeared at, if any."""
        # Integer keys, not strings: about 100 bytes per distinct recipient (README).
        key = int(number[1:]) if text is None else hash((number, text))
        assert self.seen is not None
        here = self.position if line is None else line
        first = self.seen.setdefault(key, here)
        return None if first == here else first

    def flush(self) -> Block | None:
        if not self._tos:
            return None
        block = Block(self._tos, self._texts, self._positions, self._lines, self._offsets)
        self._start()
        return block

    def fast_block(self, tos: list[str], texts: list[str | None] | None, first_line: int,
                   raws: list[bytes], base: int) -> Block:
        """A block of records already known good (one line each), after any still pending."""
        n = len(tos)
        block = Block(tos, texts, range(self.position, self.position + n),
                      range(first_line, first_line + n), _Offsets(raws, base))
        self.position += n
        return block


def number_checker(options: ReadOptions) -> Callable[[str], phone.Checked]:
    """The careful path's check of one number, as the options ask for it."""
    country = options.default_country
    if options.strict_numbers:
        return phone.strict_checker(country)
    if not options.north_american_only:
        return lambda raw: phone.e164(raw, country)
    return lambda raw: phone.check(raw, country)


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
    builder = _Builder(options, reject, with_lines=True)
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


def _bad_utf8(text: str, line: int, builder: _Builder) -> bool:
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


def _block_text(raws: list[bytes], encoding: str = "utf-8") -> str | None:
    """The block as one string with \\n line ends, or None when it is not in ``encoding`` or
    holds a carriage return anywhere but before a line end (the careful path decides those)."""
    data = b"".join(raws)
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError:
        return None
    if "\r" in text:
        text = text.replace("\r\n", "\n")
        if "\r" in text:
            return None
    return text if text.endswith("\n") else text + "\n"


def normalize_numbers(raw: list[str], options: ReadOptions | None = None) -> list[str] | None:
    """The hook every bulk path applies to a block's number column: each number in E.164 and
    textable (``phone.check_all``), or None when any of them needs the careful path (which
    names the bad record)."""
    options = options or _DEFAULT_OPTIONS
    if options.north_american_only:
        return phone.check_all(raw, options.default_country)
    joined = "\n".join(raw)  # one regex pass, not a match object per number
    if joined.count("\n") == len(raw) - 1 and _E164_LINES.fullmatch(joined + "\n"):
        return raw
    return None


def _bulk_texts(raw: list[str] | list[str | None], options: ReadOptions
                ) -> tuple[bool, list[str | None] | None]:
    """(ok, texts) for a block's text column; not ok sends the block the careful way."""
    batch_text = options.batch_text
    if not any(raw):
        return batch_text is not None, None
    if None in raw:
        raw = ["" if t is None else t for t in raw]
    if max(map(len, raw)) > MAX_TEXT or (batch_text is None and not all(raw)):  # type: ignore[arg-type]
        return False, None
    if all(raw) and batch_text not in raw:
        return True, raw  # type: ignore[return-value]  # every record has its own text
    texts = [t if t and t != batch_text else None for t in raw]
    return True, None if texts.count(None) == len(texts) else texts


def _bulk_block(builder: _Builder, raw_tos: list[str], raw_texts: list[str] | list[str | None]
                | None, first_line: int, raws: list[bytes], base: int) -> Block | None:
    """The block for these columns (one record per line), or None when any record needs the
    careful path."""
    tos = normalize_numbers(raw_tos, builder.options)
    if tos is None:
        return None
    texts = None
    if raw_texts is not None:
        ok, texts = _bulk_texts(raw_texts, builder.options)
        if not ok:
            return None
    elif builder.options.batch_text is None:
        return None
    return builder.fast_block(tos, texts, first_line, raws, base)


_ROWS_PER_READER = 256  # rows per csv.reader call (see _quoted_columns)


def _quoted_columns(lines: list[str], layout: _CsvLayout
                    ) -> tuple[list[str], list[str] | None] | None:
    """The number and text columns of whole CSV lines, or None when any line is not a full
    row (csv.reader's error, a blank line, a short row: the careful path decides those)."""
    tos: list[str] = []
    texts: list[str] | None = [] if layout.text_index >= 0 else None
    # A few hundred rows at a time: each row is a list the cycle collector tracks, and a whole
    # block of them alive at once would set it off a dozen times per block and promote them
    # all towards full collections (the same reason as the chunker's window).
    for start in range(0, len(lines), _ROWS_PER_READER):
        window = lines[start:start + _ROWS_PER_READER]
        try:
            rows = list(csv.reader(window, delimiter=layout.delimiter))
        except csv.Error:
            return None
        if len(rows) != len(window) or set(map(len, rows)) != {layout.width}:
            return None
        tos += map(itemgetter(layout.to_index), rows)
        if texts is not None:
            texts += map(itemgetter(layout.text_index), rows)
    return tos, texts


def _csv_block(raws: list[bytes], layout: _CsvLayout, builder: _Builder, first_line: int,
               base: int) -> Block | None:
    """A block of CSV rows read in bulk, or None when any row needs the careful path."""
    text = _block_text(raws, builder.options.encoding)
    if text is None:
        return None
    n, width, comma = len(raws), layout.width, layout.delimiter
    if '"' not in text:
        # One split for the whole batch: a "\n" field closes each row, so every row has
        # exactly ``width`` fields only if the markers sit at every (width + 1)th place.
        stride = width + 1
        fields = text.replace("\n", f"{comma}\n{comma}").split(comma)
        if len(fields) != n * stride + 1 or fields[width::stride] != ["\n"] * n:
            return None
        end = n * stride
        raw_tos = fields[layout.to_index:end:stride]
        raw_texts = fields[layout.text_index:end:stride] if layout.text_index >= 0 else None
        return _bulk_block(builder, raw_tos, raw_texts, first_line, raws, base)
    lines = text.split("\n")
    lines.pop()
    # A line with an even number of quotes closes every field it opens, so it is one whole
    # record, and csv.reader over the block's lines reads them exactly as the careful path
    # would.
    if any(count & 1 for count in set(map(str.count, lines, repeat('"')))):
        return None
    columns = _quoted_columns(lines, layout)
    if columns is None:
        return None
    raw_tos, raw_texts = columns
    return _bulk_block(builder, raw_tos, raw_texts, first_line, raws, base)


def _plain_block(raws: list[bytes], builder: _Builder, first_line: int, base: int
                 ) -> Block | None:
    text = _block_text(raws, builder.options.encoding)
    if text is None or not text.isascii():
        return None
    raw_tos = text.split("\n")[:-1]
    if len(raw_tos) != len(raws):
        return None
    return _bulk_block(builder, raw_tos, None, first_line, raws, base)


def _jsonl_block(raws: list[bytes], builder: _Builder, first_line: int, base: int
                 ) -> Block | None:
    """A block of JSON lines read in bulk, or None when any line needs the careful path.

    One ``orjson.loads`` per line, mapped in C: parsing the lines joined as one array would
    let a line that opens a bracket swallow the next, and the careful path reads each alone.
    """
    try:
        items = list(map(orjson.loads, raws))
    except orjson.JSONDecodeError:
        return None
    if set(map(type, items)) != {dict}:
        return None
    raw_tos = list(map(dict.get, items, repeat("to")))
    raw_texts = list(map(dict.get, items, repeat("text")))
    if set(map(type, raw_tos)) != {str} or not set(map(type, raw_texts)) <= {str, type(None)}:
        return None
    return _bulk_block(builder, cast("list[str]", raw_tos), raw_texts, first_line, raws, base)


FastPath = Callable[[list[bytes], int, int], Block | None]  # (lines, first line, offset)
CarefulPath = Callable[[str, int], tuple[Block | None, int]]


def _read_records(source: _LineSource, builder: _Builder, lineno: int, fast: FastPath | None,
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
            if block is not None:
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


def _read_plain(source: _LineSource, builder: _Builder, lineno: int) -> Iterator[Block]:
    def careful(text: str, line: int) -> tuple[Block | None, int]:
        value = text.strip().lstrip("\ufeff")
        if not value or _bad_utf8(text, line, builder):
            return None, 0
        return builder.add(line, value, None, None), 0

    fast: FastPath | None = None
    if _bulk_allowed(builder.options) and builder.options.batch_text is not None:
        fast = lambda raws, line, base: _plain_block(raws, builder, line, base)  # noqa: E731
    return _read_records(source, builder, lineno, fast, careful)


def _flushed(builder: _Builder, fast: Block) -> Iterator[Block]:
    """Records pending in the builder, then a fast block: input order is kept."""
    pending = builder.flush()
    if pending is not None:
        yield pending
    yield fast


def _read_jsonl(source: _LineSource, builder: _Builder, lineno: int) -> Iterator[Block]:
    def careful(text: str, line: int) -> tuple[Block | None, int]:
        text = text.strip().lstrip("\ufeff")
        if not text or _bad_utf8(text, line, builder):
            return None, 0
        try:
            item = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            builder.reject(line, text[:64], codes.BAD_JSON, f"{text[:64]!r} is not valid JSON "
                           f"({exc})")
            return None, 0
        return _add_mapping(builder, line, item), 0

    fast: FastPath | None = None
    if _bulk_allowed(builder.options) and builder.options.encoding == "utf-8":
        fast = lambda raws, line, base: _jsonl_block(raws, builder, line, base)  # noqa: E731
    return _read_records(source, builder, lineno, fast, careful)


def _not_utf8(item: Any) -> bool:
    """A Python string may hold a lone surrogate, which no request body can carry."""
    parts = item if isinstance(item, tuple | list) else \
        (item.get("to"), item.get("text")) if isinstance(item, Mapping) else (item,)
    try:
        "".join(p for p in parts if isinstance(p, str)).encode()
    except UnicodeEncodeError:
        return True
    return False


def _add_mapping(builder: _Builder, line: int | None, item: Any) -> Block | None:
    if not isinstance(item, dict):
        shown = orjson.dumps(item).decode()[:64] if line is not None else repr(item)[:64]
        builder.reject(line, shown, codes.BAD_ITEM, f'{shown} is not an object; expected '
                       'one such as {"to": "+14155550100", "text": "Hi"}')
        return None
    to, text = item.get("to"), item.get("text")
    if isinstance(to, list) and len(to) == 1:
        to = to[0]
    if "to" not in item:
        builder.reject(line, None, codes.BAD_ITEM,
                       f'no "to" in this record (it has: {", ".join(map(str, item)) or "nothing"}'
                       '); each needs one, e.g. {"to": "+14155550100"}')
        return None
    if type(to) is int or (type(to) is float and to.is_integer()):
        to = str(int(to))  # a number a tool wrote without quotes: its digits are intact
    if not isinstance(to, str):
        builder.reject(line, orjson.dumps(to).decode()[:64], codes.BAD_ITEM,
                       f'"to" is {orjson.dumps(to).decode()[:40]}; it must be a number as a '
                       'string (or digits), e.g. "+14155550100"')
        return None
    if text is not None and not isinstance(text, str):
        builder.reject(line, to, codes.BAD_ITEM, f'"text" is {orjson.dumps(text).decode()[:40]}'
                       '; when present it must be a string')
        return None
    return builder.add(line, to, text, item)


def _header_names(header: str, delimiter: str) -> list[str]:
    rows = list(csv.reader([header.rstrip("\r\n")], delimiter=delimiter))
    return [name.strip() for name in rows[0]] if rows else []


def choose_delimiter(header: str, options: ReadOptions) -> tuple[str, list[str]]:
    """The delimiter (given, tab for .tsv, else comma) and the header's column names; when the
    to-column is not among them and no delimiter was given, the first of semicolon, tab and
    pipe that splits the header into a to-column (Excel writes semicolons where the decimal
    mark is a comma). Raises an InputError naming the likely fix."""
    given = options.delimiter
    if given is None and options.source.lower().removesuffix(".gz").endswith(".tsv"):
        given = "\t"
    names = _header_names(header, given or ",")
    if options.to_column in names:
        return given or ",", names
    if given is None:
        for delimiter in DELIMITERS[1:]:
            other = _header_names(header, delimiter)
            if options.to_column in other:
                return delimiter, other
    raise InputError(_no_to_column(header, names, given, options))


def _no_to_column(header: str, names: list[str], given: str | None, options: ReadOptions
                  ) -> str:
    """The "no column named" message, with the fix the header suggests."""
    delimiter = given
    if delimiter is None:  # the delimiter that splits the header into the most columns
        delimiter = max(DELIMITERS, key=lambda d: len(_header_names(header, d)))
        names = _header_names(header, delimiter)
    kind = _DELIMITER_NAMES.get(delimiter, repr(delimiter))
    phone_like = [n for n in names if _PHONE_LIKE.search(n)]
    fixes = []
    if phone_like:
        fixes.append(f"--to-column {_shell(phone_like[0])} (the column that looks like the "
                     "numbers)")
    else:
        fixes.append("--to-column NAME with the column that holds the numbers")
    if len(names) == 1:
        fixes.append("--delimiter CHAR if the columns are separated by another character, or "
                      "--format lines for one number per line")
    return (f"{options.source}, line 1: no column named {options.to_column!r} in the header, "
            f"read as {kind}-separated: {', '.join(map(repr, names))}. Pass "
            + "; or ".join(fixes) + ".")


def _shell(name: str) -> str:
    return name if re.fullmatch(r"[\w.+-]+", name) else f"'{name}'"


class _CsvLayout:
    def __init__(self, header: str, options: ReadOptions) -> None:
        self.delimiter, names = choose_delimiter(header, options)
        self.width = len(names)
        self.names = names
        self.to_index = names.index(options.to_column)
        self.text_index = names.index(options.text_column) if options.text_column in names else -1
        if self.text_index < 0 and options.text_column_required:
            raise InputError(f"{options.source}, line 1: no column named "
                             f"{options.text_column!r} in the header. Pass --text-column NAME.")
        self.wants_fields = options.template is not None
        if options.template is not None:
            unknown = templates.parse(options.template).unknown(names)
            if unknown:
                raise InputError(
                    f"{options.source}, line 1: the template's field {unknown[0]} is not a "
                    f"column of the header ({', '.join(names)}). Name a column exactly as the "
                    "header writes it, e.g. {" + (names[-1] if names else "name") + "}.")


def _read_csv(header: str, source: _LineSource, builder: _Builder, lineno: int
              ) -> Iterator[Block]:
    layout = _CsvLayout(header, builder.options)
    fast: FastPath | None = None
    if _bulk_allowed(builder.options):
        fast = lambda raws, line, base: _csv_block(raws, layout, builder, line, base)  # noqa: E731
    return _read_records(source, builder, lineno, fast,
                         lambda text, line: _csv_record(text, line, source, layout, builder))


def _csv_record(text: str, line: int, source: _LineSource, layout: _CsvLayout,
                builder: _Builder) -> tuple[Block | None, int]:
    """One record the careful way; returns any full block and how many extra lines it used."""
    if _bad_utf8(text, line, builder):
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


def _add_row(builder: _Builder, layout: _CsvLayout, line: int, row: list[str]
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


def read_items(items: Iterable[Any], options: ReadOptions, reject: RejectSink
               ) -> Iterator[Block]:
    """Blocks from Python items: numbers, (to, text) pairs, or mappings with "to" and "text"."""
    builder = _Builder(options, reject, with_lines=False)
    for item in items:
        block = _add_item(builder, item)
        if block is not None:
            yield block
    tail = builder.flush()
    if tail is not None:
        yield tail


async def aread_items(items: AsyncIterable[Any], options: ReadOptions, reject: RejectSink
                      ) -> AsyncIterator[Block]:
    """The async twin of read_items."""
    builder = _Builder(options, reject, with_lines=False)
    async for item in items:
        block = _add_item(builder, item)
        if block is not None:
            yield block
    tail = builder.flush()
    if tail is not None:
        yield tail


def _add_item(builder: _Builder, item: Any) -> Block | None:
    if _not_utf8(item):
        builder.reject(None, None, codes.BAD_UTF8,
                       "the number or text holds a lone surrogate (such as \\ud800), which "
                       "UTF-8 cannot carry; fix the string before passing it")
        return None
    if isinstance(item, str):
        return builder.add(None, item, None, None)
    if isinstance(item, Mapping):
        return _add_mapping(builder, None, dict(item))
    if isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], str):
        text = item[1]
        if text is None or isinstance(text, str):
            return builder.add(None, item[0], text, None)
    builder.reject(None, None, codes.BAD_ITEM,
                   f"cannot read {type(item).__name__} item; pass a number string, a "
                   "(to, text) pair or a mapping with 'to' and 'text'")
    return None


_DEFAULT_OPTIONS = ReadOptions()
