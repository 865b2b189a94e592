"""A resume checks that the input it reads again is the list the run read."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import anyio
import pytest

import engine
from engine.batching.chunker import Chunker
from engine.core import lifecycle
from engine.core.aggregator import Aggregator
from engine.errors import JournalError
from engine.reading import Block
from engine.run.inputcheck import InputCheck
from engine.run.journal import ChunkEntry, Journal, read_journal, state_entry
from engine.run.resume import restore
from tests.fakes import FakeA2P, MockTransport, reply, stop_after
from tests.test_api import options
from tests.test_resume import record


def checked_plan(tmp_path: Path) -> Any:
    """A journal of chunk 1 (positions 0..9) accepted, digest and all, and chunk 2 planned."""
    chunker = Chunker("+16505550100", "Hi", 1 << 20)
    (one,) = chunker.chunks([Block([f"+1415555{p:04d}" for p in range(10)], None,
                                   range(10), list(range(2, 12)))])
    path = tmp_path / "run.journal"
    journal = Journal.create(path, {"runId": "r", "sender": "+16505550100"})
    journal.write(ChunkEntry(1, 0, 9, 10, 100, 0, 2, (), one.digest).to_json())
    journal.write(state_entry(record(1, 0, 9, lifecycle.ACCEPTED, batch_id="b1")))
    journal.write(ChunkEntry(2, 10, 19, 10, 100, 0, 12, (), "x").to_json())
    journal.close()
    return restore(read_journal(path), Aggregator())


def test_the_records_a_resume_skips_are_checked_against_the_journal(tmp_path: Path) -> None:
    """The same list read again passes; one whose skipped records differ (re-sorted) is
    refused naming the journal, the positions and line where it differs and the fix; a
    list that ends inside a skipped chunk is refused too."""
    plan = checked_plan(tmp_path)
    same = InputCheck(plan)
    same.block(Block([f"+1415555{p:04d}" for p in range(20)], None, range(20),
                     list(range(2, 22))))
    same.finish()
    assert same.done
    resorted = InputCheck(plan)
    with pytest.raises(JournalError, match=r"run.journal: the input is not the list the run "
                                           r"read: chunk 1 sent the records at positions "
                                           r"0\.\.9 \(from line 2\).*same order"):
        resorted.block(Block([f"+1415555{p:04d}" for p in reversed(range(20))], None,
                             range(20), list(range(2, 22))))
    short = InputCheck(plan)
    short.block(Block([f"+1415555{p:04d}" for p in range(5)], None, range(5)))
    with pytest.raises(JournalError, match="chunk 1 sent"):
        short.finish()


def test_a_chunk_read_in_part_is_not_checked(tmp_path: Path) -> None:
    """A resume reading a file from a later offset does not check a chunk it reads only a
    part of (nor, so, refuse the right list)."""
    plan = checked_plan(tmp_path)
    check = InputCheck(plan, start=5)
    check.block(Block([f"+1415555{p:04d}" for p in range(5, 20)], None, range(5, 20)))
    check.finish()
    assert check.done


async def test_a_resorted_list_after_a_413_split_is_refused(tmp_path: Path) -> None:
    """The halves of a chunk split by a 413 are checked like any chunk: a resume given the
    list re-sorted is refused, and nobody is texted twice."""
    journal = tmp_path / "run.journal"
    numbers = [f"+1415555{k:04d}" for k in range(25)]
    server = FakeA2P(posts=[reply(413)])
    stop = anyio.Event()
    on_event = stop_after(2, stop)  # both halves of chunk 1
    first = await engine.send(numbers, options(max_batch_bytes=300, journal=journal,
                                               concurrency=1, stop=stop, on_event=on_event),
                              transport=MockTransport(server))
    assert first["status"] == "interrupted"
    with pytest.raises(JournalError, match="not the list the run read"):
        await engine.send(list(reversed(numbers)), options(resume=journal),
                          transport=MockTransport(server))
    texted = Counter(m["to"][0] for ms in server.messages.values() for m in ms)
    assert max(texted.values()) == 1, texted
