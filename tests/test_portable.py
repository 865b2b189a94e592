"""The Windows code paths, run on Linux by forcing their platform switch (CI has no Windows;
docs/windows.md says what this proves and what it does not): stop signals through
``signal.signal``, a file replaced while a reader holds it, the rejection spill read back
without ``os.pread``, the journal lock through ``msvcrt.locking`` (against a model of it), and
output files whose lines end in LF whatever the platform."""

from __future__ import annotations

import errno
import os
import signal
import types
from pathlib import Path
from typing import Any

import anyio
import pytest

from engine.errors import JournalBusyError
from engine.results.output import OutputFile
from engine.results.rows import Row
from engine.run import journallock, replacing, spill, stopsignals
from engine.run.journallock import JournalLock
from engine.run.replacing import TRIES, replace_file
from engine.run.spill import FileSpill


async def test_portable_signals_reach_the_loop_and_the_old_handlers_come_back(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """With ``signal.signal`` handlers (Windows' path), SIGINT and SIGTERM sent to the process
    come out of the stream in order, and the handlers from before are back after."""
    monkeypatch.setattr(stopsignals, "NATIVE", False)
    before = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    heard = []
    with stopsignals.stop_signals() as received:
        os.kill(os.getpid(), signal.SIGINT)
        os.kill(os.getpid(), signal.SIGTERM)
        with anyio.fail_after(10):
            async for number in received:
                heard.append(number)
                if len(heard) == 2:
                    break
    assert heard == [signal.SIGINT, signal.SIGTERM]
    assert {number: signal.getsignal(number) for number in before} == before


def test_the_stop_signals_include_ctrl_break_where_there_is_one() -> None:
    """SIGINT and SIGTERM everywhere; Ctrl-Break's SIGBREAK where the platform has it."""
    numbers = stopsignals.stop_signal_numbers()
    assert numbers[:2] == (signal.SIGINT, signal.SIGTERM)
    assert (getattr(signal, "SIGBREAK", None) in numbers) == hasattr(signal, "SIGBREAK")


def _held_open(times: int) -> Any:
    """os.replace that fails as Windows does while another program holds the target open,
    ``times`` times, then replaces."""
    real, left = os.replace, [times]

    def replace(source: Any, target: Any) -> None:
        if left[0] > 0:
            left[0] -= 1
            raise PermissionError(errno.EACCES, "Access is denied", str(target))
        real(source, target)

    return replace


def _held_target(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                 times: int) -> tuple[Path, Path]:
    """On Windows' path, a new file ("new") and its target ("old") that another program
    holds open ``times`` times."""
    monkeypatch.setattr(replacing, "WINDOWS", True)
    monkeypatch.setattr(replacing, "_replace", _held_open(times))
    source, target = tmp_path / "new.part", tmp_path / "out.csv"
    source.write_text("new")
    target.write_text("old")
    return source, target


def test_a_target_held_open_for_a_moment_is_replaced_once_let_go(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On Windows a reader that holds the file a moment (a virus scanner) is waited out: the
    file is replaced after short pauses."""
    source, target = _held_target(tmp_path, monkeypatch, 2)
    pauses: list[float] = []
    replace_file(source, target, sleep=pauses.append)
    assert target.read_text() == "new"
    assert not source.exists()
    assert pauses == [0.05, 0.1]


def test_a_target_a_spreadsheet_keeps_open_says_to_close_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A program that keeps the target open: after the bounded tries, an error naming the
    file and telling to close it there; the target is untouched and the new file kept."""
    source, target = _held_target(tmp_path, monkeypatch, 100)
    pauses: list[float] = []
    with pytest.raises(PermissionError, match="close it there") as refused:
        replace_file(source, target, sleep=pauses.append)
    assert str(target) in str(refused.value)
    assert len(pauses) == TRIES - 1
    assert sum(pauses) < 5
    assert (source.read_text(), target.read_text()) == ("new", "old")


def test_the_outcomes_csv_is_replaced_through_the_windows_path(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An export finishing while its CSV is held a moment (Windows' path) still lands whole,
    with LF line ends and a text holding a line break quoted."""
    monkeypatch.setattr(replacing, "WINDOWS", True)
    monkeypatch.setattr(replacing, "_replace", _held_open(1))
    path = tmp_path / "outcomes.csv"
    out = OutputFile(str(path), "csv", True, key={"k": 1})
    out.open()
    out.write(Row(0, 1, "+14155550100", "sent", None, "", False, "b1", "m1", 1, 0.01,
                  text="two\nlines"))
    out.finish()
    data = path.read_bytes()
    assert b"\r" not in data
    assert data.count(b"\n") == 3  # the header, the row, and the line break inside the text
    assert data.endswith(b'"two\nlines"\n')


def _spill_all(spill_file: FileSpill) -> list[tuple[int, bytes]]:
    """Rejections arriving out of order (three runs), read back merged."""
    for index in (5, 9, 1, 7, 3, 2, 8):
        spill_file.add(index, f"r{index}".encode())
    return list(spill_file.merged())


def test_the_spill_is_read_back_by_path_without_pread(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Without os.pread (Windows) the temporary spill stays named while open and is read
    back through its path: the same rejections in position order, and no file left after."""
    monkeypatch.setattr(spill, "_PREAD", False)
    with FileSpill(folder=tmp_path) as spill_file:
        assert spill_file.path.exists()  # Windows cannot unlink an open file
        merged = _spill_all(spill_file)
        assert b",".join(spill_file.joined(b",")).split(b",") == [p for _, p in merged]
    assert merged == [(i, f"r{i}".encode()) for i in (1, 2, 3, 5, 7, 8, 9)]
    assert list(tmp_path.iterdir()) == []


def test_the_spill_reads_the_same_through_pread(tmp_path: Path) -> None:
    """The POSIX path the Windows one is measured against: unlinked at once, same result."""
    with FileSpill(folder=tmp_path) as spill_file:
        assert not spill_file.path.exists()
        merged = _spill_all(spill_file)
    assert merged == [(i, f"r{i}".encode()) for i in (1, 2, 3, 5, 7, 8, 9)]


class ModelMsvcrt(types.ModuleType):
    """Windows' byte-range locks as ``msvcrt.locking`` gives them, for one process: a range
    is the handle's that locked it (another handle, even this process's, is refused), a lock
    starts at the handle's position, and LK_NBLCK fails at once with OSError."""

    LK_NBLCK, LK_UNLCK = 2, 0

    def __init__(self) -> None:
        super().__init__("msvcrt")
        self.held: dict[tuple[int, int, int], int] = {}
        self.positions: list[int] = []

    def locking(self, fd: int, mode: int, nbytes: int) -> None:
        stat = os.fstat(fd)
        at = os.lseek(fd, 0, os.SEEK_CUR)
        self.positions.append(at)
        key = (stat.st_dev, stat.st_ino, at)
        if mode == self.LK_UNLCK:
            if self.held.get(key) != fd:
                raise OSError(errno.EACCES, "unlocking a range not locked by this handle")
            del self.held[key]
        elif key in self.held:
            raise OSError(errno.EACCES, "Permission denied")
        else:
            self.held[key] = fd


def test_the_journal_lock_through_msvcrt_refuses_a_second_and_leaves_the_text_readable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Windows' path of the journal lock, against a model of msvcrt.locking: a second holder
    is refused, the locked byte lies past anything a journal holds (so its text stays
    readable on Windows), and once released the journal can be locked again."""
    model = ModelMsvcrt()
    monkeypatch.setitem(__import__("sys").modules, "msvcrt", model)
    monkeypatch.setattr(journallock, "sys", types.SimpleNamespace(platform="win32"))
    journal = tmp_path / "run.journal"
    journal.write_bytes(b'{"header": 1}\n')
    with JournalLock(journal, "a2p send", create=False):
        with pytest.raises(JournalBusyError):
            JournalLock(journal, "a2p outcomes", readonly=True).acquire()
        assert journal.read_bytes() == b'{"header": 1}\n'
        assert len(model.held) == 1
    assert model.held == {}
    assert set(model.positions) == {journallock._WINDOWS_LOCK_AT}
    assert journallock._WINDOWS_LOCK_AT > 1 << 39
    with JournalLock(journal, "a2p send --resume", create=False):
        assert len(model.held) == 1
