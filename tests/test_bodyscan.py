"""Reading a built body back a piece at a time (engine/batching/bodyscan.py): the very
recipients and texts a whole parse gives, whatever the pieces, in memory held to a piece and a
message, and the lost-answer path's Expected the same as before at a fraction of the memory."""

from __future__ import annotations

import doctest
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path

import orjson
import pytest

import engine.batching.bodyscan
from engine.batching.bodyscan import BodyRecipients, messages, pieces_of, recipients, tos_at
from engine.batching.chunker import Chunk, Chunker
from engine.core.reconcile import Expected
from engine.reading import Block
from engine.run.bodyspool import SUFFIX, BodySpool
from tests.fakes import SENDER


def _blocks(n: int, texts: bool = True, start: int = 0) -> list[Block]:
    tos = [f"+1415{k:07d}" for k in range(n)]
    # texts of their own on some, holding what a message starts with, quotes, braces, "]}",
    # backslashes and non-GSM characters; the others take the body's text
    own: list[str | None] | None = [
        None if k % 3 else f'Hi {k} {{"to":["+1"]}} "]}}" \\ ü,' for k in range(n)] \
        if texts else None
    return [Block(tos[a:a + 500], own[a:a + 500] if own is not None else None,
                  list(range(start + a, start + min(n, a + 500))), None) for a in range(0, n, 500)]


def _whole(chunk: Chunk) -> list[tuple[str, str | None]]:
    body = orjson.loads(chunk.data)
    return [(m["to"][0], m.get("text", body.get("text"))) for m in body["messages"]]


@pytest.mark.parametrize("text", ["Hi \"there\" {\"to\":[\"", None])
@pytest.mark.parametrize("size", [1, 7, 25, 4096])
def test_messages_read_in_pieces_are_what_a_whole_parse_gives(text: str | None, size: int
                                                              ) -> None:
    """Every message's recipient and text, and any recipient by index, read in pieces of any
    size (one byte, a marker cut in two, many messages) equal the whole parse's."""
    blocks = _blocks(1200) if text is None else \
        _blocks(1200, texts=False) + _blocks(300, start=1200)
    for chunk in Chunker(SENDER, text, 20_000).chunks(blocks):
        whole = _whole(chunk)
        assert list(messages(pieces_of(chunk.body, size))) == whole
        assert list(recipients(pieces_of(chunk.body, size))) == [to for to, _ in whole]
        wanted = [1, 2, len(whole) // 2, len(whole)]
        assert tos_at(pieces_of(chunk.body, size), wanted) == {k: whole[k - 1][0]
                                                               for k in wanted}


def test_a_stored_body_s_recipients_are_read_again_on_every_pass(tmp_path: Path) -> None:
    """A spooled body's recipients as a sequence: its length, each pass, single indexes and
    slices are the whole parse's."""
    with BodySpool(tmp_path / f"j{SUFFIX}") as spool:
        (chunk,) = Chunker(SENDER, "Hi", 1 << 24, sinks=spool.sink).chunks(_blocks(2000))
        tos = [to for to, _ in _whole(chunk)]
        seen = BodyRecipients(chunk.body, chunk.count)
        assert (len(seen), list(seen), list(seen)) == (len(tos), tos, tos)
        assert (seen[0], seen[-1], seen[1234]) == (tos[0], tos[-1], tos[1234])
        assert (list(seen[5:20:3]), list(seen[::-700])) == (tos[5:20:3], tos[::-700])
        with pytest.raises(IndexError):
            seen[len(tos)]


def _peak(work: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        work()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def _drain(items: Iterator[object]) -> None:
    for _ in items:
        pass


def test_a_pass_over_a_stored_body_holds_a_piece_not_the_body(tmp_path: Path) -> None:
    """Reading every message of a body ten times larger takes about the same memory: a piece
    and a message at a time, never the body (a whole parse takes 26 times the body)."""
    peaks = []
    with BodySpool(tmp_path / f"j{SUFFIX}") as spool:
        for n in (15_000, 150_000):
            (chunk,) = Chunker(SENDER, "Hi", 1 << 30, sinks=spool.sink).chunks(
                _blocks(n, texts=False))
            body, count = chunk.body, chunk.count
            del chunk
            peaks.append(_peak(lambda: _drain(messages(pieces_of(body)))))  # noqa: B023
            peaks.append(_peak(lambda: _drain(iter(BodyRecipients(body, count)))))  # noqa: B023
    assert peaks[2] < 2 * peaks[0]
    assert peaks[3] < 2 * peaks[1]


def test_a_lost_answer_s_expected_is_the_same_at_a_fraction_of_the_memory(
        tmp_path: Path) -> None:
    """What a lost request held, read from its spooled body in pieces, is the Expected the
    whole parse gave, built in under twice the body's size (the whole parse took 26)."""
    from engine.run.lostanswers import LostAnswers  # the lost-answer path's own reading
    from engine.run.options import RunSettings
    from tests.fakes import settings

    lost = LostAnswers.__new__(LostAnswers)  # expected_of reads only the run's sender
    lost._run = RunSettings(settings(), SENDER, "Hi")
    of = lost.expected_of
    with BodySpool(tmp_path / f"j{SUFFIX}") as spool:
        for chunk in Chunker(SENDER, "Hi", 30_000, sinks=spool.sink).chunks(_blocks(2000)):
            assert of(chunk) == Expected.of(SENDER, _whole(chunk))
        (big,) = Chunker(SENDER, "Hi", 1 << 30, sinks=spool.sink).chunks(
            _blocks(150_000, texts=False))
        assert _peak(lambda: of(big)) < 2 * len(big.body)


def test_the_module_s_examples_hold() -> None:
    """The docstring examples are true."""
    result = doctest.testmod(engine.batching.bodyscan)
    assert result.attempted >= 3
    assert result.failed == 0
