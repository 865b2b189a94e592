"""Request bodies spooled to disk: the chunker writes each body into a file while it builds it,
and the transport posts it from there, so a run holds no body in memory whatever the list
(a 50 MB batch, several in flight, would otherwise be the largest thing a run holds).

The files live in one folder per run: ``<journal>.bodies`` beside the journal (the journal's
lock makes it this run's alone; one a killed run left is emptied when the journal is resumed),
else a uniquely named folder beside the report, else one in the temporary directory. A body's
file is removed as soon as nothing holds its chunk (accepted, failed, split, or left to a
lost answer's reconciliation that reads the input again), and the folder when the run ends.
A body is written once and never changed: a retry, or a resend proved safe, reads the same
file again and sends the very same bytes, checked against the size and digest taken when it
was written.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from engine.batching.chunker import StoredBodyError
from engine.batching.messagejson import Payload
from engine.run.advice import finish_advice

SUFFIX = ".bodies"
_BUFFER = 1024 * 1024  # the write buffer of the body being built


class BodySpoolError(StoredBodyError):
    """A request body could not be written to, or read back from, the spool folder."""


def open_spool(journal: str | os.PathLike[str] | None,
               report: str | os.PathLike[str] | None) -> BodySpool:
    """A run's body folder: ``<journal>.bodies`` (emptied of what a killed run left), else
    a new folder beside the report, else one in the temporary directory."""
    after = finish_advice(journal)
    if journal is not None:
        return BodySpool(Path(f"{os.fspath(journal)}{SUFFIX}"), after=after)
    if report is not None:
        where = Path(report)
        return BodySpool(folder=where.parent, prefix=f"{where.name}.", after=after)
    return BodySpool(after=after)


class BodySpool:
    """One run's folder of bodies; ``sink()`` is the chunker's ``sinks``."""

    def __init__(self, path: Path | None = None, *, folder: Path | None = None,
                 prefix: str = "a2p-", after: str = "run again") -> None:
        """``after``: what to do once space is freed, should a body not be written."""
        self._after = after
        try:
            if path is None:
                self.path = Path(tempfile.mkdtemp(prefix=prefix, suffix=SUFFIX, dir=folder))
            else:
                self.path = path
                _remove(path)  # bodies a killed run left: never sent from here again
                path.mkdir()
        except OSError as exc:
            where = path or folder or "in the temporary directory"
            raise BodySpoolError(f"cannot make the request body folder {where}: {exc}. Free "
                                 "some space, or put the journal/report (or TMPDIR) on a "
                                 "volume that has it.") from exc
        # sinks are asked for by the chunker's worker thread and by the event loop (a 413's
        # halves): next() on an itertools.count is atomic, ``+= 1`` on an attribute is not
        self._numbers = itertools.count(1)

    def sink(self) -> FileSink:
        """A new body file, written as the chunker builds the body."""
        return FileSink(self.path / f"body-{next(self._numbers)}.json", self._after)

    def files(self) -> list[Path]:
        """The body files still on disk (those of chunks something still holds)."""
        with contextlib.suppress(OSError):
            return sorted(self.path.iterdir())
        return []

    def close(self) -> None:
        """Remove the folder and whatever is left in it."""
        _remove(self.path)

    def __enter__(self) -> BodySpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FileSink:
    """One body being written; ``seal`` closes it and returns the body to post."""

    def __init__(self, path: Path, after: str = "run again") -> None:
        self._path = path
        self._after = after
        self._hash = hashlib.blake2b(digest_size=16)
        self._size = 0
        try:
            self._file: BinaryIO = open(path, "wb", buffering=_BUFFER)  # noqa: SIM115
        except OSError as exc:
            raise _write_error(path, exc, after) from exc
        # a body left half written (a stop while its chunk was cut) is closed and removed
        # when the sink goes, never left to the garbage collector's unclosed-file warning
        weakref.finalize(self, _drop_unsealed, self._file, path)

    def write(self, data: Payload) -> None:
        try:
            self._file.write(data)
        except OSError as exc:  # a full disk, mostly
            self._abandon()
            raise _write_error(self._path, exc, self._after) from exc
        self._hash.update(data)
        self._size += len(data)

    def seal(self) -> SpooledBody:
        try:
            self._file.close()
        except OSError as exc:
            self._abandon()
            raise _write_error(self._path, exc, self._after) from exc
        return SpooledBody(self._path, self._size, self._hash.digest())

    def _abandon(self) -> None:
        with contextlib.suppress(OSError):
            self._file.close()
        with contextlib.suppress(OSError):
            self._path.unlink()


class SpooledBody:
    """A body on disk: posted from its file, read again on every attempt, and removed when
    the last reference to it goes."""

    __slots__ = ("__weakref__", "_digest", "_finalizer", "path", "size")

    def __init__(self, path: Path, size: int, digest: bytes) -> None:
        self.path = path
        self.size = size
        self._digest = digest
        self._finalizer = weakref.finalize(self, _unlink, path)

    def __len__(self) -> int:
        return self.size

    def __repr__(self) -> str:
        return f"SpooledBody({self.path.name}, {self.size} bytes)"

    def __bytes__(self) -> bytes:
        return b"".join(self.pieces(_BUFFER))

    def pieces(self, size: int) -> Iterator[bytes]:
        """The body ``size`` bytes at a time. Its last piece is handed on only once the
        whole file proved the one written (size and digest): one that is not (shorter,
        longer, other bytes) raises BodySpoolError before it, and a request cut short of its
        Content-Length is never complete, so the server creates nothing from it."""
        check, seen, held = hashlib.blake2b(digest_size=16), 0, b""
        try:
            with open(self.path, "rb", buffering=0) as file:
                while (piece := file.read(size)) and seen <= self.size:
                    if held:
                        yield held
                    check.update(piece)
                    seen += len(piece)
                    held = piece
        except OSError as exc:
            raise BodySpoolError(f"cannot read the request body {self.path} back: {exc}. "
                                 "It was not sent whole, so no batch was made of it; "
                                 "a2p send --resume JOURNAL sends it again once the folder "
                                 "is readable.") from exc
        if seen != self.size or check.digest() != self._digest:
            raise BodySpoolError(f"the request body {self.path} changed on disk after it was "
                                 "written (something else wrote to the run's body folder); "
                                 "it was not sent whole, so no batch was made of it. Leave "
                                 "the folder alone while a run is going; a2p send --resume "
                                 "JOURNAL sends it again.")
        if held:
            yield held

    def discard(self) -> None:
        """Remove the file now (it is removed anyway once nothing holds the body)."""
        self._finalizer()


def _drop_unsealed(file: BinaryIO, path: Path) -> None:
    if not file.closed:
        with contextlib.suppress(OSError):
            file.close()
        _unlink(path)


def _unlink(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        shutil.rmtree(path)


def _write_error(path: Path, exc: OSError, after: str) -> BodySpoolError:
    return BodySpoolError(f"cannot write the request body {path}: {exc}; nothing of this batch "
                          "was sent. Free space on its volume (the journal's or the "
                          f"report's, else TMPDIR's), then {after}.")
