"""One process per journal: an exclusive OS lock on ``<journal>.lock``, held for the whole run.

Two processes on one journal would both send the chunks it leaves unsent (a double-click, a
cron job overlapping a manual ``--resume``). The lock is an OS lock on an open file
(``flock`` on Linux and macOS, ``msvcrt.locking`` on Windows, as the ``filelock`` library
does), so it dies with its process: a run killed with SIGKILL, or a machine that lost power,
never leaves a lock that blocks the resume. A lock file left behind holds only the last
holder's identity; the lock itself is the OS's, not the file's presence.

The holder's identity (pid, host, start time, command) is written into the lock file once
the lock is held, so a refused second process can name who holds it. On Windows the locked
byte lies far past that text, so the refused process can still read it.
"""

from __future__ import annotations

import errno
import os
import socket
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from engine.errors import JournalBusyError, JournalError
from engine.run.report import now_iso

# Windows locks byte ranges and forbids reading a locked one: lock a byte the identity text
# never reaches (a range may lie past the end of the file).
_WINDOWS_LOCK_AT = 1 << 30


def lock_path(journal: Path) -> Path:
    return journal.with_name(journal.name + ".lock")


def _try_lock(fd: int) -> bool:
    """Take the exclusive lock on ``fd`` without waiting; False when another holds it."""
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_AT, os.SEEK_SET)
        try:
            msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    import fcntl

    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


def _unlock(fd: int) -> None:
    if sys.platform == "win32":
        import msvcrt

        os.lseek(fd, _WINDOWS_LOCK_AT, os.SEEK_SET)
        msvcrt.locking(fd, msvcrt.LK_UNLCK, 1)
    else:
        import fcntl

        fcntl.flock(fd, fcntl.LOCK_UN)


def identity(command: str) -> dict[str, Any]:
    """Who holds a lock: enough for a person to find the process."""
    return {"pid": os.getpid(), "host": socket.gethostname(), "startedAt": now_iso(),
            "command": command}


def holder_of(journal: Path) -> dict[str, Any] | None:
    """The identity the lock file holds (the holder's, while it is held); None if unreadable."""
    try:
        data = orjson.loads(lock_path(journal).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _holder(journal: Path) -> dict[str, Any] | None:
    """The holder's identity; it writes it just after taking the lock, so a refusal that
    came in between reads again for a moment (bounded) rather than name no one."""
    for _ in range(50):
        holder = holder_of(journal)
        if holder is not None:
            return holder
        time.sleep(0.01)
    return None


class JournalLock:
    """The exclusive lock on one journal; ``with JournalLock(path, "send"):``.

    Raises JournalBusyError (a usage error: exit 2) at once when another process holds it,
    never waits: the other process is doing this very run."""

    def __init__(self, journal: Path, command: str = "a2p", *, readonly: bool = False) -> None:
        """``readonly``: a reader (``outcomes``) that goes on unlocked when the journal's
        directory cannot be written (an archived journal): no writer could lock it there
        either, so none can be running."""
        self.journal = journal
        self.path = lock_path(journal)
        self.command = command
        self.readonly = readonly
        self._fd: int | None = None

    def acquire(self) -> None:
        for _ in range(10):  # another process may unlink the file between open and lock
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                if self.readonly and exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
                    return
                raise JournalError(f"{self.path}: cannot create the journal's lock file "
                                   f"({exc.strerror}). Check that the journal's directory "
                                   "exists and is writable.") from None
            if not _try_lock(fd):
                os.close(fd)
                raise JournalBusyError(self.journal, _holder(self.journal))
            if self._same_file(fd):
                self._fd = fd
                self._write_identity(fd)
                return
            _unlock(fd)  # locked a file its holder had just removed: take the new one
            os.close(fd)
        raise JournalError(f"{self.path}: the lock file keeps changing; is another program "
                           "removing it? Run again when it stops.")

    def _same_file(self, fd: int) -> bool:
        if sys.platform == "win32":
            return True  # an open file cannot be removed there
        try:
            now = os.stat(self.path)
        except FileNotFoundError:
            return False
        held = os.fstat(fd)
        return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)

    def _write_identity(self, fd: int) -> None:
        os.lseek(fd, 0, os.SEEK_SET)
        os.ftruncate(fd, 0)
        os.write(fd, orjson.dumps(identity(self.command)))

    def release(self) -> None:
        """Remove the lock file (while still holding it, so no one locks a file that is
        going away unnoticed: see ``_same_file``), then let go."""
        fd, self._fd = self._fd, None
        if fd is None:
            return
        try:
            if sys.platform != "win32":
                self.path.unlink(missing_ok=True)
            else:
                os.ftruncate(fd, 0)
            _unlock(fd)
        finally:
            os.close(fd)

    def __enter__(self) -> JournalLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()
