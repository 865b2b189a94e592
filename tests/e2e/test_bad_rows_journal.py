"""A run whose list is mostly bad rows: its journal holds 200,000 local rejections on long
lines, and a resume and ``engine.outcomes`` take them from the file, never all at once."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

import engine
from engine.config.credentials import DEMO_CREDENTIALS
from engine.core.positions import Positions
from engine.core.rejections import Rejection
from engine.run import journalscan
from engine.run.journal import local_rejections, read_journal
from tests.e2e.conftest import SENDER, Start
from tests.test_journal_local import every_line_whole

ROWS = 210_000  # every 21st a valid number: 200,000 bad rows


def write_list(path: Path) -> None:
    rows = [f"+1415{2_000_000 + i:07d}" if i % 21 == 0 else f"Name {i}" for i in range(ROWS)]
    path.write_text("to,name\n" + "".join(f"{to},x\n" for to in rows))




def reachable(root: object, limit: int = 2_000_000) -> list[object]:
    """The objects reachable from ``root`` through references (bounded)."""
    seen, todo, out = {id(root)}, [root], list[object]()
    while todo and len(out) < limit:
        item = todo.pop()
        out.append(item)
        for child in gc.get_referents(item):
            if id(child) not in seen and not isinstance(child, type):
                seen.add(id(child))
                todo.append(child)
    return out


async def test_200k_local_rejections_come_back_from_the_journal_on_resume_and_in_outcomes(
        tmp_path: Path, start: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    """The journal's 200,000 local rejections (its long lines read in small pieces) give the
    resumed report the same counts and rejections, and each bad row's outcomes row is its
    journaled rejection; the folded journal holds their positions, not the rejections."""
    monkeypatch.setattr(journalscan, "PIECE", 1 << 14)  # each long line read in many pieces
    _, settings = await start()
    path, journal = tmp_path / "list.csv", tmp_path / "run.journal"
    write_list(path)
    first = await engine.send(path, sender=SENDER, text="Hi", config=settings,
                              credentials=DEMO_CREDENTIALS, wait="accepted", journal=journal)
    expected = every_line_whole(journal)
    assert len(expected) == first["totals"]["rejectedLocal"] == 200_000
    assert max(len(line) for line in journal.read_bytes().splitlines()) > 100 * (1 << 14)

    state = read_journal(journal)
    assert isinstance(state.local, Positions)
    assert len(state.local) == 200_000
    assert state.local.nbytes <= 8 * len(state.local)
    assert not [o for o in reachable(state) if isinstance(o, Rejection)]
    streamed = [r.as_json() for r in local_rejections(state)]
    assert streamed == [expected[i] for i in sorted(expected)]

    again = await engine.send(resume=journal, config=settings, credentials=DEMO_CREDENTIALS,
                              wait="accepted")
    for key in ("records", "sent", "rejectedLocal", "rejectedServer", "pending"):
        assert again["totals"][key] == first["totals"][key], key
    assert again["rejected"] == first["rejected"]

    rows = [row async for row in engine.outcomes(journal, config=settings,
                                                 credentials=DEMO_CREDENTIALS)]
    assert [row.position for row in rows] == list(range(ROWS))
    bad = [row for row in rows if row.outcome == "rejected-local"]
    assert [(r.position, r.line, r.to, r.errorCode, r.description) for r in bad] == [
        (i, e["line"], e["to"], e["errorCode"], e["description"])
        for i, e in sorted(expected.items())]
    only = [row async for row in engine.outcomes(journal, config=settings, only=("rejected-local",),
                                                 credentials=DEMO_CREDENTIALS)]
    assert only == bad
