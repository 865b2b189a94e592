"""The opt-outs a run read, kept beside its journal (``<journal>.consents``) so a resume
within ``--max-consent-age`` needs no request, and a later one can ask the export with
If-None-Match (a 304 costs one request and no body).

The file is JSON lines, written and read a record at a time (an account's opt-outs may be
millions): a header (version, server, owner, when and how they were read, the ETag), one
``[to, from, lastModifiedTime]`` line a record, and an end line with their count. It is
written to ``.part`` and renamed when whole, so a kill leaves the old cache or the new, never
half; one without its end line is not used.
"""

from __future__ import annotations

import hashlib
import io
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from engine.core.consent import Cached, OptOut
from engine.run.replacing import replace_file

CACHE_SUFFIX = ".consents"
CACHE_VERSION = 2
_TAIL = 4096  # bytes read from the end for the end line


def cache_path(journal: str | os.PathLike[str] | None) -> Path | None:
    return None if journal is None else Path(f"{os.fspath(journal)}{CACHE_SUFFIX}")


def cache_owner(run_id: str, client_id: str, account: str) -> str:
    """Whose a cache is: the run its journal holds, and who read it (a digest of the app's
    client id and the account, never a secret). A fresh run has a new run id, so it never
    uses a cache another run left (another account's opt-outs, on the same journal path);
    a resume of that run does, while the same app and account read for it."""
    who = hashlib.sha256(f"{client_id}\0{account}".encode()).hexdigest()[:16]
    return f"{run_id}/{who}"


def load_cache(path: Path | None, server: str, owner: str | None = None) -> Cached | None:
    """What the cache at ``path`` says of its read, if one is there, whole, of this server
    and of ``owner`` (``cache_owner``; None: whoever wrote it); its records are
    ``cached_records``'."""
    if path is None or not path.is_file():
        return None
    try:
        with path.open("rb") as stream:
            head = orjson.loads(stream.readline())
            size = stream.seek(0, io.SEEK_END)
            stream.seek(max(0, size - _TAIL))
            end = orjson.loads(stream.read().rstrip(b"\n").rsplit(b"\n", 1)[-1])
        if head.get("version") != CACHE_VERSION or head.get("server") != server:
            return None
        if owner is not None and head.get("owner") != owner:
            return None  # another run's, or another account's: read again
        if not isinstance(end, dict) or not isinstance(end.get("end"), int):
            return None  # not whole: read again
        return Cached(float(head["readAt"]), head["method"], head.get("from"),
                      head.get("etag"), end["end"])
    except (OSError, orjson.JSONDecodeError, AttributeError, KeyError, TypeError, ValueError):
        return None  # unreadable: read again


def cached_records(path: Path) -> Iterator[OptOut]:
    """The records of a cache ``load_cache`` accepted, one line at a time."""
    with path.open("rb") as stream:
        stream.readline()  # the header
        for line in stream:
            record = orjson.loads(line)
            if isinstance(record, dict):  # the end line
                return
            yield OptOut(*record)


class CacheWriter:
    """``with CacheWriter(path, ...) as writer``: the records ``writer.passing(records)``
    yields are written as they pass; the cache is put in place when the block ends without
    an error and every record passed (``count`` of them). With ``path`` None it only counts."""

    def __init__(self, path: Path | None, server: str, cached: Cached,
                 owner: str | None = None) -> None:
        self.path = path
        self.count = 0
        self._whole = False
        self._head: dict[str, Any] = {
            "version": CACHE_VERSION, "server": server, "owner": owner,
            "readAt": cached.read_at, "method": cached.method, "from": cached.sender_filter,
            "etag": cached.etag}
        self._part = None if path is None else path.with_name(path.name + ".part")
        self._stream: io.BufferedWriter | None = None

    def __enter__(self) -> CacheWriter:
        if self._part is not None:
            self._stream = self._part.open("wb")
            self._stream.write(orjson.dumps(self._head) + b"\n")
        return self

    def passing(self, records: Iterable[OptOut]) -> Iterator[OptOut]:
        stream, dumps = self._stream, orjson.dumps
        for record in records:
            if stream is not None:
                stream.write(dumps((record.to, record.sender, record.modified)) + b"\n")
            self.count += 1
            yield record
        self._whole = True

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        stream, part, self._stream = self._stream, self._part, None
        if stream is None or part is None or self.path is None:
            return
        try:
            if kind is None and self._whole:
                stream.write(orjson.dumps({"end": self.count}) + b"\n")
                stream.close()
                replace_file(part, self.path)
                return
        finally:
            stream.close()
        part.unlink(missing_ok=True)
