"""The run journal: append-only JSON lines, each flushed and fsync'd before the step it protects.

JSON lines rather than SQLite: one ``write`` + ``fsync`` per entry is all the durability a
single writer needs, a torn last line (power lost mid-write) is easy to recognise and drop,
and the file stays readable with ``jq`` and ``tail -f``.

Entries (``type``): ``run`` (settings and input identity, first), ``chunk`` (a chunk's position
range and input offset, before it is sent), ``state`` (submitting before each POST; accepted
with the batch id and the server's rejections as soon as the answer arrives; failed, unknown,
split, completed), ``local`` (rejections found while reading), ``superseded`` (a chunk never
sent whose records a resumed run cuts again as new chunks: from then on only those stand).
Nothing secret is written. One process at a time writes or reads a journal (journallock.py).
"""

from __future__ import annotations

import os
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from engine.core.lifecycle import PLANNED, SPLIT, SUPERSEDABLE, SUPERSEDED, supersede
from engine.core.rejections import LOCAL, Rejection
from engine.errors import JournalError
from engine.run.report import ChunkRecord

VERSION = 1


class Journal:
    """An open journal being appended to."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle

    @classmethod
    def create(cls, path: Path, header: dict[str, Any]) -> Journal:
        try:
            # Empty: made by the run's own lock (journallock.py: the lock is on this very
            # file, so it is written in place, never replaced), or left by a run killed
            # before its header: it records nothing, so nothing is lost.
            handle = path.open("r+b") if path.exists() and path.stat().st_size == 0 \
                else path.open("xb")
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


def read_header(path: Path) -> dict[str, Any]:
    """The run header alone (the first line): what the run read and where its report went."""
    try:
        with path.open("rb") as handle:
            first = handle.readline()
    except OSError:
        return read_journal(path).header  # says what is wrong, as a resume would
    try:
        header = orjson.loads(first)
    except orjson.JSONDecodeError:
        return read_journal(path).header
    if not isinstance(header, dict) or header.get("type") != "run":
        return read_journal(path).header
    return header


def read_journal(path: Path) -> JournalState:
    """Fold a journal; a torn last line is dropped, anything else malformed is refused."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise JournalError(f"{path}: cannot read the journal ({exc.strerror}). Give the "
                           "path 'a2p send' printed (by default the report path + "
                           ".journal).") from None
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
    """Each chunk's entries merged into one object: its ChunkEntry, then every state entry
    over it (the names are the same: a state entry is its ChunkRecord's JSON)."""
    kind = entry.get("type")
    if kind == "chunk":
        state.chunks[entry["chunk"]] = {**ChunkEntry.from_json(entry).to_json(),
                                        "status": PLANNED}
    elif kind == "state":
        state.chunks.setdefault(entry["chunk"], {"chunk": entry["chunk"]}).update(entry)
    elif kind == "superseded":
        chunk = state.chunks.get(entry["chunk"])
        if chunk is not None:
            chunk["status"] = supersede(chunk.get("status", PLANNED))
    elif kind == "local":
        for rejection in rejections_of(entry):
            state.local[rejection.index] = rejection


@dataclass(frozen=True, slots=True)
class ChunkEntry:
    """A chunk's range and where it begins in the input: journaled before it is sent, so a
    resume can read it again from there."""

    chunk: int
    first_index: int
    last_index: int
    messages: int
    bytes: int
    offset: int | None
    line: int | None

    def to_json(self) -> dict[str, Any]:
        return {"type": "chunk", "chunk": self.chunk, "firstIndex": self.first_index,
                "lastIndex": self.last_index, "messages": self.messages, "bytes": self.bytes,
                "offset": self.offset, "line": self.line}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChunkEntry:
        # "first", "last", "count": the names journals of version 1 wrote before these
        def named(name: str, old: str) -> int:
            value = data[name] if name in data else data[old]
            assert isinstance(value, int)
            return value

        return cls(data["chunk"], named("firstIndex", "first"), named("lastIndex", "last"),
                   named("messages", "count"), data.get("bytes", 0), data.get("offset"),
                   data.get("line"))


def state_entry(record: ChunkRecord, **extra: Any) -> dict[str, Any]:
    """A chunk's new state: its whole record (``ChunkRecord.to_json``), and with it the
    server rejections an answer brought (``rejected``) or a split's new limit."""
    return {"type": "state", **record.to_json(), **extra}


def superseded_entry(number: int) -> dict[str, Any]:
    """Chunk ``number`` was never sent and is replaced by the chunks a resumed run cuts from
    its records: it no longer holds any of them."""
    return {"type": "superseded", "chunk": number, "status": SUPERSEDED}


def standing(chunks: Iterable[Mapping[str, Any]],
             resendable: Callable[[Mapping[str, Any]], bool]) -> list[Mapping[str, Any]]:
    """The folded chunks that hold records now, in chunk order: not superseded, not split
    (their halves hold them).

    A journal written before ``superseded`` entries existed may hold a chunk a resume re-cut
    without saying so: a chunk never sent (planned, or failed and ``resendable``) that a chunk
    cut later (a higher number) overlaps is superseded too. Records of it that no later chunk
    took were not sent either, so leaving it out tells the same truth about them."""
    live = sorted((c for c in chunks if c.get("status") not in (SUPERSEDED, SPLIT)
                   and c.get("firstIndex") is not None), key=lambda c: c["firstIndex"])
    starts = [c["firstIndex"] for c in live]
    reach = list(accumulate((c["lastIndex"] for c in live), max))  # furthest end so far

    def replaced(chunk: Mapping[str, Any]) -> bool:
        first, last, number = chunk["firstIndex"], chunk["lastIndex"], chunk["chunk"]
        k = bisect_left(starts, first)
        for j in range(k, bisect_right(starts, last)):  # chunks beginning inside it
            if live[j]["chunk"] > number:
                return True
        j = k - 1
        while j >= 0 and reach[j] >= first:  # chunks beginning before it, reaching into it
            if live[j]["chunk"] > number and live[j]["lastIndex"] >= first:
                return True
            j -= 1
        return False

    def never_sent(chunk: Mapping[str, Any]) -> bool:
        status = chunk.get("status", PLANNED)
        return status == PLANNED or (status in SUPERSEDABLE and resendable(chunk))

    kept = [c for c in live if not (never_sent(c) and replaced(c))]
    return sorted(kept, key=lambda c: c["chunk"])


def local_entry(rejections: list[Rejection]) -> dict[str, Any]:
    """Rejections found while reading."""
    return {"type": "local", "rejected": [r.as_json() for r in rejections]}


def rejections_of(entry: dict[str, Any], source: str = LOCAL) -> list[Rejection]:
    """The rejections a local or state entry holds."""
    return [Rejection(item["index"], item["line"], item["to"], item["errorCode"],
                      item["description"], item.get("batchId"), source)
            for item in entry.get("rejected") or []]
