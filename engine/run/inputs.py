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


# Files people pass by mistake, known by their first bytes: what each is and what to do. A
# reader would otherwise take them for a list of junk lines, and a send would write a report
# of every one of them.
_TO_UTF8 = "convert it to UTF-8: iconv -f UTF-16 -t UTF-8 FILE > out.csv"
_SIGNATURES = (
    (b"PK\x03\x04", "a zip archive (an Excel .xlsx workbook is one), not a text list",
     "open it in Excel and save it as CSV UTF-8 (File > Save As), then pass the .csv"),
    (b"\x1f\x8b", "gzip-compressed, but its name does not end in .gz",
     "name it with .gz at the end, or pass it through a pipe: zcat FILE | a2p ... -"),
    (b"%PDF", "a PDF document, not a text list", "export the list from where it came as CSV"),
    (b"\xd0\xcf\x11\xe0", "an old Excel .xls (or other Office) file, not a text list",
     "open it in Excel and save it as CSV UTF-8"),
    (b"\xff\xfe", "UTF-16 text, which a2p does not read", _TO_UTF8),
    (b"\xfe\xff", "UTF-16 text, which a2p does not read", _TO_UTF8),
)


def _refuse_binary(path: Path, handle: BinaryIO) -> None:
    """Refuse a file that is not a text list, naming what it looks like and the fix."""
    head = handle.read(HEAD_BYTES)
    handle.seek(0)
    for signature, what, fix in _SIGNATURES:
        if head.startswith(signature):
            raise InputError(f"{path}: this is {what}; {fix}.")
    if b"\0" in head:
        line = head.count(b"\n", 0, head.index(b"\0")) + 1
        raise InputError(f"{path}: line {line} holds a NUL byte, which no CSV, JSONL or text "
                         "list has: is it a binary file, or UTF-16 text? Convert it to UTF-8 "
                         "text (e.g. iconv -f UTF-16 -t UTF-8), or pass the right file.")


def _open(path: Path) -> BinaryIO:
    if path.suffix == ".gz":
        return cast(BinaryIO, gzip.open(path, "rb"))
    handle = path.open("rb")
    if not is_stream(str(path)):  # a FIFO's head is read once: never peeked at
        try:
            _refuse_binary(path, handle)
        except BaseException:
            handle.close()
            raise
    return handle


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
