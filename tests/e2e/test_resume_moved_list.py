"""A resume of a list that was copied or moved (its modification time a new one) is judged by
content, not by the file's time: the same bytes are accepted and finish the run, everyone
texted once; other records where the run sent some, even past the head the journal digests,
are refused before any POST, since the copy is then read whole and every chunk sent before is
checked against what it journaled."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import anyio
import pytest

import engine
from engine.errors import JournalError
from engine.run.inputs import HEAD_BYTES
from engine.simulator import RunningSimulator
from tests.e2e.test_cli_exit_codes import SENDER, a2p, numbers, server, sim_env
from tests.fakes import FakeA2P, MockTransport, stop_after
from tests.test_api import options

__all__ = ["server"]  # fixtures

COUNT = 8000  # 13 bytes a line: the list goes on well past the 64 KiB head


def texted(server: FakeA2P) -> Counter[str]:
    """Every recipient the fake server created a message for, with how many times."""
    return Counter(to for found in server.messages.values() for m in found for to in m["to"])


async def _stopped_run(tmp_path: Path) -> tuple[FakeA2P, Path, list[str]]:
    """A run stopped after most of its chunks were sent, then its folder moved (the list
    copied: a new modification time) and the old one removed."""
    old = tmp_path / "a"
    old.mkdir()
    listed = [f"+1415{2_000_000 + k:07d}" for k in range(COUNT)]
    (old / "list.txt").write_text("".join(f"{n}\n" for n in listed))
    assert (old / "list.txt").stat().st_size > HEAD_BYTES + 13 * 1000
    server = FakeA2P()
    stop = anyio.Event()
    on_event = stop_after(14, stop)
    first = await engine.send(str(old / "list.txt"),
                              options(max_batch_messages=500, journal=old / "j.journal",
                                      concurrency=1, stop=stop, on_event=on_event),
                              transport=MockTransport(server))
    assert first["status"] == "interrupted"
    assert 0 < sum(texted(server).values()) < COUNT
    shutil.copytree(old, tmp_path / "b")  # copy: the list's time is a new one
    os.utime(tmp_path / "b" / "list.txt", ns=(1, 1))
    shutil.rmtree(old)
    return server, tmp_path / "b", listed


async def test_a_moved_copy_of_the_same_list_finishes_the_run(tmp_path: Path) -> None:
    """The same bytes under another path and time: the resume finishes, everyone once."""
    server, new, listed = await _stopped_run(tmp_path)
    done = await engine.send(str(new / "list.txt"), options(resume=new / "j.journal"),
                             transport=MockTransport(server))
    assert done["status"] == "completed"
    assert texted(server) == Counter(listed)


async def test_a_copy_with_sent_records_swapped_past_the_head_is_refused(
        tmp_path: Path) -> None:
    """Same size, same head, two records the run sent swapped past the head: refused, and
    nothing more sent."""
    server, new, _ = await _stopped_run(tmp_path)
    before = texted(server)
    listed = new / "list.txt"
    lines = listed.read_text().splitlines()
    at = HEAD_BYTES // 13 + 100  # a line past the head, inside the chunks sent
    assert at < sum(before.values())
    lines[at], lines[at + 1] = lines[at + 1], lines[at]
    listed.write_text("\n".join(lines) + "\n")
    os.utime(listed, ns=(1, 1))
    with pytest.raises(JournalError, match="not the list the run read"):
        await engine.send(str(listed), options(resume=new / "j.journal"),
                          transport=MockTransport(server))
    assert texted(server) == before


def test_a2p_send_resume_takes_input_where_the_list_is_now(
        tmp_path: Path, server: RunningSimulator) -> None:
    """``a2p send --resume J --input PATH`` in a moved folder: the run's list read from
    PATH, its report written beside the journal (the old folder is gone), nobody sent again;
    --input without --resume is refused, exit 2."""
    old = tmp_path / "a"
    old.mkdir()
    numbers(old / "list.txt")
    first = a2p(["send", str(old / "list.txt"), "--from", SENDER, "--text", "Hi", "--report",
                 str(old / "r.json")], env=sim_env(server))
    assert first.returncode == 0, first.stderr
    sent = len(list(server.simulator.store.ledger()))
    shutil.copytree(old, tmp_path / "b")
    shutil.rmtree(old)
    new = tmp_path / "b"
    os.utime(new / "list.txt", ns=(1, 1))
    again = a2p(["send", "--resume", str(new / "r.json.journal"), "--input",
                 str(new / "list.txt")], env=sim_env(server))
    assert again.returncode == 0, again.stderr
    assert f"report: {new / 'r.json'}" in again.stderr
    assert (new / "r.json").is_file()
    assert len(list(server.simulator.store.ledger())) == sent
    alone = a2p(["send", "--input", str(new / "list.txt"), "--from", SENDER, "--text", "Hi"],
                env=sim_env(server))
    assert alone.returncode == 2
    assert "a new run takes its list as INPUT" in alone.stderr
