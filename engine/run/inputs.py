"""What an input is before anything reads it: a stream that can be read only once, or a file
whose identity (size, mtime, a digest of its head) a resume compares to refuse a changed list.

No engine import but the error tree: the journal, sources, pre-flight, export and plan all ask
these questions, and a plan must not load the sending side to ask them."""

from __future__ import annotations

import gzip
import hashlib
import os
import stat
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, BinaryIO, cast

from engine.errors import InputError

HEAD_BYTES = 64 * 1024


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


def input_identity(path: str) -> dict[str, Any]:
    """What resume compares to refuse a changed input: size, mtime and a digest of its head."""
    if is_stream(path):  # peeking at a pipe's head would consume it
        return {"kind": "stream"}
    info = os.stat(path)
    with open(path, "rb") as handle:
        head = hashlib.blake2b(handle.read(HEAD_BYTES), digest_size=16).hexdigest()
    return {"kind": "file", "path": os.path.abspath(path), "size": info.st_size,
            "mtimeNs": info.st_mtime_ns, "head": head}


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
