"""The run journal: append-only JSON lines, each flushed and fsync'd before the step it protects.

JSON lines rather than SQLite: one ``write`` + ``fsync`` per entry is all the durability a
single writer needs, a torn last line (power lost mid-write) is easy to recognise and drop,
and the file stays readable with ``jq`` and ``tail -f``.

Entries (``type``): ``run`` (settings and input identity, first), ``chunk`` (a chunk's position
range, the ranges inside it that other chunks held when it was cut (``gaps``; many of them: the
positions it holds as a compressed bitmap, ``held``, engine/core/holdings.py), a digest of its
(position, number) pairs and its input offset, before it is sent), ``state`` (submitting
before each POST; accepted with the batch id and the server's rejections as soon as the
answer arrives; failed, unknown, completed; split, with its two halves' chunk entries on the
same line, ``halves``, so no kill leaves its records held by neither), ``local`` (rejections
found while reading), ``superseded`` (a chunk never sent whose records a resumed run cuts
again as new chunks: from then on only those stand), ``expired`` (a scheduled send ended with
recipients left once --expire-at passed, by its own clock: engine/run/expiry.py).
Nothing secret is written. One process at a time writes or reads a journal (journallock.py).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Collection, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import orjson

from engine.core.holdings import GAPS_MAX, Interval, Members
from engine.core.lifecycle import PLANNED, SUPERSEDED, supersede
from engine.core.positions import Positions
from engine.core.rejections import Rejection
from engine.errors import EngineError, JournalError
from engine.run import journalserver
from engine.run.advice import finish_advice
from engine.run.journalscan import PIECE, LocalScan, Run, lines, rejections
from engine.run.journalserver import ServerRun
from engine.run.report import ChunkRecord

# 2: a chunk may journal ``held`` (a bitmap of the positions it holds) instead of its gaps.
# A build that knows only 1 refuses such a journal rather than read those chunks as holding
# their whole range (it would skip recipients never sent). A journal of version 1 is still
# read, and resumed without ``held`` (Recorder.bitmaps), so it stays readable by those builds.
VERSION = 2
VERSIONS = (1, 2)


class JournalWriteError(EngineError):
    """The journal could not be written (a full disk): the run stops where it is."""


class Journal:
    """An open journal being appended to."""

    def __init__(self, handle: BinaryIO) -> None:
        self._handle = handle
        self._failed = False  # a write was refused: its bytes may still wait in the buffer

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
        try:
            journal.write({"type": "run", "version": VERSION, **header})
        except JournalWriteError as exc:
            handle.close()
            raise JournalWriteError(
                f"cannot write the journal {path}: {exc.__cause__}. Nothing was sent. Free "
                f"space on its volume, remove {path} and run the same command again.") from exc
        return journal

    @classmethod
    def reopen(cls, path: Path, keep_bytes: int) -> Journal:
        """Append after the last complete line, dropping a torn one."""
        handle = path.open("r+b")
        handle.truncate(keep_bytes)
        handle.seek(keep_bytes)
        return cls(handle)

    def write(self, entry: dict[str, Any]) -> None:
        try:
            self._handle.write(orjson.dumps(entry, option=orjson.OPT_APPEND_NEWLINE))
            self._handle.flush()
            os.fsync(self._handle.fileno())
        except OSError as exc:  # a full disk, mostly: the step it protects is not taken
            self._failed = True
            path = getattr(self._handle, "name", "the journal")
            raise JournalWriteError(
                f"cannot write the journal {path}: {exc}. The run stopped; what the journal "
                f"already holds is kept (a torn last line is dropped). Free space on its "
                f"volume, then {finish_advice(path)}.") from exc

    def close(self) -> None:
        """Close the file; after a refused write, the bytes its buffer still holds are that
        entry, already reported: refused again, they must not hide that report."""
        if not self._failed:
            self._handle.close()
            return
        with contextlib.suppress(OSError):
            self._handle.close()


@dataclass
class JournalState:
    """What a journal says happened, folded by chunk. No rejection is held: of the local
    ones, their positions (``local``, compact) and where to read them again (``local_runs``;
    ``local_rejections`` streams them in position order); of each chunk's server rejections,
    how many and where (``server``; ``server_rejections`` streams them). A folded chunk has
    no ``rejected``."""

    header: dict[str, Any]
    chunks: dict[int, dict[str, Any]] = field(default_factory=dict)
    local: Positions = field(default_factory=Positions)
    complete_bytes: int = 0
    path: Path | None = None
    local_runs: list[Run] = field(default_factory=list)
    server: dict[int, ServerRun] = field(default_factory=dict)
    expired: dict[str, Any] | None = None  # the run ended expired (its ``expired`` entry)

    def rejected_server(self, chunk: int) -> int:
        """How many of chunk ``chunk``'s recipients the server rejected, as journaled."""
        run = self.server.get(chunk)
        return run.count if run is not None else 0


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
    """Fold a journal; a torn last line is dropped, anything else malformed is refused.
    Read as a stream: memory holds the chunks' entries, not the rejections (local or
    server)."""
    try:
        with path.open("rb") as handle:
            return _read(handle, path)
    except OSError as exc:
        raise JournalError(f"{path}: cannot read the journal ({exc.strerror}). Give the "
                           "path 'a2p send' printed (by default the report path + "
                           ".journal).") from None


def _read(handle: BinaryIO, path: Path) -> JournalState:
    size = os.fstat(handle.fileno()).st_size
    if size == 0 or (size <= PIECE and not handle.read().strip()):
        raise JournalError(f"{path}: the journal is empty: the run stopped before it sent "
                           "anything. Start it again without --resume.")
    complete = _complete_bytes(handle, size)  # after the last newline: a torn line follows
    handle.seek(0)
    state: JournalState | None = None
    local = LocalScan()
    for number, offset, entry in lines(handle, complete, str(path)):
        if state is None:
            if not isinstance(entry, dict) or entry.get("type") != "run" or \
                    entry.get("version") not in VERSIONS:
                break
            state = JournalState(header=entry, complete_bytes=complete, path=path)
        elif isinstance(entry, dict):
            _fold(state, entry, offset, number)
        else:
            local.add(number, offset, entry)
    if state is None:
        raise JournalError(f"{path}: not an a2p journal (no run header of version "
                           f"{' or '.join(map(str, VERSIONS))}). Pass the journal file "
                           "written by 'a2p send' (one written by a newer a2p needs that "
                           "version).")
    state.local, state.local_runs = local.done()
    return state


def _complete_bytes(handle: BinaryIO, size: int) -> int:
    """Where the last complete line ends (0: none is)."""
    end = size
    while end > 0:
        start = max(0, end - PIECE)
        handle.seek(start)
        found = handle.read(end - start).rfind(b"\n")
        if found >= 0:
            return start + found + 1
        end = start
    return 0


def local_rejections(state: JournalState) -> Generator[Rejection, None, None]:
    """The journal's local rejections, read again from its file one at a time, in position
    order (of a position journaled twice, the later entry)."""
    if state.path is not None:
        yield from rejections(state.path, state.complete_bytes, state.local_runs)


def server_rejections(state: JournalState, chunks: Collection[int] | None = None
                      ) -> Generator[Rejection, None, None]:
    """The server rejections of the journal's ``chunks`` (None: of every chunk), read again
    from its file one at a time, in position order."""
    runs = state.server.values() if state.path is not None else ()
    return journalserver.rejections(state.path or Path(), state.complete_bytes, runs, chunks)


def _fold(state: JournalState, entry: dict[str, Any], offset: int, number: int) -> None:
    """Each chunk's entries merged into one object: its ChunkEntry, then every state entry
    over it (the names are the same: a state entry is its ChunkRecord's JSON). A state
    entry's ``rejected`` (the chunk's server rejections, all of them) is counted, and where
    it is kept, not the rejections."""
    kind = entry.get("type")
    if kind == "chunk":
        state.chunks[entry["chunk"]] = {**ChunkEntry.from_json(entry).to_json(),
                                        "status": PLANNED}
        state.server.pop(entry["chunk"], None)
    elif kind == "state":
        chunk = entry["chunk"]
        for half in entry.pop("halves", None) or ():  # a split's, on its line (Recorder.split)
            _fold(state, half, offset, number)
        if "rejected" in entry:  # read before the update: a long line's later keys follow it
            run = journalserver.scan(chunk, offset, number, entry.pop("rejected") or (),
                                     str(state.path))
            if run is None:
                state.server.pop(chunk, None)
            else:
                state.server[chunk] = run
        state.chunks.setdefault(chunk, {"chunk": chunk}).update(entry)
    elif kind == "expired":
        state.expired = entry
    elif kind == "superseded":
        chunk = state.chunks.get(entry["chunk"])
        if chunk is not None:
            chunk["status"] = supersede(chunk.get("status", PLANNED))


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
    gaps: tuple[Interval, ...] = ()  # ranges inside it held by other chunks: not its records
    digest: str | None = None  # of its (position, number) pairs; None: a journal before them
    held: str | None = None  # instead of many gaps: the positions it holds (Members.json_fields)

    @classmethod
    def of(cls, chunk: int, first: int, last: int, messages: int, size: int,
           offset: int | None, line: int | None, members: Members, digest: str | None
           ) -> ChunkEntry:
        """The entry of a chunk holding ``members``: its gaps, or its bitmap when many."""
        held = members.json_fields().get("held")
        return cls(chunk, first, last, messages, size, offset, line, members.gaps, digest,
                   held if isinstance(held, str) else None)

    def to_json(self) -> dict[str, Any]:
        entry = {"type": "chunk", "chunk": self.chunk, "firstIndex": self.first_index,
                 "lastIndex": self.last_index, "messages": self.messages, "bytes": self.bytes,
                 "offset": self.offset, "line": self.line}
        if self.held is not None:
            entry["held"] = self.held
        elif self.gaps:
            entry["gaps"] = [list(gap) for gap in self.gaps]
        if self.digest is not None:
            entry["digest"] = self.digest
        return entry

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ChunkEntry:
        """A journaled chunk entry; a long list of ``gaps`` (written before ``held``) is
        read as the bitmap a chunk writes now: the same positions, a bit each."""
        # "first", "last", "count": the names journals of version 1 wrote before these
        def named(name: str, old: str) -> int:
            value = data[name] if name in data else data[old]
            assert isinstance(value, int)
            return value

        first, last = named("firstIndex", "first"), named("lastIndex", "last")
        gaps, held = data.get("gaps") or (), data.get("held")
        if held is None and len(gaps) > GAPS_MAX:
            return cls.of(data["chunk"], first, last, named("messages", "count"),
                          data.get("bytes", 0), data.get("offset"), data.get("line"),
                          Members.of_gaps(first, last, [(a, b) for a, b in gaps]),
                          data.get("digest"))
        return cls(data["chunk"], first, last, named("messages", "count"),
                   data.get("bytes", 0), data.get("offset"), data.get("line"),
                   tuple((a, b) for a, b in gaps), data.get("digest"), held)


def state_entry(record: ChunkRecord, **extra: Any) -> dict[str, Any]:
    """A chunk's new state: its whole record (``ChunkRecord.to_json``), and with it the
    server rejections an answer brought (``rejected``) or a split's new limit."""
    return {"type": "state", **record.to_json(), **extra}


def superseded_entry(number: int) -> dict[str, Any]:
    """Chunk ``number`` was never sent and is replaced by the chunks a resumed run cuts from
    its records: it no longer holds any of them."""
    return {"type": "superseded", "chunk": number, "status": SUPERSEDED}


def local_entry(rejections: list[Rejection]) -> dict[str, Any]:
    """Rejections found while reading."""
    return {"type": "local", "rejected": [r.as_json() for r in rejections]}

