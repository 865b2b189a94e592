"""One process per journal: an exclusive OS lock on the journal file itself, held for the run.

Two processes on one journal would both send the chunks it leaves unsent (a double-click, a
cron job overlapping a manual ``--resume``). The lock is an OS lock on the journal's own open
file (``flock`` on Linux and macOS; ``msvcrt.locking`` on Windows, on a byte far past the end
so the journal's text stays readable and writable), so:

- it dies with its process: a run killed with SIGKILL, or a machine that lost power, never
  leaves a lock that blocks the resume;
- it is the file's, not a path's: the journal named through a symlink, a hard link, another
  relative path, all meet the same lock; deleting or renaming a file beside it changes
  nothing.

A fresh run creates its (empty) journal to lock it before its first request; a run that ends
with the journal still empty (it never got to send) removes it again. A reader
(``outcomes``) opens the journal read-only and locks it all the same, so it needs no right to
write anywhere.

The holder's identity (pid, host, start time, command) goes into a side file,
``<journal>.lock``, once the lock is held, so a refused second process can name who holds it.
That file is a message, and one more guard: a process that gets the lock of a journal file
made anew at the path (the old one removed or replaced while its run went on) finds the old
holder's identity there, a live process of this host, and stops, since the files beside the
journal (``.bodies``, ``.rejected.spill``, ``.consents``) are still that run's. Missing, stale
(its process gone, or another host's) or unwritable, it makes the refusal vaguer, never the
lock weaker.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from engine.errors import JournalBusyError, JournalError
from engine.run.replacing import replace_file
from engine.run.report import now_iso

# Windows locks byte ranges and forbids reading a locked one: lock a byte the journal never
# reaches (a range may lie past the end of the file).
_WINDOWS_LOCK_AT = 1 << 40

# How often a refused process reads the side file again, when the holder has just taken the
# lock and not yet written its identity: a count, not a time, and no sleep (the refusal is
# made inside the event loop).
_HOLDER_READS = 200


def lock_path(journal: Path) -> Path:
    """The side file that names the holder of ``journal`` (resolved: one per journal file)."""
    resolved = journal.resolve()
    return resolved.with_name(resolved.name + ".lock")


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
    """The identity the side file holds (the holder's, while it is held); None if unreadable."""
    try:
        data = orjson.loads(lock_path(journal).read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def _alive(holder: dict[str, Any]) -> bool | None:
    """Whether the holder's process runs: known only on this host (None: another host's, or
    Windows, where a crashed holder cannot be told from a live one)."""
    pid = holder.get("pid")
    if holder.get("host") != socket.gethostname() or not isinstance(pid, int) or \
            sys.platform == "win32":
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # alive, another user's
    return True


def _gone(holder: dict[str, Any]) -> bool:
    """A holder on this host whose process no longer exists: a stale side file."""
    return _alive(holder) is False


def _alive_here(holder: dict[str, Any]) -> bool:
    """Another live process of this host (another host's does not block: it cannot be told
    from a crashed one's)."""
    return holder.get("pid") != os.getpid() and _alive(holder) is True


def _holder(journal: Path) -> dict[str, Any] | None:
    """The holder's identity. It writes it just after taking the lock, so a refusal that came
    in between (the side file missing, or a dead holder's) reads again a bounded number of
    times, yielding the processor between reads rather than sleeping."""
    for _ in range(_HOLDER_READS):
        holder = holder_of(journal)
        if holder is not None and not _gone(holder):
            return holder
        if hasattr(os, "sched_yield"):
            os.sched_yield()
    return None


class JournalLock:
    """The exclusive lock on one journal file; ``with JournalLock(path, "a2p send"):``.

    Raises JournalBusyError (a usage error: exit 2; 75, try again later, for a scheduled
    resume with --exit-when-waiting) at once when another process holds it, never waits:
    the other process is doing this very run."""

    def __init__(self, journal: Path, command: str = "a2p", *, readonly: bool = False,
                 create: bool = True) -> None:
        """``readonly``: a reader (``outcomes``): the journal is opened read-only (it must
        exist) and locked as a writer would. ``create``: a fresh run's journal is made (empty)
        when missing, and removed again if still empty at release; a resume's must exist."""
        self.journal = journal
        self.command = command
        self.readonly = readonly
        self.create = create and not readonly
        self._fd: int | None = None
        self._path: Path | None = None

    def acquire(self) -> None:
        for _ in range(10):  # another process may remove an empty journal as we open it
            path = self.journal.resolve()  # a symlink: lock (and later name) its target
            fd = self._open(path)
            if not _try_lock(fd):
                os.close(fd)
                raise JournalBusyError(self.journal, _holder(path), reader=self.readonly)
            if _same_file(path, fd):
                holder = holder_of(path)
                if holder is not None and _alive_here(holder):
                    _unlock(fd)  # the lock is this new file's; the side files are theirs
                    os.close(fd)
                    raise JournalBusyError(self.journal, holder, replaced=True)
                self._fd, self._path = fd, path
                self._write_identity(path)
                return
            _unlock(fd)  # locked an empty journal its holder had just removed: open again
            os.close(fd)
        raise JournalError(f"{self.journal}: the journal keeps being removed and made again; "
                           "is another program doing it? Run again when it stops.")

    def _open(self, path: Path) -> int:
        write = os.O_RDWR | (os.O_CREAT if self.create else 0)
        flags = os.O_RDONLY if self.readonly else write
        try:
            return os.open(path, flags | getattr(os, "O_BINARY", 0), 0o644)
        except OSError as exc:
            made = "open" if self.readonly or not self.create else "create"
            raise JournalError(f"{path}: cannot {made} the journal to lock it "
                               f"({exc.strerror}). Check that the path is right and its "
                               "directory exists and is writable.") from None

    def holds(self, path: Path) -> bool:
        """Whether ``path`` is (still) the very file this lock holds."""
        return self._fd is not None and _same_file(path.resolve(), self._fd)

    def _write_identity(self, path: Path) -> None:
        """Best effort: written whole (a temporary file renamed over it), or not at all."""
        side = lock_path(path)
        temporary = side.with_name(f"{side.name}.{os.getpid()}")
        try:
            temporary.write_bytes(orjson.dumps(identity(self.command)))
            replace_file(temporary, side, tries=1)
        except OSError:  # a read-only directory (an archived journal): the lock still holds
            with contextlib.suppress(OSError):
                temporary.unlink()

    def release(self) -> None:
        """Remove the side file (and a journal this run made and never wrote) while still
        holding the lock, so no one takes a file that is going away unnoticed, then let go."""
        fd, path, self._fd, self._path = self._fd, self._path, None, None
        if fd is None or path is None:
            return
        try:
            with contextlib.suppress(OSError):
                lock_path(path).unlink()  # ours, or a dead holder's: no one else's while held
            if self.create and os.fstat(fd).st_size == 0 and _same_file(path, fd) and \
                    sys.platform != "win32":
                path.unlink(missing_ok=True)
            _unlock(fd)
        finally:
            os.close(fd)

    def reacquire(self) -> None:
        """Take the lock again after ``release``: a scheduled send lets it go while it sleeps
        for hours between rounds, so `a2p outcomes` and a cron tick are not refused meanwhile.
        The journal must exist by now (never made anew); JournalBusyError when another
        process holds it."""
        self.create = False
        self.acquire()

    def __enter__(self) -> JournalLock:
        self.acquire()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _same_file(path: Path, fd: int) -> bool:
    """Whether ``path`` still names the file open as ``fd`` (not removed or replaced)."""
    try:
        now = os.stat(path)
    except FileNotFoundError:
        return False
    held = os.fstat(fd)
    return (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino)

