"""Recipient lists for tests: distinct valid numbers with bad ones scattered among them."""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from engine.reading import ReadOptions


def any_country(text: str = "Hi") -> ReadOptions:
    """Read options that let non-North-American numbers through to the server (the
    ``--any-country`` of the CLI), for tests of how server rejections are mapped."""
    return ReadOptions(batch_text=text, north_american_only=False)


def scattered(n: int, rng: random.Random, bad: float = 0.03
              ) -> tuple[list[str], set[int], set[int]]:
    """(numbers, positions a local check rejects, positions the server rejects when the
    North American check is left to it: ``any_country``)."""
    numbers, local, server = [], set(), set()
    for i in range(n):
        roll = rng.random()
        if roll < bad:
            numbers.append(f"555-{i:05d}")
            local.add(i)
        elif roll < 2 * bad:
            numbers.append(f"+4420{i:08d}")
            server.add(i)
        else:
            numbers.append(f"+1{201 + i // 8_000_000}{2_000_000 + i % 8_000_000:07d}")
    return numbers, local, server


@contextmanager
def fed_fifo(directory: Path, data: bytes) -> Iterator[tuple[Path, Callable[[], bytes]]]:
    """A FIFO holding ``data``, and a way to read what is still in it afterwards."""
    fifo = directory / "list.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    writer = os.open(fifo, os.O_WRONLY)
    try:
        os.write(writer, data)
        yield fifo, lambda: os.read(reader, len(data) + 1)
    finally:
        os.close(writer)
        os.close(reader)
