"""One process per journal: the lock refuses a second holder at once and names the first; a
lock whose process died never blocks."""

from __future__ import annotations

import errno
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from engine.errors import JournalBusyError, UsageError
from engine.run.journal import Journal, read_header
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


def test_outcomes_refused_by_a_running_send_is_told_it_sends_nothing(tmp_path: Path) -> None:
    """A reader (a2p outcomes) refused while a send holds the journal hears what is going on
    and when to try again, not that two processes would send the same batches twice."""
    journal = tmp_path / "run.journal"
    with JournalLock(journal, "a2p send"), pytest.raises(JournalBusyError) as refused:
        JournalLock(journal, "a2p outcomes", readonly=True).acquire()
    message = str(refused.value)
    assert "send the same batches twice" not in message
    assert "Run 'a2p outcomes' again when that process ends" in message
    assert "sleeps between rounds" in message


def test_a_released_lock_is_free_and_leaves_no_file(tmp_path: Path) -> None:
    """After the holder lets go, the next one takes the lock; nothing is left beside the
    journal, and a journal the run made and never wrote is gone too."""
    journal = tmp_path / "run.journal"
    with JournalLock(journal):
        held = holder_of(journal)
        assert held is not None
        assert (held["pid"], held["command"]) == (os.getpid(), "a2p")
        assert journal.exists()  # made to be locked, before any request
    assert not lock_path(journal).exists()
    assert not journal.exists()
    journal.write_bytes(b'{"type":"run"}\n')
    with JournalLock(journal, "a2p outcomes", readonly=True):
        holder = holder_of(journal)
        assert holder is not None
        assert holder["command"] == "a2p outcomes"
    assert journal.read_bytes() == b'{"type":"run"}\n'  # a written journal stays


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
    """The journal cannot be made to lock it: a journal error naming it, not a traceback."""
    with pytest.raises(UsageError, match="cannot create the journal"):
        JournalLock(tmp_path / "nowhere" / "run.journal").acquire()


def test_a_reader_where_nothing_can_be_written_is_still_refused_while_a_send_holds(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """outcomes on a journal it may only read (a read-only directory, another user's files):
    it locks the journal opened read-only, so while a send holds it the reader is refused at
    once; and while the reader holds it, a send is refused."""
    journal = tmp_path / "run.journal"
    journal.write_bytes(b'{"type":"run"}\n')
    real_open = os.open

    def read_only(path: str | os.PathLike[str], flags: int, mode: int = 0o777) -> int:
        if flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, mode)

    with JournalLock(journal, "a2p send"):
        monkeypatch.setattr("engine.run.journallock.os.open", read_only)
        with pytest.raises(JournalBusyError, match="a2p send"):
            JournalLock(journal, "a2p outcomes", readonly=True).acquire()
        monkeypatch.undo()
    monkeypatch.setattr("engine.run.journallock.os.open", read_only)
    with JournalLock(journal, "a2p outcomes", readonly=True):
        monkeypatch.undo()
        with pytest.raises(JournalBusyError):
            JournalLock(journal, "a2p send", create=False).acquire()


def test_the_journal_through_a_symlink_or_a_hard_link_meets_the_same_lock(
        tmp_path: Path) -> None:
    """A second process naming the journal through a symlink (latest.journal) or a hard link
    is refused: the lock is the journal file's, not its path's."""
    journal = tmp_path / "run.journal"
    journal.write_bytes(b'{"type":"run"}\n')
    (tmp_path / "latest.journal").symlink_to("run.journal")
    os.link(journal, tmp_path / "copy.journal")
    with JournalLock(journal, "a2p send"):
        for other in ("latest.journal", "copy.journal"):
            with pytest.raises(JournalBusyError):
                JournalLock(tmp_path / other, "a2p send --resume", create=False).acquire()
    with JournalLock(tmp_path / "latest.journal", "a2p send --resume", create=False), \
            pytest.raises(JournalBusyError, match="a2p send --resume"):
        JournalLock(journal, "a2p outcomes", readonly=True).acquire()


def test_deleting_or_renaming_the_side_file_while_held_does_not_free_the_journal(
        tmp_path: Path) -> None:
    """The operator removes the "stale" JOURNAL.lock (or renames it) while the run is alive:
    a resume is still refused; the refusal only says less about who holds it."""
    journal = tmp_path / "run.journal"
    journal.write_bytes(b'{"type":"run"}\n')
    with JournalLock(journal, "a2p send"):
        lock_path(journal).unlink()
        with pytest.raises(JournalBusyError, match="could not be read"):
            JournalLock(journal, "a2p send --resume", create=False).acquire()
    with JournalLock(journal, "a2p send"):
        lock_path(journal).rename(tmp_path / "moved.lock")
        with pytest.raises(JournalBusyError):
            JournalLock(journal, "a2p send --resume", create=False).acquire()


def test_a_refusal_that_cannot_name_the_holder_never_sleeps(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The refusal is made inside the event loop: with no identity to read it gives up after
    a bounded number of reads, without a blocking sleep."""
    journal = tmp_path / "run.journal"

    def no_sleep(seconds: float) -> None:
        raise AssertionError("a blocking sleep in the refusal")

    monkeypatch.setattr(time, "sleep", no_sleep)
    with JournalLock(journal, "a2p send"):
        lock_path(journal).unlink()
        with pytest.raises(JournalBusyError, match="could not be read"):
            JournalLock(journal).acquire()


def test_a_resume_never_makes_a_journal_that_is_not_there(tmp_path: Path) -> None:
    """A resume's lock needs the journal: a missing one is an error, and nothing is made."""
    journal = tmp_path / "run.journal"
    with pytest.raises(UsageError, match="cannot open the journal"):
        JournalLock(journal, "a2p send --resume", create=False).acquire()
    assert not journal.exists()


def test_a_fresh_journal_is_written_in_the_very_file_the_lock_holds(tmp_path: Path) -> None:
    """A fresh run locks its journal before it exists in full: the header and entries go
    into the locked file (not a new one beside it), which a second run cannot take."""
    journal = tmp_path / "run.journal"
    with JournalLock(journal, "a2p send") as lock:
        written = Journal.create(journal, {"runId": "r"})
        written.write({"type": "local"})
        written.close()
        assert lock.holds(journal)
        with pytest.raises(JournalBusyError):
            JournalLock(journal, "a2p send --resume", create=False).acquire()
    assert read_header(journal)["runId"] == "r"


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL is POSIX")
def test_a_journal_made_anew_while_its_run_goes_on_is_refused(tmp_path: Path) -> None:
    """The journal removed while its run holds it, and a new one made at the path: the new
    file's lock is free, but the run still uses the files beside the path (.bodies, the
    spill), so a second run there stops, naming it; once that run is gone, the path is free."""
    journal = tmp_path / "run.journal"
    with subprocess.Popen([sys.executable, "-c", HOLD, str(journal)],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE) as holder:
        try:
            assert holder.stdout is not None
            assert holder.stdout.readline() == b"held\n"
            journal.unlink()  # an operator's slip: the file goes, its process runs on
            with pytest.raises(JournalBusyError) as refused:
                JournalLock(journal, "a2p send").acquire()
            assert f"pid {holder.pid}" in str(refused.value)
            assert "removed or replaced" in str(refused.value)
        finally:
            holder.send_signal(signal.SIGKILL)
            holder.wait(timeout=30)
    with JournalLock(journal):
        assert holder_of(journal) is not None
