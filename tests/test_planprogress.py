"""``a2p plan``'s progress line: silent for two seconds, then live on a terminal, cleared
before the plan prints; never when stderr is not a terminal or under -q."""

from __future__ import annotations

import io
from pathlib import Path

from engine.cli.planprogress import PlanProgress, input_size
from engine.reading import Block


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _blocks(count: int) -> list[Block]:
    """Blocks of ten records, 13 bytes a line."""
    return [Block(tos=["+14155550100"] * 10, positions=range(i * 10 + 1, i * 10 + 11),
                  offsets=list(range(i * 130, i * 130 + 130, 13))) for i in range(count)]


def _run(stream: io.StringIO, quiet: bool, seconds_each: float) -> tuple[list[str], str]:
    now = [100.0]
    progress = PlanProgress(stream, quiet=quiet, size=1300, clock=lambda: now[0])
    drawn: list[str] = []
    for _ in progress.tap(_blocks(10)):
        now[0] += seconds_each
        drawn.append(stream.getvalue())
    progress.done()
    return drawn, stream.getvalue()


def test_a_slow_plan_shows_its_progress_after_two_seconds_and_clears_it() -> None:
    """Blocks 0.6 s apart: nothing is drawn before two seconds, then the records read, the
    share of the file and the time; the line is cleared at the end."""
    drawn, everything = _run(Terminal(), quiet=False, seconds_each=0.6)
    assert drawn[3] == ""  # 1.8 s in
    assert "a2p plan: read 50 records (49% of the file) | 2.4 s" in drawn[4]
    assert "read 100 records" in everything
    assert everything.endswith("\r\033[K")


def test_a_fast_plan_a_pipe_or_quiet_shows_nothing() -> None:
    """Under two seconds, on a stream that is not a terminal, or with -q: not a byte."""
    assert _run(Terminal(), quiet=False, seconds_each=0.1)[1] == ""
    assert _run(io.StringIO(), quiet=False, seconds_each=0.6)[1] == ""
    assert _run(Terminal(), quiet=True, seconds_each=0.6)[1] == ""


def test_the_share_is_told_only_for_a_plain_file(tmp_path: Path) -> None:
    """stdin and a .gz have no share of the file to tell."""
    listing = tmp_path / "list.txt"
    listing.write_text("+14155550100\n")
    assert input_size(str(listing)) == 13
    assert input_size("-") is None
    assert input_size(str(tmp_path / "list.txt.gz")) is None
