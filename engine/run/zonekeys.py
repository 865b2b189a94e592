"""Each recipient's window key in a scheduled send (issue 22 item 1): by the list's
--tz-column zone first, else by the number (engine/schedule/zones.py), and the keys of a
chunk's recipients, whose request body holds their numbers but not their zones."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from itertools import chain

from engine.batching.bodyscan import pieces_of, recipients
from engine.batching.chunker import Chunk
from engine.reading import Block
from engine.reading.phone import Problem
from engine.schedule.placement import Placement
from engine.schedule.rules import QuietHours
from engine.schedule.windows import WindowKey, window_key
from engine.schedule.zones import Placer


class Keys:
    """Each recipient's window key under the policy, by its --tz-column zone first, else its
    number (the Placer caches by area code; the keys are cached by placement: a few dozen).

    A chunk holds numbers, not zones: ``moved`` keeps the key of each input position whose
    column zone puts it elsewhere than its number does, for the positions a round may POST
    (those ``Eligible`` passes, and those of the chunks caught in flight, noted by
    ``note_caught``), so ``of_chunk`` judges a chunk by its recipients' own zones. It is
    emptied at each survey: one round's moved recipients at most, none without a column."""

    def __init__(self, placer: Placer, policy: QuietHours) -> None:
        self.placer = placer
        self._policy = policy
        self._keys: dict[Placement, WindowKey] = {}
        self.moved: dict[int, WindowKey] = {}

    def __call__(self, number: str, zone: str | None = None) -> WindowKey | None:
        """The key of an E.164 number whose --tz-column cell is ``zone`` (None: placed by
        the number); None: it has no usable placement (a cell the reader refused)."""
        placed = self.placer(number, zone)
        if isinstance(placed, Problem):
            return None
        key = self._keys.get(placed)
        if key is None:
            key = self._keys[placed] = window_key(placed, self._policy)
        return key

    def source(self, number: str, column_zone: str | None = None) -> str | None:
        """How the number's zones were found (column, libphonenumber, area-code, fallback);
        None: a column cell that names no zone."""
        placed = self.placement(number, column_zone)
        return None if placed is None else placed.source

    def placement(self, number: str, column_zone: str | None = None) -> Placement | None:
        """The number's Placement (None: a column cell that names no zone)."""
        placed = self.placer(number, column_zone)
        return None if isinstance(placed, Problem) else placed

    def note(self, to: str, key: WindowKey, position: int) -> None:
        """Keep ``key``, a record's by its column zone, when its number's differs."""
        if key != self(to):
            self.moved[position] = key

    def note_blocks(self, blocks: Iterable[Block], first: int, last: int) -> None:
        """Note the moved records of ``blocks`` from position ``first`` to ``last`` (a chunk
        caught in flight)."""
        for block in blocks:
            if block.zones is not None:
                for to, zone, position in zip(block.tos, block.zones, block.positions,
                                              strict=True):
                    if zone is not None and first <= position <= last:
                        key = self(to, zone)
                        if key is not None:
                            self.note(to, key, position)

    def of_chunk(self, chunk: Chunk) -> Iterator[WindowKey | None]:
        """The key of each recipient of a chunk: its position's in ``moved``, else its
        number's."""
        tos = recipients(pieces_of(chunk.body))
        if not self.moved:
            yield from map(self, tos)
            return
        runs = chunk.index.position_runs()
        positions = chain.from_iterable(range(runs[k], runs[k] + runs[k + 1])
                                        for k in range(0, len(runs), 2))
        for to, position in zip(tos, positions, strict=True):
            moved = self.moved.get(position)
            yield moved if moved is not None else self(to)
