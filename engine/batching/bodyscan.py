"""Read a built request body back without parsing it whole: a 50 MB body parsed is two million
dicts (half a gigabyte and more), while these passes hold one piece of it and one message at a
time. The sender reads the recipients an answer's ``rejected`` names this way, and a lost
answer's reconciliation its (recipient, text) pairs and, once its batch is adopted, its
recipients.

Every body is the chunker's: ``{"from":...[,"text":...],"messages":[`` then the messages,
each ``{"to":["<number>"]}`` or ``{"to":["<number>"],"text":"<escaped>"}``, joined by commas,
then ``]}``. Every message begins with ``{"to":["`` and nothing else in a body can hold it:
inside a JSON string every ``"`` is escaped, and the head begins ``{"from"``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from itertools import islice
from typing import TYPE_CHECKING, Any, overload

import orjson

if TYPE_CHECKING:
    from engine.batching.chunker import Body

PIECE = 256 * 1024  # bytes read at a time: a few thousand messages

_MESSAGE = b'{"to":["'  # how every message of a body starts, and nothing else in it can
_HEAD_END = b',"messages":['
_BARE_END = b'"]}'  # a message without a text of its own ends here


def pieces_of(body: Body, size: int = PIECE) -> Iterator[bytes]:
    """The body from its start, ``size`` bytes at a time: a stored body read back from where
    it is kept (which raises StoredBodyError when it cannot be, as written), one in memory
    sliced."""
    if isinstance(body, bytes | bytearray):
        for start in range(0, len(body), size):
            yield bytes(body[start:start + size])
    else:
        yield from body.pieces(size)


def _parts(pieces: Iterable[bytes | bytearray]) -> Iterator[bytes]:
    """The body cut where each message begins: the head, then every message without its
    opening ``{"to":["`` and with what follows it (a comma, or the body's closing)."""
    carry = b""
    for piece in pieces:
        parts = (carry + piece).split(_MESSAGE)
        carry = parts.pop()
        yield from parts
    yield carry


def _head_text(head: bytes) -> str | None:
    """The body's own text (None: it has none), from its head."""
    if not head.endswith(_HEAD_END):
        raise ValueError(f"not a request body: it begins {head[:40]!r}")
    text = orjson.loads(head[:-len(_HEAD_END)] + b"}").get("text")
    return text if isinstance(text, str) else None


def _message(part: bytes, batch_text: str | None) -> tuple[str, str | None]:
    # a message ends with the comma before the next, the last with the body's "]}"
    core = part[:-1] if part.endswith(b",") else part[:-2]
    if core.endswith(_BARE_END):
        to = core[:-len(_BARE_END)]
        if b'"' not in to:  # a number and nothing else: no text of its own
            return to.decode(), batch_text
    message = orjson.loads(_MESSAGE + core)
    return message["to"][0], message.get("text", batch_text)


def messages(pieces: Iterable[bytes | bytearray]) -> Iterator[tuple[str, str | None]]:
    """Each message's recipient and text (its own, else the body's; None: neither), in order.

    >>> list(messages([b'{"from":"+1","text":"Hi","messages":[{"to":["+1415"]},{"to":["+1',
    ...                b'650"],"text":"Yo \\\\"x\\\\""}]}']))
    [('+1415', 'Hi'), ('+1650', 'Yo "x"')]
    """
    parts = _parts(pieces)
    batch_text = _head_text(next(parts))
    for part in parts:
        yield _message(part, batch_text)


def recipients(pieces: Iterable[bytes | bytearray]) -> Iterator[str]:
    """Each message's recipient, in order.

    >>> list(recipients([b'{"from":"+1","messages":[{"to":["+1415"]},{"to":["+1650"]}]}']))
    ['+1415', '+1650']
    """
    parts = _parts(pieces)
    _head_text(next(parts))
    for part in parts:
        yield part[:part.index(b'"')].decode()


class _Recipients(Sequence[str]):
    """A body's ``count`` recipients as a sequence; ``_at`` reads one (0-based), ``_span``
    a slice's."""

    _count: int

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, k: int) -> str: ...

    @overload
    def __getitem__(self, k: slice) -> Sequence[str]: ...

    def __getitem__(self, k: int | slice) -> str | Sequence[str]:
        if isinstance(k, slice):
            return self._span(k)
        return self._at(k)

    def _at(self, k: int) -> str:
        raise NotImplementedError

    def _span(self, k: slice) -> Sequence[str]:
        raise TypeError("only single recipients are read")


class BodyRecipients(_Recipients):
    """A body's ``count`` recipients, read from the body on every pass over them rather than
    held: what a message store is checked against, read again on each look."""

    def __init__(self, body: Body, count: int) -> None:
        self._body = body
        self._count = count

    def __iter__(self) -> Iterator[str]:
        return recipients(pieces_of(self._body))

    def _span(self, k: slice) -> Sequence[str]:
        start, stop, step = k.indices(self._count)
        return list(islice(self, start, stop, step)) if step > 0 else \
            [self[i] for i in range(start, stop, step)]

    def _at(self, k: int) -> str:
        at = k + self._count if k < 0 else k
        if not 0 <= at < self._count:
            raise IndexError(k)
        return tos_at(pieces_of(self._body), [at + 1])[at + 1]


class RejectedRecipients(_Recipients):
    """A body's recipients at the indexes a batch answer's ``rejected`` names (what the
    sender's ``rejected_fault`` compares), read in one pass without parsing it whole: a
    50 MB body parsed is two million dicts. Only those indexes can be read."""

    def __init__(self, body: Body, count: int, rejected: Any) -> None:
        self._count = count
        indexes = (item.get("index") for item in rejected if isinstance(item, dict))
        wanted = [k for k in indexes if type(k) is int and 1 <= k <= count]
        self._tos = tos_at(pieces_of(body), wanted)

    def _at(self, k: int) -> str:
        return self._tos[k + 1]


def tos_at(pieces: Iterable[bytes | bytearray], wanted: Iterable[int]) -> dict[int, str]:
    """The recipient of each 1-based message index in ``wanted``, read from a body given in
    pieces (a stored body's), holding no more than a piece and one message at a time.

    >>> tos_at([b'{"from":"+1","messages":[{"to":["+1415"]},{"to', b'":["+1650"]}]}'], [2])
    {2: '+1650'}
    """
    left = sorted({k for k in wanted if k >= 1}, reverse=True)
    found: dict[int, str] = {}
    number, carry = 0, b""  # message 0 is the head
    for piece in pieces:
        if not left:
            break
        data = carry + piece
        complete = data.count(_MESSAGE)  # messages number .. number + complete - 1 end here
        if left[-1] >= number + complete:  # none wanted: not split into a bytes a message
            if complete:
                number += complete
                data = data[data.rfind(_MESSAGE) + len(_MESSAGE):]
            carry = data
            continue
        parts = data.split(_MESSAGE)
        for k, part in enumerate(parts[:-1]):
            at = number + k
            while left and left[-1] == at:
                found[left.pop()] = part[:part.index(b'"')].decode()
        number += len(parts) - 1
        carry = parts[-1]
    if left and left[-1] == number and carry:
        found[left.pop()] = carry[:carry.index(b'"')].decode()
    return found
