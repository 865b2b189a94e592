"""The rejection spill on disk: every rejection of a run (or a plan) written as it arrives, in
sorted runs, and merged back by input position for the report (engine/core/spillruns.py
holds the format, the run bookkeeping and the merge order).

It lives beside the journal (``<journal>.rejected.spill``), else beside the report
(``<report>.rejected.spill``), else in the temporary directory, and is removed once the
report is written. A killed run may leave one behind (and, killed mid-merge, its scratch
``<spill>.N`` files): the next run on the same journal truncates a journal's spill; one beside
a report has a unique name and stays until deleted. Nothing reads a stray spill.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from pathlib import Path
from typing import BinaryIO, TypeVar

from engine.core.spillruns import FAN_IN, HEAD, Entry, RunBook, cascade, encode, merge
from engine.errors import EngineError
from engine.run.advice import finish_advice

T = TypeVar("T")
SUFFIX = ".rejected.spill"
BUFFER = 64 * 1024  # read buffer of each run in a merge: FAN_IN of them at most


class SpillError(EngineError):
    """The spill file could not be written or read back."""


def open_spill(journal: str | os.PathLike[str] | None,
               report: str | os.PathLike[str] | None) -> FileSpill:
    """A run's spill: ``<journal>.rejected.spill`` (the journal's lock makes it this run's
    alone; a stray one a killed run left is replaced), else a uniquely named one beside the
    report, else one in the temporary directory (these two unlinked once open, where the OS
    reads an unlinked file: a kill leaves nothing)."""
    after = finish_advice(journal)  # a send's: other batches may be sent already
    if journal is not None:
        return FileSpill(Path(f"{os.fspath(journal)}{SUFFIX}"), after=after)
    if report is not None:
        where = Path(report)
        return FileSpill(folder=where.parent, prefix=f"{where.name}.", after=after)
    return FileSpill(after=after)


class FileSpill:
    """Rejections appended to one file as they arrive; ``merged`` reads them back sorted."""

    def __init__(self, path: Path | None = None, *, folder: Path | None = None,
                 prefix: str = "a2p-", fan_in: int = FAN_IN, after: str = "run again"
                 ) -> None:
        """``path``: the file (an old one there is replaced); None: a new file named
        ``prefix``...``.rejected.spill`` in ``folder`` (None: the temporary directory).
        ``after``: what to do once space is freed, should a write fail."""
        self._after = after
        source: int | None = None
        try:
            if path is None:
                handle, name = tempfile.mkstemp(prefix=prefix, suffix=SUFFIX, dir=folder)
                self.path = Path(name)
                self._file: BinaryIO = os.fdopen(handle, "w+b")
                if _PREAD:  # read back through the open file: nothing left if killed
                    self.path.unlink()
                    source = handle
            else:
                self.path = path
                self._file = open(path, "w+b")  # noqa: SIM115 (held until close)
        except OSError as exc:
            where = path or folder or "in the temporary directory"
            raise SpillError(f"cannot write the rejection spill {where}: {exc}. Free some "
                             "space, or put the journal/report (a2p plan: TMPDIR) on a volume "
                             "that has it.") from exc
        self._source = self.path if source is None else source
        self._book = RunBook()
        self._end = 0
        self._fan_in = fan_in

    def add(self, index: int, payload: bytes) -> None:
        self._book.note(index, self._end)
        self._write(encode(index, payload))

    def add_many(self, indexes: Sequence[int], payloads: list[bytes]) -> None:
        """Records at strictly increasing positions, packed and written at once: the same
        bytes as ``add`` of each."""
        if not payloads:
            return
        heads = map(HEAD.pack, indexes, map(len, payloads))
        self._book.note_many(indexes[0], indexes[-1], self._end)
        self._write(b"".join(chain.from_iterable(zip(heads, payloads, strict=True))))

    def _write(self, data: bytes) -> None:
        try:
            self._file.write(data)
        except OSError as exc:  # a full disk, mostly
            raise SpillError(f"cannot write to the rejection spill {self.path}: {exc}. Free "
                             "space on its volume (or set TMPDIR to a larger one when it is "
                             f"in the temporary directory), then {self._after}.") from exc
        self._end += len(data)

    @property
    def runs(self) -> int:
        return len(self._book.runs(self._end))

    def joined(self, sep: bytes) -> Iterator[bytes]:
        """``sep.join`` of every payload by position (``merged``'s), in pieces of about a
        megabyte, each after the first starting with ``sep``: a plan's --json writes them as
        they come. A spill of one run (a plan's rejections arrive in input order) is read
        straight through, a buffer at a time, with no merge and no object per record but its
        payload."""
        self._file.flush()
        runs = self._book.runs(self._end)
        lead = b""
        if len(runs) > 1:
            pending: list[bytes] = []
            for _, payload in self.merged():
                pending.append(payload)
                if len(pending) == _JOINED:
                    yield lead + sep.join(pending)
                    lead, pending = sep, []
            if pending:
                yield lead + sep.join(pending)
            return
        for start, end in runs:
            for payloads in _read_payloads(self._source, start, end):
                yield lead + sep.join(payloads)
                lead = sep

    def merged(self) -> Iterator[Entry]:
        """Every rejection so far, by position; re-iterable, and bounded in memory: more runs
        than the fan-in are first merged in passes into a scratch file beside the spill."""
        self._file.flush()
        runs: list[Run] = [(self._source, a, b) for a, b in self._book.runs(self._end)]
        scratch: list[Path] = []
        try:
            for number, groups in enumerate(cascade(len(runs), self._fan_in)):
                target = Path(f"{self.path}.{number}")
                scratch.append(target)
                try:
                    runs = _merge_pass(runs, groups, target)
                except OSError as exc:
                    raise SpillError(f"cannot merge the rejection spill into {target}: "
                                     f"{exc}. Free space on its volume, then {self._after} "
                                     "(a journal keeps every rejection).") from exc
            yield from merge(_read_run(path, a, b) for path, a, b in runs)
        finally:
            for path in scratch:
                with contextlib.suppress(OSError):
                    path.unlink()

    def close(self) -> None:
        """Close and remove the file (also when the report was not written: the journal
        keeps every rejection; the spill is only the report's scratch)."""
        try:
            self._file.close()  # may fail again flushing onto a full disk: removed all the same
        finally:
            with contextlib.suppress(OSError):
                self.path.unlink()

    def __enter__(self) -> FileSpill:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# (file, start offset, end offset); the file by its path, or by the descriptor of one that was
# unlinked once open (_PREAD), read with os.pread so the writer's offset never moves
Run = tuple[Path | int, int, int]
_PREAD = hasattr(os, "pread")  # POSIX: a spill in TMPDIR is unlinked at once


def _merge_pass(runs: list[Run], groups: list[range], target: Path) -> list[Run]:
    """Each group of runs merged into one run of ``target``; returns the new runs."""
    out: list[Run] = []
    with open(target, "wb") as file:
        at = 0
        for group in groups:
            start = at
            for index, payload in merge(_read_run(*runs[k]) for k in group):
                record = encode(index, payload)
                file.write(record)
                at += len(record)
            out.append((target, start, at))
    return out


def _read_run(path: Path | int, start: int, end: int) -> Iterator[Entry]:
    """One run's entries, read through a small buffer."""
    for entries in _read_records(path, start, end, BUFFER, _entries):
        yield from entries


def _read_payloads(path: Path | int, start: int, end: int) -> Iterator[list[bytes]]:
    """One run's payloads, a large buffer's at a time (a single reader: no fan-in)."""
    return _read_records(path, start, end, _JOINED_BUFFER, _payloads)


_JOINED = 4096  # payloads a piece of ``joined`` holds when it merges runs
_JOINED_BUFFER = 1 << 20


def _read_records(path: Path | int, start: int, end: int, buffer: int,
                  split: Callable[[bytes], tuple[list[T], int]]) -> Iterator[list[T]]:
    """The records from ``start`` to ``end`` of ``path``, a list for each ``buffer`` bytes
    read, as ``split`` takes them out of the whole records at its start."""
    carry = b""
    pieces = _pieces(path, start, end, buffer)
    while True:
        piece = next(pieces, b"")
        data = carry + piece
        if not data:
            return
        records, cut = split(data)
        if cut == 0 and not piece:
            raise SpillError(f"the rejection spill {path} ends inside a record: it was "
                             "changed during the run. Run again to rebuild it.")
        if records:
            yield records
        carry = data[cut:]


def _pieces(path: Path | int, start: int, end: int, buffer: int) -> Iterator[bytes]:
    """The bytes from ``start`` to ``end``, ``buffer`` at a time (fewer at a file's end)."""
    if isinstance(path, int):
        while start < end:
            piece = os.pread(path, min(buffer, end - start), start)
            if not piece:
                return
            start += len(piece)
            yield piece
        return
    with open(path, "rb", buffering=0) as file:
        file.seek(start)
        while start < end:
            piece = file.read(min(buffer, end - start))
            if not piece:
                return
            start += len(piece)
            yield piece


def _entries(data: bytes) -> tuple[list[Entry], int]:
    """The (position, payload) of each whole record at the start of ``data``, and the bytes
    they take."""
    out, at, size, head, unpack = [], 0, len(data), HEAD.size, HEAD.unpack_from
    while at + head <= size:
        index, length = unpack(data, at)
        end = at + head + length
        if end > size:
            break
        out.append((index, data[at + head:end]))
        at = end
    return out, at


def _payloads(data: bytes) -> tuple[list[bytes], int]:
    """``_entries`` without the positions."""
    out, at, size, head, unpack = [], 0, len(data), HEAD.size, HEAD.unpack_from
    while at + head <= size:
        length = unpack(data, at)[1]
        end = at + head + length
        if end > size:
            break
        out.append(data[at + head:end])
        at = end
    return out, at

