"""What an input is before anything reads it: a stream that can be read only once, or a file
whose identity (size, mtime, a digest of its head) a resume compares to refuse a changed list.

No engine imports: the journal, sources, pre-flight and export all ask these questions."""

from __future__ import annotations

import hashlib
import os
import stat
from typing import Any

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
