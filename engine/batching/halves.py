"""Cutting a chunk in two after a 413, from its body's bytes a piece at a time.

The body is never parsed whole (a 50 MB body parsed is two million dicts, half a gigabyte):
it is the chunker's own serialisation, where every message begins with ``{"to":["`` and
nothing else can (see ``chunker.tos_at``), so the halves are the bytes before and after the
message the cut falls on, each given the head (``{"from":...,"messages":[``) and the end
(``]}``), and each half's recipients (for its digest) are read as the bytes go by.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from engine.batching.chunker import Body, BodySink, BodySinks, Chunk, Digest

_MESSAGE = b'{"to":["'  # how every message of a body starts, and nothing else in it can
_TO = re.compile(re.escape(_MESSAGE) + rb'([^"]*)"')  # a message's start and its recipient
_END = b"]}"  # after the last message
PIECE = 1 << 20  # bytes of a body read at a time


def halves(chunk: Chunk, first: int, second: int, sinks: BodySinks | None = None
           ) -> tuple[Chunk, Chunk]:
    """``chunk`` cut in two, numbered ``first`` and ``second``: each half keeps its
    messages' input positions, so its rejections still name the right records, and its own
    digest, so a resume checks its records like any chunk's. ``sinks``: where the halves'
    bodies go (as the chunker's; None: in memory). The first half keeps the chunk's input
    offset: its first record is the chunk's."""
    cut = chunk.count // 2
    head_index, tail_index = chunk.index.split(cut)
    out = (_Half(sinks, Digest(head_index)), _Half(sinks, Digest(tail_index)))
    head = b""  # what precedes the first message: both halves begin with it
    number, carry = 0, b""  # messages read so far; bytes read and not yet written
    for piece in _pieces(chunk.body):
        data = carry + piece
        last = data.rfind(_MESSAGE)
        if last <= 0:  # no message begins here after the first byte: read on
            carry = data
            continue
        # up to the comma before the last message begun (its recipient may go on in the
        # next piece): every message beginning in there is whole up to its closing quote
        number, head = _write(data[:last - 1], number, cut, head, out)
        carry = data[last - 1:]
    number, head = _write(carry, number, cut, head, out)
    if number != chunk.count:
        raise ValueError(f"chunk {chunk.number}: its body holds {number} messages and its "
                         f"index {chunk.count}")
    body, size, digest = out[0].seal()
    one = Chunk(first, body, size, head_index, chunk.start_offset, digest)
    body, size, digest = out[1].seal()
    return one, Chunk(second, body, size, tail_index, None, digest)


def _pieces(body: Body) -> Iterator[bytes]:
    if isinstance(body, bytes | bytearray):
        view = memoryview(body)
        return (bytes(view[k:k + PIECE]) for k in range(0, len(body), PIECE))
    return body.pieces(PIECE)


class _Half:
    """One half as it is written: its body (a sink's, made at its first write and sealed as
    soon as the half is whole, so no more than one sink is ever open) and its digest."""

    def __init__(self, sinks: BodySinks | None, digest: Digest) -> None:
        self._sinks = sinks
        self._sink: BodySink | None = None
        self._body = bytearray()
        self._size = 0
        self._sealed: tuple[Body, int, str] | None = None
        self.digest = digest

    def write(self, data: bytes | memoryview) -> None:
        if self._sinks is not None:
            if self._sink is None:
                self._sink = self._sinks()
            self._sink.write(data)
        else:
            self._body += data
        self._size += len(data)

    def seal(self) -> tuple[Body, int, str]:
        if self._sealed is None:
            body: Body = self._sink.seal() if self._sink is not None else bytes(self._body)
            self._sealed = body, self._size, self.digest.hexdigest()
        return self._sealed


def _write(data: bytes, number: int, cut: int, head: bytes, out: tuple[_Half, _Half]
           ) -> tuple[int, bytes]:
    """``data``, the body's bytes after the ``number`` messages read so far (ending where no
    recipient is cut short), written to the half its messages belong to: the first ``cut``
    messages the first half's. Returns how many messages are read now, and the head."""
    tos = _TO.findall(data)
    if not number:  # the head goes on up to the first message
        at = data.find(_MESSAGE)
        head += data if at < 0 else data[:at]
    if not tos:
        (out[0] if number < cut else out[1]).write(data)
        return number, head
    view, k = memoryview(data), cut - number  # k: the first of these in the second half
    if k >= len(tos):
        out[0].write(view)
        out[0].digest.add_numbers(tos)
    elif k < 0:
        out[1].write(view)
        out[1].digest.add_numbers(tos)
    else:
        at = -1
        for _ in range(k + 1):
            at = data.index(_MESSAGE, at + 1)
        out[0].write(view[:at - 1])  # not the comma before the second half's first message
        out[0].write(_END)
        out[0].digest.add_numbers(tos[:k])
        out[0].seal()  # whole: its file closed before the second half's is opened
        out[1].write(head)
        out[1].write(view[at:])
        out[1].digest.add_numbers(tos[k:])
    return number + len(tos), head
