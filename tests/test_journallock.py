"""One process per journal: the lock refuses a second holder at once and names the first; a
lock whose process died never blocks."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from engine.errors import JournalBusyError, UsageError
from engine.run.journallock import JournalLock, holder_of, lock_path

HOLD = ("import sys; from pathlib import Path; from engine.run.journallock import JournalLock; "
        "lock = JournalLock(Path(sys.argv[1]), 'a2p send --resume'); lock.acquire(); "
        "print('held', flush=True); sys.stdin.read()")


def test_a_second_holder_is_refused_naming_the_journal_and_the_first(tmp_path: Path) -> None:
    """While one lock is held, another on the same journal raises at once a usage error
    (exit 2) that names the journal, the holder's pid, host and start time."""
    journal = tmp_path / "run.journal"
    with JournalLock(journal, "a2p send"), pytest.raises(JournalBusyError) as refused:
        JournalLock(journal, "a2p outcomes").acquire()
    assert isinstance(refused.value, UsageError)
    message = str(refused.value)
    assert str(journal) in message
    assert f"pid {os.getpid()}" in message
    assert socket.gethostname() in message
    assert "a2p send" in message
    assert "started 20" in message


def test_a_released_lock_is_free_and_leaves_no_file(tmp_path: Path) -> None:
    """After the holder lets go, the next one takes the lock; nothing is left beside the
    journal."""
    journal = tmp_path / "run.journal"
    with JournalLock(journal):
        held = holder_of(journal)
        assert held is not None
        assert (held["pid"], held["command"]) == (os.getpid(), "a2p")
    assert not lock_path(journal).exists()
    with JournalLock(journal, "a2p outcomes"):
        holder = holder_of(journal)
        assert holder is not None
        assert holder["command"] == "a2p outcomes"


def test_a_lock_file_left_by_a_dead_process_does_not_block(tmp_path: Path) -> None:
    """A lock file whose process is gone (its identity still in it) is taken over, and the
    identity becomes the new holder's."""
    journal = tmp_path / "run.journal"
    lock_path(journal).write_bytes(orjson.dumps({"pid": 999999, "host": "gone",
                                                 "startedAt": "2026-01-01", "command": "x"}))
    with JournalLock(journal):
        holder = holder_of(journal)
        assert holder is not None
        assert holder["pid"] == os.getpid()


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_lock_held_by_another_process_is_refused_until_that_process_is_killed(
        tmp_path: Path) -> None:
    """Another process holding the lock is named in the refusal; once it is killed with
    SIGKILL (no chance to clean up), the lock is free: the OS lock died with it."""
    journal = tmp_path / "run.journal"
    with subprocess.Popen([sys.executable, "-c", HOLD, str(journal)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE) as holder:
        refusal = _refused_while(holder, journal)
    assert f"pid {holder.pid}" in refusal
    assert "a2p send --resume" in refusal
    assert lock_path(journal).exists()  # left behind by the killed holder, and yet:
    with JournalLock(journal):
        found = holder_of(journal)
        assert found is not None
        assert found["pid"] == os.getpid()


def _refused_while(holder: subprocess.Popen[bytes], journal: Path) -> str:
    """The refusal met while ``holder`` holds the lock; then the holder is SIGKILLed."""
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == b"held\n"
        with pytest.raises(JournalBusyError) as refused:
            JournalLock(journal).acquire()
        return str(refused.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)


def test_a_journal_in_a_missing_directory_says_so(tmp_path: Path) -> None:
    """The lock file cannot be made: a journal error naming it, not a traceback."""
    with pytest.raises(UsageError, match="lock file"):
        JournalLock(tmp_path / "nowhere" / "run.journal").acquire()


def test_a_reader_of_a_journal_in_a_read_only_directory_goes_on_unlocked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """outcomes on an archived journal (its directory not writable: the lock file cannot be
    made): no writer could lock it there either, so the reader goes on; a sender is refused
    with a journal error that names the lock file."""
    journal = tmp_path / "run.journal"

    def refused(path: object, flags: int, mode: int = 0o777) -> int:
        raise PermissionError(errno.EACCES, "Permission denied", str(path))

    monkeypatch.setattr("engine.run.journallock.os.open", refused)
    with JournalLock(journal, "a2p outcomes", readonly=True):
        assert not lock_path(journal).exists()
    with pytest.raises(UsageError, match="lock file"):
        JournalLock(journal, "a2p send").acquire()
