"""One in-memory chunking approach, run in a process of its own so its peak RSS is its own.

    python -m benchmarks.child APPROACH N broadcast|personal REPEATS

Prints one JSON line: {"seconds": [...], "peak_rss": bytes, "bodies": k}.
"""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from typing import Any

import orjson

from benchmarks.inputs import personal_texts
from benchmarks.numbers import number
from benchmarks.procstat import rss_bytes
from engine.batching.chunker import chunk_blocks
from engine.reading import BLOCK_SIZE, Block

SENDER = "+16505550100"
TEXT = "Your table is ready. Reply STOP to opt out."
LIMIT = 50_000_000


def blocks(n: int, personal: bool) -> list[Block]:
    texts = personal_texts(n) if personal else None
    out = []
    for start in range(0, n, BLOCK_SIZE):
        ids = range(start, min(n, start + BLOCK_SIZE))
        own: list[str | None] | None = [next(texts) for _ in ids] if texts else None
        out.append(Block([number(i) for i in ids], own, ids, None))
    return out


def messages(data: list[Block]) -> list[dict[str, Any]]:
    if data[0].texts is None:
        return [{"to": [to]} for b in data for to in b.tos]
    return [{"to": [to], "text": t} for b in data
            for to, t in zip(b.tos, b.texts or [], strict=True)]


def head(personal: bool) -> dict[str, Any]:
    return {"from": SENDER} if personal else {"from": SENDER, "text": TEXT}


def floor(data: list[Block], personal: bool) -> Callable[[], int]:
    body = {**head(personal), "messages": messages(data)}
    return lambda: len(orjson.dumps(body)) and 1


def ours(data: list[Block], personal: bool) -> Callable[[], int]:
    text = None if personal else TEXT
    return lambda: sum(1 for _ in chunk_blocks(data, SENDER, text, LIMIT))


def per_record(data: list[Block], personal: bool) -> Callable[[], int]:
    """What a user would write: dumps each message, count bytes, cut before the limit."""
    envelope = len(orjson.dumps({**head(personal), "messages": []}))

    def run() -> int:
        bodies, size = 0, envelope
        current: list[bytes] = []
        for message in messages(data):
            encoded = orjson.dumps(message)
            if size + len(encoded) + 1 > LIMIT:
                bodies += 1
                _ = b"".join([b"[", b",".join(current), b"]"])
                size, current = envelope, []
            current.append(encoded)
            size += len(encoded) + 1
        return bodies + 1

    return run


def elasticsearch(data: list[Block], personal: bool) -> Callable[[], int]:
    """elasticsearch-py's bulk chunker (the ``bench`` extra) fed the same messages."""
    from elastic_transport import OrjsonSerializer
    from elasticsearch.helpers.actions import _chunk_actions, expand_action

    def run() -> int:
        actions = map(expand_action, messages(data))
        return sum(1 for _ in _chunk_actions(actions, 1 << 62, LIMIT, None, OrjsonSerializer()))

    return run


APPROACHES = {"floor": floor, "ours": ours, "per_record": per_record,
              "elasticsearch": elasticsearch}


def main() -> None:
    approach, n, shape, repeats = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    data = blocks(n, shape == "personal")
    run = APPROACHES[approach](data, shape == "personal")
    seconds, bodies = [], 0
    for _ in range(repeats):
        gc.collect()
        started = time.perf_counter()
        bodies = run()
        seconds.append(time.perf_counter() - started)
    print(orjson.dumps({"seconds": seconds, "peak_rss": rss_bytes()[1], "bodies": bodies})
          .decode())


if __name__ == "__main__":
    main()
