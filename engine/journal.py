"""The run journal: append-only JSON lines, each flushed and fsync'd before the step it protects.

JSON lines rather than SQLite: one ``write`` + ``fsync`` per entry is all the durability a
single writer needs, a torn last line (power lost mid-write) is easy to recognise and drop,
and the file stays readable with ``jq`` and ``tail -f``.

Entries (``type``): ``run`` (settings and input identity, first), ``chunk`` (a chunk's position
range and input offset, before it is sent), ``state`` (submitting before each POST; accepted
with the batch id and the server's rejections as soon as the answer arrives; failed, unknown,
split, completed), ``local`` (rejections found while reading). Nothing secret is written.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from engine.errors import UsageError
from engine.rejections import Rejection
from engine.sources import is_stream

VERSION = 1
HEAD_BYTES = 64 * 1024


class JournalError(UsageError):
    """The journal cannot be used to resume: unreadable, or it does not match this run."""


def input_identity(path: str) -> dict[str, Any]:
    """What resume compares to refuse a changed input: size, mtime and a digest of its head."""
    if is_stream(path):  # peeking at a pipe's head would consume it
        return {"kind": "stream"}
    stat = os.stat(path)
    with open(path, "rb") as handle:
        head = hashlib.blake2b(handle.read(HEAD_BYTES), digest_size=16).hexdigest()
    return {"kind": "file", "path": os.path.abspath(path), "size": stat.st_size,
            "mtimeNs": stat.st_mtime_ns, "head": head}


class Journal:
    """An open journal being appended to."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    @classmethod
    def create(cls, path: Path, header: dict[str, Any]) -> Journal:
        if path.exists() and path.stat().st_size == 0:
            path.unlink()  # killed before its header: it records nothing, so nothing is lost
        try:
            handle = path.open("xb")
        except FileExistsError:
            raise JournalError(f"{path}: a journal already exists there. Resume it with "
                               f"--resume {path}, or choose another --journal path.") from None
        journal = cls(handle)
        journal.write({"type": "run", "version": VERSION, **header})
        return journal

    @classmethod
    def reopen(cls, path: Path, keep_bytes: int) -> Journal:
        """Append after the last complete line, dropping a torn one."""
        handle = path.open("r+b")
        handle.truncate(keep_bytes)
        handle.seek(keep_bytes)
        return cls(handle)

    def write(self, entry: dict[str, Any]) -> None:
        self._handle.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        self._handle.close()


@dataclass
class JournalState:
    """What a journal says happened, folded by chunk."""

    header: dict[str, Any]
    chunks: dict[int, dict[str, Any]] = field(default_factory=dict)
    local: dict[int, Rejection] = field(default_factory=dict)
    complete_bytes: int = 0


def read_journal(path: Path) -> JournalState:
    """Fold a journal; a torn last line is dropped, anything else malformed is refused."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"{path}: cannot read the journal ({exc.strerror}). Check the "
                           "path given to --resume.") from None
    if not data.strip():
        raise JournalError(f"{path}: the journal is empty: the run stopped before it sent "
                           "anything. Start it again without --resume.")
    lines = data.split(b"\n")
    complete = len(data) - len(lines[-1])  # the last piece has no newline: torn or empty
    entries = []
    for number, line in enumerate(lines[:-1], start=1):
        try:
            entries.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            raise JournalError(f"{path}, line {number}: not a journal entry. The journal is "
                               "damaged; it cannot be resumed safely. Check the batches on "
                               "RingCentral before sending again.") from None
    if not entries or entries[0].get("type") != "run" or entries[0].get("version") != VERSION:
        raise JournalError(f"{path}: not an a2p journal (no run header of version {VERSION}). "
                           "Pass the journal file written by 'a2p send'.")
    state = JournalState(header=entries[0], complete_bytes=complete)
    for entry in entries[1:]:
        _fold(state, entry)
    return state


def _fold(state: JournalState, entry: dict[str, Any]) -> None:
    kind = entry.get("type")
    if kind == "chunk":
        state.chunks[entry["chunk"]] = {**entry, "state": "planned"}
    elif kind == "state":
        state.chunks.setdefault(entry["chunk"], {"chunk": entry["chunk"]}).update(entry)
    elif kind == "local":
        for item in entry["rejected"]:
            state.local[item["index"]] = Rejection(
                item["index"], item["line"], item["to"], item["errorCode"],
                item["description"])
