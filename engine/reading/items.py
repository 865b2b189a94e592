"""Recipients from Python items (numbers, (to, text) pairs, mappings with "to" and "text"),
plain or async: blocks of accepted records out, bad items handed to a sink as local rejections."""

from __future__ import annotations

from collections.abc import (
    AsyncIterable,
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Iterator,
    Mapping,
)
from typing import Any

from engine.core import rejections as codes
from engine.reading.options import ReadOptions
from engine.reading.records import BLOCK_SIZE, Block, Builder, RejectSink, add_mapping


def _has_lone_surrogate(item: Any) -> bool:
    """True when a string of the item holds a lone surrogate (such as ``\\ud800``): a Python
    string may, but no request body can carry one."""
    parts = item if isinstance(item, tuple | list) else \
        (item.get("to"), item.get("text")) if isinstance(item, Mapping) else (item,)
    try:
        "".join(p for p in parts if isinstance(p, str)).encode()
    except UnicodeEncodeError:
        return True
    return False


def read_items(items: Iterable[Any], options: ReadOptions, reject: RejectSink
               ) -> Iterator[Block]:
    """Blocks from Python items: numbers, (to, text) pairs, or mappings with "to" and "text"."""
    builder = Builder(options, reject, with_lines=False)
    for item in items:
        block = _add_item(builder, item)
        if block is not None:
            yield block
    tail = builder.flush()
    if tail is not None:
        yield tail


async def aread_items(items: AsyncIterable[Any], options: ReadOptions, reject: RejectSink,
                      pause: Callable[[], Awaitable[None]] | None = None
                      ) -> AsyncIterator[Block]:
    """The async twin of read_items. ``pause`` is awaited every BLOCK_SIZE items, so the run
    can take the rejections found so far even when no block of accepted ones fills."""
    builder = Builder(options, reject, with_lines=False)
    read = 0
    async for item in items:
        block = _add_item(builder, item)
        if block is not None:
            yield block
        read += 1
        if pause is not None and read % BLOCK_SIZE == 0:
            await pause()
    tail = builder.flush()
    if tail is not None:
        yield tail


def _add_item(builder: Builder, item: Any) -> Block | None:
    if _has_lone_surrogate(item):
        builder.reject(None, None, codes.BAD_UTF8,
                       "the number or text holds a lone surrogate (such as \\ud800), which "
                       "UTF-8 cannot carry; fix the string before passing it")
        return None
    if isinstance(item, str):
        return builder.add(None, item, None, None)
    if isinstance(item, Mapping):
        return add_mapping(builder, None, dict(item))
    if isinstance(item, tuple | list) and len(item) == 2 and isinstance(item[0], str):
        text = item[1]
        if text is None or isinstance(text, str):
            return builder.add(None, item[0], text, None)
    builder.reject(None, None, codes.BAD_ITEM,
                   f"cannot read {type(item).__name__} item; pass a number string, a "
                   "(to, text) pair or a mapping with 'to' and 'text'")
    return None
