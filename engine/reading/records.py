"""The record builder: raw (to, text, fields) in, accepted records in blocks or local
rejections out. Every input format (lines, CSV, JSONL, Python items) goes through it, so they
agree to the letter."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, compress
from operator import not_
from typing import Any, overload

import orjson

from engine.core import rejections as codes
from engine.core.localbatch import LocalBatch, ManyLocal
from engine.core.rejections import Rejection
from engine.errors import BadRecordError
from engine.reading import phone, plusone, templates
from engine.reading.firstseen import FirstLines, FirstMessages, number_key, text_digest
from engine.reading.options import MAX_TEXT, ReadOptions
from engine.reading.suppressed import Suppressed

BLOCK_SIZE = 8192
RejectSink = Callable[[Rejection], None]


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
    # --tz-column: each record's IANA zone as checked (None where its cell is blank: placed by
    # the number); None when no record has one
    zones: list[str | None] | None = None

    def __len__(self) -> int:
        return len(self.tos)

    def subset(self, keep: list[int]) -> Block:
        """The records at ``keep`` (indexes into this block, ascending), each list cut alike."""
        return Block(
            [self.tos[k] for k in keep],
            [self.texts[k] for k in keep] if self.texts is not None else None,
            [self.positions[k] for k in keep],
            [self.lines[k] for k in keep] if self.lines is not None else None,
            [self.offsets[k] for k in keep] if self.offsets is not None else None,
            [self.zones[k] for k in keep] if self.zones is not None else None,
        )


class _Offsets(Sequence[int]):
    """The byte offsets of a bulk block's lines, worked out when first asked for: only a
    block in which a chunk starts, or one a resume reads again, ever needs them."""

    __slots__ = ("_base", "_keep", "_raws", "_values")

    def __init__(self, raws: list[bytes], base: int, keep: Sequence[Any] | None = None) -> None:
        self._raws = raws
        self._base = base
        self._keep = keep  # the lines whose records the block holds (None: all of them)
        self._values: list[int] | None = None

    def _all(self) -> list[int]:
        if self._values is None:
            values = accumulate(map(len, self._raws[:-1]), initial=self._base)
            self._values = list(values if self._keep is None else compress(values, self._keep))
            self._raws, self._keep = [], None
        return self._values

    @overload
    def __getitem__(self, index: int) -> int: ...

    @overload
    def __getitem__(self, index: slice) -> Sequence[int]: ...

    def __getitem__(self, index: int | slice) -> int | Sequence[int]:
        return self._all()[index]

    def __len__(self) -> int:
        return len(self._all())


class Builder:
    """Turns raw (to, text, fields) into accepted records or local rejections, and fills
    blocks. Shared by every input format so they agree to the letter."""

    def __init__(self, options: ReadOptions, reject: RejectSink, with_lines: bool) -> None:
        self.options = options
        self.reject_sink = reject
        # a sink that takes a block's rejections at once (core.rejections.LocalSink)
        self.reject_many: ManyLocal | None = getattr(reject, "many", None)
        self.with_lines = with_lines
        self.position = 0
        self.offset = 0  # byte offset of the record being added (files only)
        # first line (or position, for items) of each number (or number and text), so a
        # duplicate names what it repeats
        self.seen = _seen(options)
        self.check = number_checker(options)
        self.suppress = options.suppress or None  # an empty set suppresses nothing
        self.explain = Explainer(self.check, self.suppress, plus_one=options.north_american_only
                                 and not options.strict_numbers)
        self.template = None if options.template is None else templates.parse(options.template)
        self._start()

    def _start(self) -> None:
        self._tos: list[str] = []
        self._texts: list[str | None] | None = None
        self._positions: list[int] = []
        self._lines: list[int] | None = [] if self.with_lines else None
        self._offsets: list[int] | None = [] if self.with_lines else None
        self._zones: list[str | None] | None = None

    def reject(self, line: int | None, to: str | None, code: str, reason: str, *,
               cut: bool = True, zone: str | None = None) -> None:
        """Record a bad record at the current position (or stop, in strict mode). ``to`` is
        cut as a rejection shows it (``rejections.shown``) unless ``cut`` is False (already
        cut); ``zone``: its --tz-column zone, when checked."""
        if self.options.strict:
            where = self.options.source + (f", line {line}" if line is not None else "")
            where += f" (record {self.position})"
            raise BadRecordError(where, reason, "Fix that record, or drop --strict to skip "
                                 "bad records and list them in the report.")
        shown = codes.shown(to) if to is not None and cut else to  # not a 10 MB value whole
        self.reject_sink(Rejection(self.position, line, shown, code, reason, zone=zone))
        self.position += 1

    def add(self, line: int | None, raw_to: str, text: str | None,
            fields: Mapping[str, Any] | None, zone: Any = None) -> Block | None:
        """One data record; returns a full block when this record completed one. ``zone`` is
        its --tz-column cell (None: absent)."""
        number = self.check(raw_to)
        if isinstance(number, phone.Problem):
            if self.options.strict:
                self.reject(line, raw_to, number.code, number.message)
            self.reject_sink(Rejection.explained(self.position, line, raw_to, number.code,
                                                 self.explain))
            self.position += 1
            return None
        # after the number check (a suppressed number is a good one) and before --dedupe:
        # every record of a suppressed number says so, none is called a duplicate
        if self.suppress is not None and number in self.suppress:
            self.reject_sink(Rejection.explained(self.position, line, raw_to,
                                                 codes.OPTED_OUT, self.explain,
                                                 self._quiet_zone(zone)))
            self.position += 1
            return None
        if self.options.tz_column is not None:
            zone = self._zone(line, raw_to, zone)
            if zone is _REFUSED:
                return None
        else:
            zone = None
        if zone is None and self.options.unplaced is not None and \
                not number.startswith("+1"):
            problem = self.options.unplaced(number)
            if problem is not None:
                self.reject(line, raw_to, problem.code, problem.message)
                return None
        template = self.template
        if template is not None and fields is not None:
            rendered = template.render(fields)
            if isinstance(rendered, templates.Missing):
                self.reject(line, raw_to, codes.TEMPLATE_FIELD, rendered.message(), zone=zone)
                return None
            text = rendered
        return self._accept(line, raw_to, number, text, zone)

    def _quiet_zone(self, cell: Any) -> str | None:
        """The --tz-column zone of a record rejected before its cell is checked (a suppressed
        number): the cell's zone, or None (no column, a blank cell, one naming no zone)."""
        if self.options.tz_column is None:
            return None
        checked = self._cell(cell)
        return None if isinstance(checked, phone.Problem) else checked

    def _zone(self, line: int | None, raw_to: str, cell: Any) -> Any:
        """The record's zone as ``zone_check`` names it, None for a blank cell, or _REFUSED
        (the record rejected with the check's Problem) for a cell naming no zone."""
        checked = self._cell(cell)
        if isinstance(checked, phone.Problem):
            self.reject(line, raw_to, checked.code, checked.message)
            return _REFUSED
        return checked

    def _cell(self, cell: Any) -> str | phone.Problem | None:
        """A --tz-column cell as ``zone_check`` names it (None: blank)."""
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            return None
        value = cell if isinstance(cell, str) else orjson.dumps(cell).decode()
        check = self.options.zone_check
        return value.strip() if check is None else check(value)

    def _accept(self, line: int | None, raw_to: str, number: str, text: str | None,
                zone: str | None = None) -> Block | None:
        batch_text = self.options.batch_text
        if not text:
            if batch_text is None:
                self.reject(line, raw_to, codes.NO_TEXT,
                            f"no text for {codes.quoted(raw_to)} and no batch text; pass "
                            "--text or fill the text column", zone=zone)
                return None
            text = None
        elif len(text) > MAX_TEXT:
            self.reject(line, raw_to, codes.TEXT_TOO_LONG,
                        f"text is {len(text)} characters ({text[:24]!r}...); RingCentral "
                        f"allows {MAX_TEXT}", zone=zone)
            return None
        elif text == batch_text:
            text = None
        if self.seen is not None:
            earlier = self._earlier(number, text, line)
            if earlier is not None:
                where = f"line {earlier}" if line is not None else f"item {earlier}"
                same = ", with the same text" if self.options.dedupe == "message" else ""
                self.reject(line, raw_to, codes.DUPLICATE,
                            f"{codes.quoted(raw_to)} ({number}) repeats {where}{same}",
                            zone=zone)
                return None
        if text is not None and self._texts is None:
            self._texts = [None] * len(self._tos)
        self._tos.append(number)
        if self._texts is not None:
            self._texts.append(text)
        if zone is not None and self._zones is None:
            self._zones = [None] * (len(self._tos) - 1)
        if self._zones is not None:
            self._zones.append(zone)
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
        """The line (or, for items, the position) this recipient (or, with --dedupe message,
        this recipient and text) first appeared at, if any."""
        here = self.position if line is None else line
        if isinstance(self.seen, FirstMessages):
            return self.seen.first(number_key(number), text_digest(text), here)
        assert self.seen is not None
        return self.seen.first(number_key(number), here)

    def flush(self) -> Block | None:
        if not self._tos:
            return None
        block = Block(self._tos, self._texts, _run(self._positions),
                      None if self._lines is None else _run(self._lines), self._offsets,
                      self._zones)
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

    def mixed_block(self, numbers: list[str], bad: list[str] | bytes, bad_codes: list[str] | bytes,
                    texts: list[str | None] | None, first_line: int, raws: list[bytes],
                    base: int) -> Block:
        """A block of one-line records whose numbers were judged in bulk: ``bad[k]`` true where
        record k is refused (``phone.sort_out``'s codes, "" for a good one, or
        ``plusone.classify_plus_one``'s bytes), ``bad_codes`` the codes of those refused, in
        order (bytes: ``classify_plus_one``'s, indexes into ``plusone.PLUS_ONE_CODES``). The
        bad ones go to the sink in order (a block's at once when the sink takes them so),
        described when read; the block holds the rest (empty when all were bad)."""
        n, start = len(numbers), self.position
        positions, lines = range(start, start + n), range(first_line, first_line + n)
        if bad_codes:
            batch = LocalBatch(start, first_line, numbers, bad, self.explain,
                               plusone.PLUS_ONE_CODES)
            if self.reject_many is not None:
                self.reject_many(batch)
            else:
                deque(map(self.reject_sink, batch.rejections()), maxlen=0)
        self.position += n
        keep: Sequence[Any] = bad.translate(_KEEP) if isinstance(bad, bytes) else list(
            map(not_, bad))
        if texts is not None:
            texts = list(compress(texts, keep))
            if texts.count(None) == len(texts):
                texts = None
        return Block(list(compress(numbers, keep)), texts, list(compress(positions, keep)),
                     list(compress(lines, keep)), _Offsets(raws, base, keep))


_REFUSED = object()  # Builder._zone: the record was rejected for its --tz-column cell
_KEEP = bytes([1]) + bytes(255)  # bytes.translate: 1 where a record is kept (its byte is 0)


class Explainer:
    """The description of a number ``check`` refuses, or ``suppress`` holds, written again when
    a rejection is read (both are pure, so they say the same as when the number was read).
    ``many`` describes a block's at once; ``plus_one``: ``check`` is the North American
    ``phone.check``, whose sentences for "+1" and ten digits come from templates in bulk."""

    __slots__ = ("_check", "_plus_one", "_suppress")

    def __init__(self, check: Callable[[str], phone.Checked], suppress: Suppressed | None = None,
                 plus_one: bool = False) -> None:
        self._check, self._suppress, self._plus_one = check, suppress, plus_one

    def __call__(self, raw: str) -> str:
        problem = self._check(raw)
        if isinstance(problem, str):  # a good number: refused only as suppressed
            assert self._suppress is not None, raw
            return self._suppress.describe(problem, raw)
        return problem.message

    def many(self, raws: list[str]) -> list[str]:
        """``self(raw)`` of each of ``raws``, in bulk where it can."""
        described = plusone.describe_plus_one(raws) if self._plus_one else None
        if described is None:
            return list(map(self, raws))
        if "" in described:  # textable numbers, refused only as suppressed: one by one
            for k in compress(range(len(raws)), map(not_, described)):
                described[k] = self(raws[k])
        return described


def _run(values: list[int]) -> Sequence[int]:
    """Increasing integers as a ``range`` when they are consecutive, as the bulk path gives
    them: a chunk keeps its records' positions and lines until it is cut, and a list of them
    costs about 40 bytes a record (a --dedupe or template read is record by record)."""
    if values and values[-1] - values[0] == len(values) - 1:
        return range(values[0], values[-1] + 1)
    return values


def _seen(options: ReadOptions) -> FirstLines | FirstMessages | None:
    """What --dedupe remembers of each record read (engine/reading/firstseen.py)."""
    if options.dedupe == "message":
        return FirstMessages()
    return FirstLines() if options.dedupe else None


def number_checker(options: ReadOptions) -> Callable[[str], phone.Checked]:
    """The careful path's check of one number, as the options ask for it."""
    country = options.default_country
    if options.strict_numbers:
        return phone.strict_checker(country)
    if not options.north_american_only:
        return lambda raw: phone.e164(raw, country)
    return lambda raw: phone.check(raw, country)


def add_mapping(builder: Builder, line: int | None, item: Any) -> Block | None:
    """A JSON line's object or a Python mapping, checked for its "to" and "text", then added:
    the JSONL careful path and Python items share it."""
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
                       f'no "to" in this record (it has: '
                       f'{codes.shown(", ".join(map(str, item))) or "nothing"}'
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
    column = builder.options.tz_column
    return builder.add(line, to, text, item, None if column is None else item.get(column))
