"""Streaming recipient reader: byte lines (CSV, JSONL, one number per line) or Python items in,
blocks of accepted records out, bad records handed to a sink as local rejections.

Nothing here opens a file: callers pass an iterable of byte lines (an open binary file,
``sys.stdin.buffer``, a gzip stream) or of items. Memory stays flat: at most one block of
records exists at a time.
"""

from __future__ import annotations

import csv
import string
from collections.abc import AsyncIterable, AsyncIterator, Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from engine import phone
from engine import rejections as codes
from engine.errors import BadRecordError, InputError, UsageError
from engine.rejections import Rejection

MAX_TEXT = 1000  # MessageCreateRequest.text maxLength in the spec
BLOCK_SIZE = 8192
# A quoted CSV field may span lines, but a valid record is at most 1000 characters of text:
# past this many lines an open quote is a broken record, not a long one.
MAX_RECORD_LINES = 64
FORMATS = ("csv", "jsonl", "lines")

RejectSink = Callable[[Rejection], None]


@dataclass(slots=True)
class Block:
    """Accepted records in input order, as parallel lists. ``texts`` is None when every record
    uses the batch text; an entry is None where that record does."""

    tos: list[str] = field(default_factory=list)
    texts: list[str | None] | None = None
    positions: list[int] = field(default_factory=list)
    lines: list[int] | None = None

    def __len__(self) -> int:
        return len(self.tos)


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

    def __post_init__(self) -> None:
        if self.batch_text is not None and len(self.batch_text) > MAX_TEXT:
            raise UsageError(f"--text is {len(self.batch_text)} characters; RingCentral allows "
                             f"{MAX_TEXT}. Shorten it.")
        if self.template is not None:
            template_fields(self.template)


def template_fields(template: str) -> tuple[str, ...]:
    """The plain field names a template uses; anything fancier is refused up front."""
    names = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise UsageError(f"template {template!r} is malformed ({exc}). Use {{name}} fields and "
                         "write a literal brace as {{ or }}.") from exc
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not name.isidentifier() or spec or conversion:
            raise UsageError(f"template field {{{name}}} is not a plain name. Use fields such "
                             "as {name} that match a CSV column or JSON key.")
        names.append(name)
    return tuple(names)


class _Builder:
    """Turns raw (to, text, fields) into accepted records or local rejections, and fills
    blocks. Shared by every input format so they agree to the letter."""

    def __init__(self, options: ReadOptions, reject: RejectSink, with_lines: bool) -> None:
        self.options = options
        self.reject_sink = reject
        self.with_lines = with_lines
        self.position = 0
        self.block = self._new_block()
        self.seen: set[int] | None = set() if options.dedupe else None

    def _new_block(self) -> Block:
        return Block(lines=[] if self.with_lines else None)

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
        number = phone.normalize(raw_to) if raw_to else None
        if number is None:
            self._bad_number(line, raw_to)
            return None
        template = self.options.template
        if template is not None and fields is not None:
            try:
                text = template.format_map(fields)
            except KeyError as exc:
                self.reject(line, raw_to, codes.TEMPLATE_FIELD,
                            f"the template needs field {exc.args[0]!r}, which this record lacks")
                return None
        return self._accept(line, raw_to, number, text)

    def _bad_number(self, line: int | None, raw_to: str) -> None:
        if not raw_to.strip():
            self.reject(line, raw_to, codes.EMPTY_TO, "the recipient number is empty")
        else:
            self.reject(line, raw_to, codes.INVALID_NUMBER,
                        f"{raw_to!r} is not an E.164 number; write it as +<country code>"
                        "<number>, e.g. +14155550100")

    def _accept(self, line: int | None, raw_to: str, number: str, text: str | None
                ) -> Block | None:
        batch_text = self.options.batch_text
        if not text:
            if batch_text is None:
                self.reject(line, raw_to, codes.NO_TEXT,
                            "no text for this recipient and no batch text; pass --text or "
                            "fill the text column")
                return None
            text = None
        elif len(text) > MAX_TEXT:
            self.reject(line, raw_to, codes.TEXT_TOO_LONG,
                        f"text is {len(text)} characters; RingCentral allows {MAX_TEXT}")
            return None
        elif text == batch_text:
            text = None
        if self.seen is not None and self._duplicate(number, text):
            self.reject(line, raw_to, codes.DUPLICATE, "duplicate of an earlier recipient")
            return None
        block = self.block
        if text is not None and block.texts is None:
            block.texts = [None] * len(block.tos)
        block.tos.append(number)
        if block.texts is not None:
            block.texts.append(text)
        block.positions.append(self.position)
        if block.lines is not None and line is not None:
            block.lines.append(line)
        self.position += 1
        if len(block.tos) >= BLOCK_SIZE:
            return self.flush()
        return None

    def _duplicate(self, number: str, text: str | None) -> bool:
        # Integers, not strings: about 70 bytes per distinct recipient in a set (README).
        key = int(number[1:]) if text is None else hash((number, text))
        assert self.seen is not None
        if key in self.seen:
            return True
        self.seen.add(key)
        return False

    def flush(self) -> Block | None:
        block = self.block
        if not block.tos:
            return None
        self.block = self._new_block()
        return block


def detect_format(source: str, first_line: bytes, to_column: str) -> str:
    """The format named by the file suffix, else guessed from the first line."""
    name = source.lower().removesuffix(".gz")
    for suffix, fmt in ((".csv", "csv"), (".jsonl", "jsonl"), (".ndjson", "jsonl"),
                        (".txt", "lines")):
        if name.endswith(suffix):
            return fmt
    head = first_line.lstrip(b"\xef\xbb\xbf").strip()
    if head.startswith(b"{"):
        return "jsonl"
    if b"," in head or head.decode("utf-8", "replace").strip('"') == to_column:
        return "csv"
    return "lines"


def read_lines(lines: Iterable[bytes], options: ReadOptions, reject: RejectSink
               ) -> Iterator[Block]:
    """Blocks of accepted records from byte lines; bad records go to ``reject``."""
    stream = iter(lines)
    first = next(stream, None)
    if first is None:
        return
    fmt = options.format
    if fmt == "auto":
        fmt = detect_format(options.source, first, options.to_column)
    if fmt not in FORMATS:
        raise UsageError(f"unknown input format {fmt!r}. Use one of: {', '.join(FORMATS)}.")
    builder = _Builder(options, reject, with_lines=True)
    readers = {"csv": _read_csv, "jsonl": _read_jsonl, "lines": _read_plain}
    yield from readers[fmt](first, stream, builder)
    tail = builder.flush()
    if tail is not None:
        yield tail


def _decode(raw: bytes, line: int, builder: _Builder) -> str | None:
    try:
        return raw.decode()
    except UnicodeDecodeError as exc:
        builder.reject(line, raw[:64].decode("utf-8", "replace"), codes.BAD_UTF8,
                       f"invalid UTF-8 at byte {exc.start} of the line; save the file as UTF-8")
        return None


def _read_plain(first: bytes, stream: Iterator[bytes], builder: _Builder) -> Iterator[Block]:
    lineno = 0
    for raw in _chain_first(first, stream):
        lineno += 1
        text = _decode(raw, lineno, builder)
        if text is None:
            continue
        if lineno == 1:
            text = text.lstrip("\ufeff")
        value = text.strip()
        if value:
            block = builder.add(lineno, value, None, None)
            if block is not None:
                yield block


def _chain_first(first: bytes, stream: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from stream


def _read_jsonl(first: bytes, stream: Iterator[bytes], builder: _Builder) -> Iterator[Block]:
    lineno = 0
    for raw in _chain_first(first, stream):
        lineno += 1
        text = _decode(raw, lineno, builder)
        if text is None:
            continue
        text = text.strip().lstrip("\ufeff")
        if not text:
            continue
        try:
            item = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            builder.reject(lineno, None, codes.BAD_JSON, f"not valid JSON ({exc})")
            continue
        block = _add_mapping(builder, lineno, item)
        if block is not None:
            yield block


def _add_mapping(builder: _Builder, line: int | None, item: Any) -> Block | None:
    if not isinstance(item, dict):
        builder.reject(line, None, codes.BAD_ITEM,
                       'expected an object such as {"to": "+14155550100", "text": "Hi"}')
        return None
    to, text = item.get("to"), item.get("text")
    if isinstance(to, list) and len(to) == 1:
        to = to[0]
    if not isinstance(to, str) or (text is not None and not isinstance(text, str)):
        builder.reject(line, None if to is None else str(to), codes.BAD_ITEM,
                       '"to" must be a string and "text", when present, a string')
        return None
    return builder.add(line, to, text, item)


class _CsvLayout:
    def __init__(self, header: list[str], options: ReadOptions) -> None:
        names = [name.strip() for name in header]
        self.width = len(names)
        self.names = names
        if options.to_column not in names:
            raise InputError(f"{options.source}, line 1: no column named {options.to_column!r} "
                             f"in the header ({', '.join(names)}). Pass --to-column NAME.")
        self.to_index = names.index(options.to_column)
        self.text_index = names.index(options.text_column) if options.text_column in names else -1
        if self.text_index < 0 and options.text_column_required:
            raise InputError(f"{options.source}, line 1: no column named "
                             f"{options.text_column!r} in the header. Pass --text-column NAME.")
        self.wants_fields = options.template is not None


class _LineSource:
    """Byte lines with push-back, so a broken multi-line record can return what it borrowed."""

    def __init__(self, stream: Iterator[bytes]) -> None:
        self._stream = stream
        self._back: list[bytes] = []

    def next(self) -> bytes | None:
        return self._back.pop() if self._back else next(self._stream, None)

    def give_back(self, lines: list[bytes]) -> None:
        self._back.extend(reversed(lines))


def _read_csv(first: bytes, stream: Iterator[bytes], builder: _Builder) -> Iterator[Block]:
    layout = _CsvLayout(next(csv.reader([first.decode("utf-8-sig", "replace")])), builder.options)
    source = _LineSource(stream)
    lineno = 1
    while (raw := source.next()) is not None:
        lineno += 1
        text = _decode(raw, lineno, builder)
        if text is None:
            continue
        start = lineno
        if '"' in text:
            row, extra = _quoted_row(text, source)
            if row is None or (extra and len(row) != layout.width):
                source.give_back(extra)
                builder.reject(start, text.rstrip("\r\n")[:64], codes.BAD_QUOTES,
                               'unbalanced quotes; close the quoted field, or write a quote '
                               'inside it as ""')
                continue
            lineno += len(extra)
        else:
            row = text.rstrip("\r\n").split(",")
        block = _add_row(builder, layout, start, row)
        if block is not None:
            yield block


def _quoted_row(text: str, source: _LineSource) -> tuple[list[str] | None, list[bytes]]:
    """Parse a line with quotes, joining the following lines while a quoted field is open.

    Returns the row (None when the quotes never balance) and the extra lines it read.
    """
    extra: list[bytes] = []
    buffer = text
    while buffer.count('"') % 2 and len(extra) < MAX_RECORD_LINES:
        raw = source.next()
        if raw is None:
            break
        extra.append(raw)
        buffer += raw.decode("utf-8", "replace")
    if buffer.count('"') % 2:
        return None, extra
    rows = list(csv.reader([buffer.rstrip("\r\n")]))
    return (rows[0] if rows else []), extra


def _add_row(builder: _Builder, layout: _CsvLayout, line: int, row: list[str]
             ) -> Block | None:
    if row == [""] or not row:
        return None  # a blank line is not a record
    if len(row) != layout.width:
        builder.reject(line, ",".join(row)[:64], codes.COLUMN_COUNT,
                       f"expected {layout.width} columns as in the header, found {len(row)}")
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
