"""Opening an input for the reader: a path, ``-`` for stdin, ``.gz`` by suffix."""

from __future__ import annotations

import gzip
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, cast

from engine.errors import InputError


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
