"""The JSON of a block's messages, as the chunker puts it in a request body: ``serialize``
(the bytes, one join for a broadcast, one ``orjson.dumps`` for per-message texts),
``payload_size`` (its length by formula, for a dry run) and ``message_sizes`` (each message's,
where a chunk fills up). Numbers are normalised E.164, so they need no escaping.
"""

from __future__ import annotations

import orjson

__all__ = ["Payload", "message_sizes", "payload_size", "serialize"]

_OPEN = '{"to":["'
_TEXT = '"],"text":"'
_CLOSE_TO = '"]}'
_TO_ARRAY, _TO_ARRAY_SEP, _TO_ARRAY_END = '["', '"]\n["', '"]'
_CLOSE_TEXT = '"}'
# {"to":[" + number + "]}   and   {"to":[" + number + "],"text": + "json text" + }
_TO_OVERHEAD = len(_OPEN) + len(_CLOSE_TO)
_TEXT_OVERHEAD = len(_OPEN) + len('"],"text":') + len("}")


Payload = bytes | memoryview


def serialize(tos: list[str], texts: list[str | None] | None) -> Payload:
    """The JSON of these messages, comma-separated, without the enclosing brackets (a view,
    where cutting them off would copy the bytes once more).

    Numbers are normalised E.164 ("+" and digits), so they need no escaping; texts are escaped
    by orjson, the same serializer a naive single ``orjson.dumps`` would use.
    """
    if texts is None:
        return (_OPEN + (_CLOSE_TO + "," + _OPEN).join(tos) + _CLOSE_TO).encode()
    # One dumps of the block's messages, each "to" a ready-made fragment cut from one join by
    # a one-byte split. Nothing built per message is tracked by the cycle collector (a tuple
    # or list would be, and with a large list held in memory its full collections cost more
    # than the serialising); splitting a dumps of the texts back into pieces costs a
    # three-byte split that cannot use memchr.
    arrays = map(orjson.Fragment, (_TO_ARRAY + _TO_ARRAY_SEP.join(tos) + _TO_ARRAY_END)
                 .encode().split(b"\n"))
    if None not in texts:
        messages = [{"to": n, "text": t} for n, t in zip(arrays, texts, strict=True)]
    else:
        messages = [{"to": n} if t is None else {"to": n, "text": t}
                    for n, t in zip(arrays, texts, strict=True)]
    return memoryview(orjson.dumps(messages))[1:-1]


def payload_size(tos: list[str], texts: list[str | None] | None) -> int:
    """``len(serialize(tos, texts))`` without building it: a dry run's whole cost per block is
    one ``orjson.dumps`` of the texts (whose length is every escaped text plus brackets, commas
    and a ``null`` per batch-text record) and one sum of the number lengths."""
    n = len(tos)
    if not n:
        return 0
    size = sum(map(len, tos)) + n - 1  # the numbers and the commas between messages
    if texts is None:
        return size + n * _TO_OVERHEAD
    batch = texts.count(None)
    escaped = len(orjson.dumps(texts)) - 2 - (n - 1) - len(b"null") * batch
    return size + batch * _TO_OVERHEAD + (n - batch) * _TEXT_OVERHEAD + escaped


def message_sizes(tos: list[str], texts: list[str | None] | None) -> list[int]:
    """Bytes of each message's JSON, without separators."""
    if texts is None:
        return [len(n) + _TO_OVERHEAD for n in tos]
    return [len(n) + (_TO_OVERHEAD if t is None else _TEXT_OVERHEAD + len(orjson.dumps(t)))
            for n, t in zip(tos, texts, strict=True)]
