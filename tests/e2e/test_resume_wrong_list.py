"""A resume given another list leaves the journal as it was: no row of that list is journaled,
though the reader hands rejections on while it reads."""

from __future__ import annotations

import io
import types
from pathlib import Path
from typing import Any, Literal

import anyio
import orjson
import pytest

import engine
from engine.errors import JournalError
from engine.reading import ReadOptions
from tests.fakes import FakeA2P, MockTransport
from tests.test_api import options


def entries(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(x) for x in path.read_bytes().splitlines() if x.strip()]


@pytest.mark.parametrize("dedupe", [None, "number"])
async def test_refused_resume_writes_no_local_rejections_of_the_wrong_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        dedupe: Literal["number"] | None) -> None:
    """A resume refused because the input is another list journals none of its rows."""
    monkeypatch.setattr("engine.run.localqueue.FLUSH_AT", 50)
    good, wrong, journal = tmp_path / "a.txt", tmp_path / "b.txt", tmp_path / "j.journal"
    good.write_text("".join(f"+1415555{k:04d}\n" for k in range(400)))
    # the wrong list: 300 bad rows, then numbers that differ from the good list's
    wrong.write_text("".join(f"bad{k}\n" for k in range(300)) +
                     "".join(f"+1212555{k:04d}\n" for k in range(400)))
    server = FakeA2P()
    stop = anyio.Event()

    async def on_event(event: dict[str, Any]) -> None:
        if event["event"] == "chunk_submitted":
            stop.set()

    monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=io.BytesIO(good.read_bytes())))
    first = await engine.send("-", options(max_batch_bytes=300, journal=journal,
                                            concurrency=1, stop=stop, on_event=on_event,
                                            read=ReadOptions(dedupe=dedupe, batch_text="Hi")),
                              transport=MockTransport(server))
    assert first["status"] == "interrupted"
    monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=io.BytesIO(wrong.read_bytes())))
    with pytest.raises(JournalError, match="not the list the run read"):
        await engine.send("-", options(resume=journal), transport=MockTransport(server))
    local = [e for e in entries(journal) if e.get("type") == "local"]
    assert local == [], f"{sum(len(e['rejected']) for e in local)} rows of another list"
    monkeypatch.setattr("sys.stdin", types.SimpleNamespace(buffer=io.BytesIO(good.read_bytes())))
    again = await engine.send("-", options(resume=journal), transport=MockTransport(server))
    # the right list, resumed: 400 records, all sent, none rejected
    assert (again["totals"]["records"], again["totals"]["sent"],
            again["totals"]["rejectedLocal"]) == (400, 400, 0)
    assert list(again["rejected"]) == []
