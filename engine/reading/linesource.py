"""The line source every file reader takes its lines from: byte lines in, bounded in bytes.

A list's lines are short, but the file may not be a list: a binary file read as CSV, a JSON
dump on one line, a column of pasted documents, a file with no line end at all. Read a line at
a time (``for line in handle``) such a file is held whole, however large; read a block of 8,192
lines at a time, a block of such lines is hundreds of MB. So here:

- a stream with ``readline`` (a file, stdin, a gzip stream) is read in pieces of at most
  ``PIECE`` bytes (``readline(PIECE)`` under ``islice``: no Python call per line), and a line
  longer than a piece is put together from its pieces, up to ``MAX_LINE_BYTES``; beyond that
  its bytes are counted and dropped as they come, and the line is a ``LongLine`` (its size and
  first bytes) that the reader rejects (LCL-LINE-TOO-LONG). Other iterables of bytes (lists)
  give whole lines; one over ``MAX_LINE_BYTES`` is a ``LongLine`` the same way;
- a block (``take_raw``) ends at its count of lines, or once it holds ``BLOCK_BYTES``,
  whichever comes first. Lines are read _FETCH at a time, and a fetch holds at most 3 MiB
  (_FETCH pieces, and the rest of the last line), so a block holds less than 7 MiB, whatever
  its lines.

Lines stay bytes until a record is read the careful way, so pushing a block back costs no
decoding and the byte offset stays exact: ``offset`` counts every byte taken, a too-long
line's included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import cast

from engine.core.rejections import SHOWN

# A record is a number, a text of at most 1,000 characters and the columns a template reads: a
# line of a megabyte is not one, and holding it costs a few times its size while it is read.
MAX_LINE_BYTES = 1 << 20
# Lines a block may hold in bytes: 8,192 lines of up to 512 bytes (every list of numbers, most
# lists with texts) still make one block of 8,192; longer lines make fewer a block.
BLOCK_BYTES = 4 << 20
PIECE = 8192  # bytes a line is read in: a longer line comes in pieces, put together here
# Lines read at once: at most 2 MiB before they are seen. Few enough that a fetch of short
# lines (numbers, up to 32 bytes a line) holds less than a piece: no line of it can be one,
# and only the sum of their lengths is taken, which the byte offset needs anyway.
_FETCH = 256
_SKIP = 1 << 16  # bytes read at a time from a line too long to keep, or past its first piece


@dataclass(frozen=True, slots=True)
class LongLine:
    """A line longer than MAX_LINE_BYTES, read past without being held: its size in bytes
    (its line end included), its first bytes, to show what it was, and how many ``"`` it
    holds: a CSV reader needs their parity to know whether a quoted field runs on past it."""

    size: int
    head: bytes
    quotes: int = 0

    def shown(self, encoding: str) -> str:
        """The start of the line as a rejection shows it, and its size."""
        text = self.head.decode(encoding, "replace").rstrip("\r\n")
        return f"{text[:SHOWN]}... ({self.size:,} bytes)"


class LineSource:
    """Byte lines in, whole and bounded (see the module docstring), with push-back (a broken
    multi-line record returns what it borrowed, a block the bulk path refused goes back whole)
    and blocks (clean stretches are read a block at a time).

    Lines are decoded one at a time from ``encoding`` (one byte per newline, so the offsets of
    the original bytes stay exact whatever the encoding). Bytes that are not in it survive
    decoding as lone surrogates, checked per record, so one bad byte costs one record, not
    the file.
    """

    def __init__(self, lines: Iterable[bytes], offset: int = 0, encoding: str = "utf-8"
                 ) -> None:
        readline = getattr(lines, "readline", None)
        self._readline: Callable[[int], bytes] | None = \
            readline if callable(readline) else None
        self._stream: Iterator[bytes] = iter(lines) if self._readline is None else \
            iter(partial(self._readline, PIECE), b"")
        self._ahead: list[bytes | LongLine] = []  # read, not taken yet
        self._at = 0  # the next of ``_ahead`` to take
        self._longs = False  # ``_ahead`` holds a LongLine
        self._size = 0  # bytes of ``_ahead``
        self._back: list[bytes] = []  # taken and given back, the next one last
        self.offset = offset  # byte offset of the next line to be taken
        self.encoding = encoding

    def peek(self) -> bytes | LongLine | None:
        """The next line without taking it (None at the end); only before any is taken."""
        if not self._ready():
            return None
        return self._ahead[self._at]

    def next_raw(self) -> bytes | None:
        """The next line; None at the end, or when the next line is too long (``take_long``
        takes it): a record read over several lines ends there."""
        if self._back:
            raw = self._back.pop()
        else:
            if not self._ready():
                return None
            item = self._ahead[self._at]
            if type(item) is LongLine:
                return None
            raw = cast(bytes, item)
            self._at += 1
        self.offset += len(raw)
        return raw

    def next(self) -> str | None:
        raw = self.next_raw()
        return None if raw is None else raw.decode(self.encoding, "surrogateescape")

    def take_long(self) -> LongLine | None:
        """The next line when it is too long to hold (already read past), else None."""
        if self._back or not self._ready():
            return None
        item = self._ahead[self._at]
        if type(item) is not LongLine:
            return None
        self._at += 1
        self.offset += item.size
        return item

    def pending(self) -> bool:
        return bool(self._back)

    def take_raw(self, n: int) -> list[bytes]:
        """Up to ``n`` lines, fewer once they hold BLOCK_BYTES; none at the end or when the
        next line is too long (``take_long``). Only called when nothing is pushed back."""
        raws: list[bytes] = []
        size = 0
        while size < BLOCK_BYTES and self._ready(n - len(raws)):
            ahead, at = self._ahead, self._at
            end = min(len(ahead), at + n - len(raws))
            if self._longs:
                end = next((i for i in range(at, end) if type(ahead[i]) is LongLine), end)
                if end == at:
                    break
            if at == 0 and end == len(ahead):
                raws += cast("list[bytes]", ahead)
                size += self._size
            else:
                part = cast("list[bytes]", ahead[at:end])  # no LongLine before ``end``
                raws += part
                size += sum(map(len, part))
            self._at = end
            if len(raws) >= n:
                break
        self.offset += size
        return raws

    def give_back(self, raws: list[bytes]) -> None:
        self._back.extend(reversed(raws))
        self.offset -= sum(map(len, raws))

    def _ready(self, wanted: int = _FETCH) -> bool:
        """True when ``_ahead`` has a line to take, reading the next lines (``wanted``, at
        most _FETCH) if needed."""
        if self._at < len(self._ahead):
            return True
        got = list(islice(self._stream, min(wanted, _FETCH)))
        self._longs = False
        self._size = size = sum(map(len, got))
        limit = PIECE if self._readline is not None else MAX_LINE_BYTES + 1
        if size >= limit and max(map(len, got)) >= limit:
            self._ahead = self._whole(got)
            self._size = sum(item.size if isinstance(item, LongLine) else len(item)
                             for item in self._ahead)
        else:
            self._ahead = cast("list[bytes | LongLine]", got)
        self._at = 0
        return bool(got)

    def _whole(self, got: list[bytes]) -> list[bytes | LongLine]:
        """The lines of pieces just read: each line longer than a piece put together (its
        last pieces read now), each too long to hold a LongLine."""
        out: list[bytes | LongLine] = []
        pieces = iter(got)
        for raw in pieces:
            if self._readline is None:
                out.append(raw if len(raw) <= MAX_LINE_BYTES else
                           LongLine(len(raw), raw[:PIECE], raw.count(b'"')))
            elif len(raw) < PIECE or raw.endswith(b"\n"):
                out.append(raw)
            else:
                out.append(self._joined(raw, pieces))
        self._longs = any(type(item) is LongLine for item in out)
        return out

    def _joined(self, first: bytes, pieces: Iterator[bytes]) -> bytes | LongLine:
        """A line whose first piece is ``first``: its other pieces are those after it in
        ``pieces``, then the stream's. Past MAX_LINE_BYTES nothing more is kept."""
        assert self._readline is not None
        parts: list[bytes] | None = [first]
        size, quotes = len(first), first.count(b'"')
        while True:
            part, limit = next(pieces, None), PIECE
            if part is None:
                part, limit = self._readline(_SKIP), _SKIP
                if not part:
                    break  # the end of the input: the last line has no line end
            size += len(part)
            quotes += part.count(b'"')
            if parts is not None:
                if size <= MAX_LINE_BYTES:
                    parts.append(part)
                else:
                    parts = None  # too long: from here on only counted
            if len(part) < limit or part.endswith(b"\n"):
                break
        return b"".join(parts) if parts is not None else LongLine(size, first, quotes)
