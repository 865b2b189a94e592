"""Opening an input for the reader: a path, ``-`` for stdin, ``.gz`` by suffix."""

from __future__ import annotations

import gzip
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, cast

from engine.errors import InputError


def is_stream(name: str) -> bool:
    """``-``, a pipe, a FIFO, ``/dev/fd/N`` (``<(zcat list.gz)``), a socket or a device: data
    that can be read only once, so it is never peeked at, measured or read again. A regular
    file or a directory is not; nor is a missing path (open_input names that problem)."""
    if name == "-":
        return True
    try:
        mode = os.stat(name).st_mode
    except (OSError, ValueError):
        return False
    return not (stat.S_ISREG(mode) or stat.S_ISDIR(mode))


def _open(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return cast(BinaryIO, gzip.open(path, "rb"))
    return path.open("rb")


@contextmanager
def open_input(name: str) -> Iterator[BinaryIO]:
    """A binary stream of the input's lines; the reader decodes and checks them."""
    if name == "-":
        yield sys.stdin.buffer
        return
    try:
        handle = _open(Path(name))
    except FileNotFoundError:
        raise InputError(f"{name}: no such file. Check the path, or pass - to read stdin.") \
            from None
    except IsADirectoryError:
        raise InputError(f"{name}: is a directory. Pass a CSV, JSONL or text file.") from None
    with handle:
        yield handle
