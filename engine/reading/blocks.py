"""The bulk paths: a block of lines read at once (one decode, one split or one ``csv.reader``
per block for CSV, one ``orjson.loads`` per line mapped in C for JSONL), or None when any record
in it needs the careful record-by-record path, which names each bad record. The two agree to the
byte offset (tests/test_reading.py)."""

from __future__ import annotations

import csv
import re
from itertools import compress, repeat
from operator import itemgetter, not_
from typing import cast

import orjson

from engine.core.rejections import OPTED_OUT, SHOWN
from engine.reading import phone, plusone
from engine.reading.dialect import CsvLayout
from engine.reading.options import MAX_TEXT, ReadOptions
from engine.reading.records import Block, Builder
from engine.reading.suppressed import Suppressed

_E164_LINES = re.compile(f"(?:{phone.E164.pattern}\n)*")


def _block_text(raws: list[bytes], encoding: str = "utf-8") -> str | None:
    """The block as one string with \\n line ends, or None when it is not in ``encoding`` or
    holds a carriage return anywhere but before a line end (the careful path decides those)."""
    return _decoded(b"".join(raws), encoding)


def _decoded(data: bytes, encoding: str) -> str | None:
    """``_block_text`` of a block's bytes already joined."""
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
    if batch_text is None and all(raw):  # the personalised list: a text of its own each
        if max(map(len, raw)) > MAX_TEXT:  # type: ignore[arg-type]
            return False, None
        return True, raw  # type: ignore[return-value]  # all true: no None among them
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


def _bulk_block(builder: Builder, raw_tos: list[str], raw_texts: list[str] | list[str | None]
                | None, first_line: int, raws: list[bytes], base: int, strip: bool = True
                ) -> Block | None:
    """The block for these columns (one record per line), or None when any record needs the
    careful path. ``strip``: the careful path strips the number (CSV, lines; not JSONL)."""
    options = builder.options
    # "+1" and ten digits, each (a list as exported): sorted at once, good or why not
    kinds = plusone.classify_plus_one(raw_tos) if options.north_american_only else None
    if kinds is not None and kinds.count(0) != len(kinds):
        return _mixed_block(builder, raw_tos, raw_texts, first_line, raws, base, strip, kinds)
    tos = raw_tos if kinds is not None else normalize_numbers(raw_tos, options)
    if tos is None:
        return _mixed_block(builder, raw_tos, raw_texts, first_line, raws, base, strip)
    hits = builder.suppress.hits(tos) if builder.suppress is not None else None
    texts = None
    if raw_texts is not None:
        ok, texts = _bulk_texts(raw_texts, builder.options)
        if not ok:
            return None
    elif builder.options.batch_text is None:
        return None
    if hits:
        # every number good, some suppressed: those rejected as the careful path would (its
        # value as read), the rest in the block, as a mixed block does a bad number
        codes, numbers = [""] * len(tos), list(tos)
        for i in hits:
            codes[i] = OPTED_OUT
            numbers[i] = raw_tos[i].strip() if strip else raw_tos[i]
            if len(numbers[i]) > SHOWN:
                return None  # too long to show whole: the careful path cuts it
        return builder.mixed_block(numbers, codes, list(filter(None, codes)), texts,
                                   first_line, raws, base)
    return builder.fast_block(tos, texts, first_line, raws, base)


def _mixed_block(builder: Builder, raw_tos: list[str],
                 raw_texts: list[str] | list[str | None] | None, first_line: int,
                 raws: list[bytes], base: int, strip: bool = True, kinds: bytes | None = None
                 ) -> Block | None:
    """A block whose only bad records are bad numbers, read in bulk all the same: the good
    records in a block, the bad ones to the sink (an empty block when all are bad). None
    when the careful path must read it: any other bad record, strict mode (which stops at
    the first), or numbers the bulk check does not sort (``phone.sort_out``). ``kinds``:
    ``plusone.classify_plus_one`` of ``raw_tos``, when it sorted them."""
    options = builder.options
    if options.strict or not options.north_american_only:
        return None
    numbers: list[str]
    bad: bytes | list[str]
    bad_codes: bytes | list[str]
    if kinds is not None and builder.suppress is None:
        numbers, bad, bad_codes = raw_tos, kinds, kinds.replace(b"\0", b"")
    else:
        sorted_out = phone.sort_out(raw_tos, options.default_country, strip)
        if sorted_out is None:
            return None
        if builder.suppress is not None and not _suppress(builder.suppress, *sorted_out,
                                                          raw_tos, strip):
            return None
        numbers, bad = sorted_out
        bad_codes = list(filter(None, bad))
    texts = None
    if raw_texts is not None:
        ok, texts = _bulk_texts(raw_texts, options)
        if not ok:
            return None
    elif options.batch_text is None:
        return None
    return builder.mixed_block(numbers, bad, bad_codes, texts, first_line, raws, base)


def _suppress(suppress: Suppressed, numbers: list[str], codes: list[str], raw_tos: list[str],
              strip: bool) -> bool:
    """Mark the good numbers ``suppress`` holds as LCL-OPTED-OUT, each showing its value as
    the careful path shows it (stripped when ``strip``), as ``sort_out`` does a bad one.
    False when a value is too long to show whole (the careful path cuts it)."""
    good = list(compress(range(len(codes)), map(not_, codes)))
    for hit in suppress.hits(list(map(numbers.__getitem__, good))):
        i = good[hit]
        codes[i] = OPTED_OUT
        numbers[i] = raw_tos[i].strip() if strip else raw_tos[i]
        if len(numbers[i]) > SHOWN:
            return False
    return True


_ROWS_PER_READER = 256  # rows per csv.reader call (see _quoted_columns)


def _quoted_columns(lines: list[str], layout: CsvLayout
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


def csv_block(raws: list[bytes], layout: CsvLayout, builder: Builder, first_line: int,
               base: int) -> Block | None:
    """A block of CSV rows read in bulk, or None when any row needs the careful path."""
    encoding = builder.options.encoding
    data = b"".join(raws)
    if b'"' in data and b"\r" not in data:
        # Quoted rows (texts with commas) decoded a line at a time, for csv.reader to take
        # with their "\n": a fifth of the cost of decoding the block and splitting it again.
        try:
            lines = list(map(str, raws, repeat(encoding)))  # bytes.decode, called faster
        except UnicodeDecodeError:
            return None
        return _quoted_block(lines, layout, builder, first_line, raws, base)
    text = _decoded(data, encoding)
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
    return _quoted_block(lines, layout, builder, first_line, raws, base)


def _quoted_block(lines: list[str], layout: CsvLayout, builder: Builder, first_line: int,
                  raws: list[bytes], base: int) -> Block | None:
    """The block of these lines (one per raw line, with or without its "\\n") holding quotes,
    or None when any row needs the careful path."""
    # A line with an even number of quotes closes every field it opens, so it is one whole
    # record, and csv.reader over the block's lines reads them exactly as the careful path
    # would.
    if len(lines) != len(raws) or any(
            count & 1 for count in set(map(str.count, lines, repeat('"')))):
        return None
    columns = _quoted_columns(lines, layout)
    if columns is None:
        return None
    raw_tos, raw_texts = columns
    return _bulk_block(builder, raw_tos, raw_texts, first_line, raws, base)


def plain_block(raws: list[bytes], builder: Builder, first_line: int, base: int
                 ) -> Block | None:
    text = _block_text(raws, builder.options.encoding)
    if text is None or not text.isascii():
        return None
    raw_tos = text.split("\n")[:-1]
    if len(raw_tos) != len(raws):
        return None
    return _bulk_block(builder, raw_tos, None, first_line, raws, base)


def jsonl_block(raws: list[bytes], builder: Builder, first_line: int, base: int
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
    return _bulk_block(builder, cast("list[str]", raw_tos), raw_texts, first_line, raws, base,
                       strip=False)


_DEFAULT_OPTIONS = ReadOptions()
