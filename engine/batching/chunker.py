"""Cut a stream of record blocks into request bodies that each stay under the byte limit.

The limit is checked on the exact bytes that go on the wire: every body is built here, once,
and its ``len()`` is what the server counts against "about 50MB" (guide) /
``x-request-max-body-size: 50m`` (spec). A broadcast block is serialised with one join, and
per-message texts with one ``orjson.dumps`` per window of a few hundred messages, rather than
one call per record; per-record sizes are computed only where a chunk fills up. A dry run
(``keep_bodies=False``) builds no body: it counts each block's bytes by formula
(``payload_size``) and cuts at the same places. The messages' JSON and its sizes are
engine/batching/messagejson.py's.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Protocol

import orjson

from engine.batching.bodyscan import tos_at as tos_at  # where the sender reads it from
from engine.batching.messagejson import Payload, message_sizes, payload_size, serialize
from engine.core.chunkindex import PositionIndex
from engine.errors import EngineError, RecordTooLargeError, UsageError
from engine.reading import Block


class StoredBodyError(EngineError):
    """A stored body could not be written, or read back whole as it was written."""


class StoredBody(Protocol):
    """A finished body kept outside memory (a run spools each one to a file beside its
    journal: engine/run/bodyspool.py). Its bytes never change once written, so every request
    that sends it (a retry, a resend proved safe) sends the very same bytes."""

    def __len__(self) -> int: ...

    def __bytes__(self) -> bytes:
        """The whole body, read back (the rare paths that parse it: a 413's split, a lost
        answer's reconciliation)."""
        ...

    def pieces(self, size: int) -> Iterator[bytes]:
        """The body from its start, ``size`` bytes at a time; raises StoredBodyError before
        its last piece when it cannot be read back as written."""
        ...


class BodySink(Protocol):
    """Where the chunker writes one body while it builds it; ``seal`` ends it."""

    def write(self, data: Payload) -> None: ...

    def seal(self) -> StoredBody: ...


Body = bytes | bytearray | StoredBody
BodySinks = Callable[[], BodySink]


def body_bytes(body: Body) -> bytes | bytearray:
    """A body's bytes, in memory (a stored body read back)."""
    return body if isinstance(body, bytes | bytearray) else bytes(body)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One request body and the map from its 1-based message indexes to input positions."""

    number: int
    body: Body  # built once (in place, or into a sink); never changed once emitted
    size: int
    index: PositionIndex
    start_offset: int | None = None  # byte offset of the first record's line, for files
    digest: str = ""  # of its (position, number) pairs (digest_of); "" when not taken

    @property
    def count(self) -> int:
        return self.index.count

    @property
    def first_position(self) -> int:
        return self.index.first

    @property
    def last_position(self) -> int:
        return self.index.last

    @property
    def data(self) -> bytes | bytearray:
        """The body's bytes in memory (read back when it is stored)."""
        return body_bytes(self.body)


class Digest:
    """A digest of (position, number) pairs, the same however the pairs arrive in pieces: a
    journaled chunk's, checked when a resume reads its records again. The positions are
    taken from ``index`` as runs (a chunker's own index, already built), the numbers hashed
    as they come; without an index the digest keeps one of its own."""

    __slots__ = ("_index", "_numbers", "_own")

    def __init__(self, index: PositionIndex | None = None) -> None:
        self._own = index is None
        self._index = index if index is not None else PositionIndex()
        self._numbers = hashlib.blake2b(digest_size=16)

    def update(self, positions: Sequence[int], tos: Sequence[str]) -> None:
        if tos:
            if self._own:
                self._index.extend(positions, None)
            self._numbers.update("\n".join(tos).encode())
            self._numbers.update(b"\n")

    def add_numbers(self, tos: Sequence[bytes]) -> None:
        """``update`` for numbers read from a body (ASCII bytes), their positions being the
        index's already: the same digest."""
        if tos:
            self._numbers.update(b"\n".join(tos))
            self._numbers.update(b"\n")

    def hexdigest(self) -> str:
        # the runs' bytes then the numbers' digest, hashed a piece at a time: a chunk of a
        # list with many bad records has hundreds of thousands of runs
        outer = hashlib.blake2b(digest_size=12)
        for piece in self._index.position_run_pieces():
            outer.update(piece)
        outer.update(self._numbers.digest())
        return outer.hexdigest()


# Bodies with per-message texts are serialised a few hundred messages at a time. Every message
# is a dict for orjson, and every dict counts as an allocation for the cycle collector until it
# is freed: a whole block's worth (8,192) would set off a dozen young collections per block,
# and the survivors they promote end in full collections that walk everything the process
# holds (0.4 s each with 10M records in memory). A window's dicts are freed before the count
# reaches the young-generation threshold (700 on Python 3.11 and 3.12), so chunking itself
# sets off no collection; and each window's dicts and JSON reuse the same memory instead of a
# fresh megabyte per block.
_WINDOW = 256


class Chunker:
    """Feed blocks, get full chunks; ``finish()`` returns the last, partial one. ``window``
    is how many messages with texts of their own go into one ``orjson.dumps`` (see _WINDOW).

    >>> chunker = Chunker("+16505550100", "Hi", max_bytes=1000)
    >>> from engine.reading import Block
    >>> list(chunker.feed(Block(tos=["+14155550100"], positions=[0])))
    []
    >>> chunker.finish().body
    b'{"from":"+16505550100","text":"Hi","messages":[{"to":["+14155550100"]}]}'
    """

    def __init__(self, sender: str, text: str | None, max_bytes: int,
                 max_messages: int | None = None, *, keep_bodies: bool = True,
                 window: int = _WINDOW, sinks: BodySinks | None = None) -> None:
        """``sinks``: where each body is written as it is built (a new sink per body, made
        at its first message); None: in memory, a bytearray grown in place."""
        head: dict[str, object] = {"from": sender}
        if text is not None:
            head["text"] = text
        head["messages"] = []
        empty = orjson.dumps(head)
        self._prefix = empty[:-2]  # ends with '"messages":['
        self._suffix = empty[-2:]  # ']}'
        if len(empty) >= max_bytes:
            raise UsageError(f"max batch bytes {max_bytes} cannot hold even an empty request "
                             f"({len(empty)} bytes). Raise --max-batch-bytes.")
        self.max_bytes = max_bytes
        self.max_messages = max_messages or 1 << 62
        # A dry run needs only sizes; not keeping bodies keeps its memory flat.
        self.keep_bodies = keep_bodies
        if window < 1:
            raise UsageError(f"chunker window {window}: it must hold at least one message")
        self._window = window
        self._sinks = sinks
        # One counter for every chunk number of the run, halves of a split included; next()
        # on an itertools.count is atomic, and the chunker runs in a worker thread.
        self._numbers = itertools.count(1)
        self._reset()

    def _reset(self) -> None:
        # The body grows in place (or in its sink): joining pieces at the end would hold it
        # twice. A sink is made at the body's first message, so none is left empty.
        self._body = bytearray()
        self._sink: BodySink | None = None
        self._messages = False
        self._start_offset: int | None = None
        self._size = len(self._prefix) + len(self._suffix)
        # a dry run's chunks say only how many messages they hold, and their first and last
        self._index = PositionIndex(ends_only=not self.keep_bodies)
        # the positions are the index _append extends; a dry run (a plan) journals nothing and
        # so takes no digest
        self._digest = Digest(self._index) if self.keep_bodies else None

    @property
    def sinks(self) -> BodySinks | None:
        """Where its bodies are written (None: in memory): a split chunk's halves go there
        too."""
        return self._sinks

    def set_next_number(self, number: int) -> None:
        """Number chunks after ``number`` (a resumed run continues the journal's numbering)."""
        self._numbers = itertools.count(number + 1)

    def new_number(self) -> int:
        """A number no chunk of this run has: for the halves of a split chunk."""
        return next(self._numbers)

    def lower_limit(self, max_bytes: int) -> int:
        """Lower the byte limit (after a 413, or to a resumed run's); never raises it.
        Returns the limit now in force."""
        self.max_bytes = min(self.max_bytes, max_bytes)
        return self.max_bytes

    def feed(self, block: Block) -> Iterator[Chunk]:
        """Add a block; yields every chunk that fills up."""
        n = len(block.tos)
        # Bodies with texts are built a window at a time (see _WINDOW); a dry run builds no
        # dicts, and a broadcast body is one join, so both take the block whole.
        step = self._window if self.keep_bodies and block.texts is not None else max(n, 1)
        for start in range(0, n, step):
            yield from self._feed(block, start, min(n, start + step))

    def _feed(self, block: Block, start: int, end: int) -> Iterator[Chunk]:
        whole = start == 0 and end == len(block.tos)
        tos = block.tos if whole else block.tos[start:end]
        texts = block.texts if whole or block.texts is None else block.texts[start:end]
        positions = block.positions if whole else block.positions[start:end]
        lines = block.lines if whole or block.lines is None else block.lines[start:end]
        done = start
        payload: Payload | None = None  # the JSON of ``tos``, once built
        while tos:
            if not self._messages and block.offsets is not None:
                self._start_offset = block.offsets[done]
            taken, payload = self._take(tos, texts, positions, lines, payload)
            if taken == len(tos):
                return
            yield self._emit()
            done += taken
            tos, positions = tos[taken:], positions[taken:]
            texts = texts[taken:] if texts is not None else None
            lines = lines[taken:] if lines is not None else None

    def _take(self, tos: list[str], texts: list[str | None] | None, positions: Sequence[int],
              lines: Sequence[int] | None, payload: Payload | None
              ) -> tuple[int, Payload | None]:
        """Append as many leading messages as fit; returns how many, and the JSON of the
        messages left over when it was built (these messages are serialised once, then cut)."""
        room_messages = self.max_messages - self._index.count
        comma = 1 if self._messages else 0
        if len(tos) <= room_messages:
            # A dry run counts the bytes; only a real run builds them.
            if payload is None and self.keep_bodies:
                payload = serialize(tos, texts)
            size = len(payload) if payload is not None else payload_size(tos, texts)
            if self._size + comma + size <= self.max_bytes:
                self._append(payload, size, comma, positions, lines)
                if self._digest is not None:
                    self._digest.update(positions, tos)
                return len(tos), None
        own = texts[:room_messages] if texts is not None else None
        sizes = message_sizes(tos[:room_messages], own)
        k = self._fits(sizes, comma)
        if k == 0 and not self._messages:
            raise self._too_large(tos[0], positions[0], lines[0] if lines else None)
        if k == 0:
            return 0, payload
        cut = sum(sizes[:k]) + k - 1
        if payload is not None:
            part: Payload | None = payload[:cut]
            payload = payload[cut + 1:]  # after the comma
        else:
            part = (serialize(tos[:k], texts[:k] if texts is not None else None)
                    if self.keep_bodies else None)
        self._append(part, cut, comma, positions[:k], lines[:k] if lines is not None else None)
        if self._digest is not None:
            self._digest.update(positions[:k], tos[:k])
        return k, payload

    def _fits(self, sizes: list[int], comma: int) -> int:
        """How many leading messages of these sizes fit in the room left."""
        room = self.max_bytes - self._size - comma
        count = 0
        for total in accumulate(sizes):
            if total + count > room:  # ``count`` commas between count + 1 messages
                break
            count += 1
        return count

    def _append(self, payload: Payload | None, size: int, comma: int,
                positions: Sequence[int], lines: Sequence[int] | None) -> None:
        if payload is not None:
            if not self._messages:
                self._open_body()
            if self._sink is not None:
                if comma:
                    self._sink.write(b",")
                self._sink.write(payload)
            else:
                if comma:
                    self._body += b","
                self._body += payload
        self._messages = True
        self._size += comma + size
        self._index.extend(positions, lines)

    def _too_large(self, to: str, position: int, line: int | None) -> RecordTooLargeError:
        where = f"record {position}" + (f" (line {line})" if line is not None else "")
        return RecordTooLargeError(
            f"{where}, to {to}: alone it makes a request larger than max batch bytes "
            f"({self.max_bytes}). Raise --max-batch-bytes or shorten its text."
        )

    def _open_body(self) -> None:
        if self._sinks is None:
            self._body += self._prefix
        else:
            self._sink = self._sinks()
            self._sink.write(self._prefix)

    def _emit(self) -> Chunk:
        body: Body = self._body
        if self._sink is not None:
            self._sink.write(self._suffix)
            body = self._sink.seal()
        elif self.keep_bodies:
            self._body += self._suffix
        chunk = Chunk(next(self._numbers), body, self._size, self._index, self._start_offset,
                      self._digest.hexdigest() if self._digest is not None else "")
        self._reset()
        return chunk

    def finish(self) -> Chunk | None:
        """The last chunk, if any records are left."""
        return self._emit() if self._messages else None

    def chunks(self, blocks: Iterable[Block]) -> Iterator[Chunk]:
        """Every chunk of ``blocks``, the last one included."""
        for block in blocks:
            yield from self.feed(block)
        last = self.finish()
        if last is not None:
            yield last

    async def achunks(self, blocks: AsyncIterator[Block]) -> AsyncIterator[Chunk]:
        """The same, for an async source of blocks."""
        async for block in blocks:
            for chunk in self.feed(block):
                yield chunk
        last = self.finish()
        if last is not None:
            yield last


def chunk_blocks(blocks: Iterable[Block], sender: str, text: str | None, max_bytes: int,
                 max_messages: int | None = None, *, keep_bodies: bool = True
                 ) -> Iterator[Chunk]:
    """Every chunk of a block stream, in order."""
    yield from Chunker(sender, text, max_bytes, max_messages,
                       keep_bodies=keep_bodies).chunks(blocks)
