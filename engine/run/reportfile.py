"""JSON documents written as streams: a head, one array written item by item from an
iterator (the rejections, merged from the spill), and a tail. The report goes to a temporary
file beside its path, renamed over it once whole, so a kill never leaves half a report; and
the ``rejected`` a library caller gets back is a view that reads the written file again.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
import weakref
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, overload

import orjson

from engine.errors import EngineError
from engine.run.replacing import replace_file

# Windows opens an os.open descriptor in text mode without it (each \n written as \r\n), and
# the report's rejected view reads the file at the byte offsets it wrote
_BINARY = getattr(os, "O_BINARY", 0)


class ReportWriteError(EngineError):
    """The report could not be written (a read-only folder, a full disk)."""


class ReportChangedError(EngineError):
    """The report file behind a ``rejected`` view was changed or removed since the run."""


@dataclass(frozen=True, slots=True)
class Span:
    """Where a document's array items were written: [start, end) bytes, one item a line."""

    start: int
    end: int
    count: int


class Writable(Protocol):
    """Where a stream goes: a file, or stdout with a byte count for ``tell``."""

    def write(self, data: bytes, /) -> int: ...

    def tell(self) -> int: ...


def write_stream(out: Writable, head: dict[str, Any], key: str, items: Iterable[bytes],
                 tail: dict[str, Any], *, indent: bool) -> Span:
    """``{**head, key: [*items], **tail}`` written to ``out``, each item (JSON bytes, one
    line) as it comes, at the offset ``out`` is at; returns where the items are."""
    option = orjson.OPT_INDENT_2 if indent else 0
    sep, item_sep = (b"\n  ", b",\n    ") if indent else (b"", b",")
    at = out.tell()
    opening = orjson.dumps(head, option=option)
    opening = opening[:-2] + b"," if head and indent else opening[:-1] + (b"," if head else b"")
    written = at + _put(out, opening + sep + orjson.dumps(key) + (b": [" if indent else b":["))
    start, count = written, 0
    for item in items:
        written += _put(out, (item_sep if count else item_sep[1:]) + item)
        count += 1
    end = written
    closing = orjson.dumps(tail, option=option)
    rest = (closing[1:-1].rstrip() if indent else closing[1:-1])
    _put(out, (b"\n  ]" if indent and count else b"]") + (b"," + rest if tail else b"") +
         (b"\n}" if indent else b"}"))
    return Span(start, end, count)


def _put(out: Writable, data: bytes) -> int:
    out.write(data)
    return len(data)


def write_report(path: str | os.PathLike[str] | None, head: dict[str, Any], key: str,
                 items: Iterable[bytes], tail: dict[str, Any]) -> RejectedView:
    """The report written atomically to ``path`` (a temporary file renamed over it when
    whole), or to a temporary file kept while the returned view lives when ``path`` is None;
    returns the view of its ``key`` array."""
    # through a symlink to the file it names: the rename replaces that file, not the link
    target = None if path is None else Path(os.path.realpath(path))
    name = ""
    try:
        if target is None:  # private to this process: mkstemp's 0600
            handle, name = tempfile.mkstemp(prefix="a2p-", suffix=".report.json")
        else:  # the mode open() gives (0666 less the umask), as the report always had
            name = str(target.with_name(f"{target.name}.{secrets.token_hex(6)}.tmp"))
            handle = os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | _BINARY, 0o666)
        with os.fdopen(handle, "w+b") as out:
            span = write_stream(out, head, key, items, tail, indent=True)
            out.write(b"\n")
            out.flush()
            os.fsync(out.fileno())
        if target is not None:
            replace_file(name, target)
    except BaseException as exc:
        if name:
            with contextlib.suppress(OSError):
                os.unlink(name)
        if isinstance(exc, OSError):
            raise ReportWriteError(
                f"the report could not be written to {target or name}: {exc}. What was sent "
                "is in the run's journal: once the folder takes files again (space, "
                "permissions), `a2p send --resume JOURNAL` writes the report.") from exc
        raise
    # absolute: the view still finds the file after the caller changes directory
    return RejectedView((target or Path(name)).absolute(), span, owned=target is None)


class RejectedView(Sequence[dict[str, Any]]):
    """A report's ``rejected`` array, read from the written report file when iterated: sized
    (``len``), re-iterable in position order, yielding the same dicts a list would hold.
    Read-only. Indexing and slicing read only what they need: the byte offset of every
    ``MARK``-th item is noted as the file is first read through (a few bytes per thousand
    items), so ``view[k]`` reads at most ``MARK`` items from the nearest mark before it, and a
    slice is read in one pass.

    The file must stay as the run wrote it: reading after it changed raises
    ReportChangedError. ``list(view)`` holds every rejection in memory; ``orjson.dumps``
    needs ``default=list`` for it.
    """

    MARK = 1024  # items between two noted offsets

    def __init__(self, path: Path, span: Span, *, owned: bool = False) -> None:
        self._path, self._span = path, span
        self._stamp = _stamp_of(path)
        self._marks: list[int] = [span.start]  # byte offset of item k * MARK
        if owned:  # a temporary report: removed with the last reference to its view
            weakref.finalize(self, _remove, path)

    def __len__(self) -> int:
        return self._span.count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return self._items(0)

    def _items(self, first: int) -> Iterator[dict[str, Any]]:
        """The items from the ``first``-th on, read from the nearest noted offset before it
        (noting offsets as it passes them)."""
        count = self._span.count
        if first >= count:
            return
        if _stamp_of(self._path) != self._stamp:
            raise ReportChangedError(
                f"the report {self._path} changed since the run wrote it, so its rejections "
                "cannot be read from it again; read the file itself (orjson.loads) or run "
                "'a2p outcomes' on the run's journal.")
        mark = min(first // self.MARK, len(self._marks) - 1)
        k = mark * self.MARK
        with open(self._path, "rb") as file:
            at = self._marks[mark]
            file.seek(at)
            for line in file:
                if at >= self._span.end or k >= count:
                    return
                text = line.strip().removesuffix(b",")
                if text:
                    if k % self.MARK == 0 and k // self.MARK == len(self._marks):
                        self._marks.append(at)
                    if k >= first:
                        yield orjson.loads(text)
                    k += 1
                at += len(line)

    @overload
    def __getitem__(self, at: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, at: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, at: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(at, slice):  # one pass over the stretch it covers
            wanted = range(*at.indices(len(self)))
            if not wanted:
                return []
            rising = wanted if wanted.step > 0 else wanted[::-1]
            out = []
            for k, item in enumerate(self._items(rising[0]), rising[0]):
                if k > rising[-1]:
                    break
                if k in rising:
                    out.append(item)
            return out if wanted.step > 0 else out[::-1]
        k = at + len(self) if at < 0 else at
        if not 0 <= k < len(self):
            raise IndexError("rejected index out of range")
        for item in self._items(k):
            return item
        raise IndexError("rejected index out of range")  # the file was shorter: not ours

    def __reversed__(self) -> Iterator[dict[str, Any]]:
        """From the last item back: a stretch of ``MARK`` items read at a time."""
        stop = len(self)
        while stop > 0:
            begin = (stop - 1) // self.MARK * self.MARK
            stretch = [item for _, item in zip(range(stop - begin), self._items(begin),
                                               strict=False)]
            yield from reversed(stretch)
            stop = begin

    def index(self, value: Any, start: int = 0, stop: int | None = None) -> int:
        """Where ``value`` first is: one pass from ``start`` (Sequence's would index each)."""
        start, end, _ = slice(start, stop).indices(len(self))
        for k, item in enumerate(self._items(start), start):
            if k >= end:
                break
            if item == value:
                return k
        raise ValueError("not among the rejections")

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (list, tuple, RejectedView)):
            return len(self) == len(other) and all(a == b for a, b in zip(self, other,
                                                                            strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"<{len(self):,} rejections in {self._path}>"


def _stamp_of(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def _remove(path: Path) -> None:
    with contextlib.suppress(OSError):
        path.unlink()
