"""A resume reads its input again and checks it is the list the run read: the records of
every chunk it skips, read whole, must be the (position, number) pairs that chunk journaled
(its ``digest``). A stdin run's journal knows no file to compare, and a file can be edited in
place: without this a re-sorted, cut or different list would be skipped by old positions."""

from __future__ import annotations

from bisect import bisect_left, bisect_right

from engine.batching.chunker import Digest
from engine.core.holdings import Entry
from engine.errors import JournalError
from engine.reading import Block
from engine.run.resume import ResumePlan


class InputCheck:
    """Checks, as a resume reads the input again, that the records of the chunks it skips
    are the very (position, number) pairs those chunks journaled (their ``digest``): a list
    re-sorted, cut or swapped for another would otherwise be skipped by old positions,
    texting some people twice and nobody else. Only chunks read whole (beginning at or after
    ``start``, where reading begins) are checked; ``done`` once every one of them was."""

    def __init__(self, plan: ResumePlan, start: int = 0) -> None:
        self.journal = plan.journal
        checked = {n for n in plan.digests if plan.records[n].first >= start}
        # a chunk's pieces all lie in one layer of the holdings, in order
        self._layers = [entries for layer in plan.holdings.layers
                        if (entries := [e for e in layer.entries if e[2] in checked])]
        self._ks = [0] * len(self._layers)
        self._digests: dict[int, Digest] = {}
        self._last = {e[2]: e[1] for entries in self._layers for e in entries}  # last wins
        self._line: dict[int, int | None] = {}
        self._expected = dict(plan.digests)
        self._ranges = {n: (r.first, r.last) for n, r in plan.records.items()}

    @property
    def done(self) -> bool:
        return all(k >= len(entries) for k, entries in zip(self._ks, self._layers,
                                                            strict=True))

    def block(self, block: Block) -> None:
        """The records of ``block`` (the next in input order) that a checked chunk holds."""
        positions = block.positions
        if not positions:
            return
        for layer, entries in enumerate(self._layers):
            self._ks[layer] = self._layer(block, entries, self._ks[layer])

    def _layer(self, block: Block, entries: list[Entry], k: int) -> int:
        """The pieces of one layer ``block`` reaches, from piece ``k``: the next piece's."""
        positions, top = block.positions, block.positions[-1]
        while k < len(entries) and entries[k][0] <= top:
            a, b, number, held = entries[k]
            i, j = bisect_left(positions, a), bisect_right(positions, b)
            digest = self._digests.setdefault(number, Digest())
            if held is not None:  # a bitmap: its positions between a and b
                ks = [m for m in range(i, j) if held.holds(positions[m])]
                if ks:
                    digest.update([positions[m] for m in ks], [block.tos[m] for m in ks])
                    if number not in self._line and block.lines is not None:
                        self._line[number] = block.lines[ks[0]]
            elif i < j:
                digest.update(positions[i:j], block.tos[i:j])
                if number not in self._line and block.lines is not None:
                    self._line[number] = block.lines[i]
            if b > top:
                return k  # the piece goes on in the next block
            k += 1
            if b == self._last[number]:
                self._check(number, digest.hexdigest())
        return k

    def finish(self) -> None:
        """The input ended: a checked chunk whose records it no longer holds differs too."""
        for layer, entries in enumerate(self._layers):
            while self._ks[layer] < len(entries):
                _, _, number, _ = entries[self._ks[layer]]
                self._ks[layer] += 1
                if number in self._last:
                    self._check(number, self._digests.get(number, Digest()).hexdigest())

    def _check(self, number: int, found: str) -> None:
        self._last.pop(number, None)
        if found == self.plan_digest(number):
            return
        record = self._record(number)
        line = self._line.get(number)
        where = f"positions {record[0]}..{record[1]}" + (
            f" (from line {line})" if line is not None else "")
        raise JournalError(
            f"{self.journal}: the input is not the list the run read: chunk {number} sent "
            f"the records at {where}, and the input now gives other recipients there (a "
            "re-sorted, shortened or different list?). Nothing more was sent. Resume with the "
            "very list the run read, in the same order, or send only the rows 'a2p "
            "outcomes' lists as not sent; a new run (without --resume) of the whole list "
            "would text again everyone this run already sent to.")

    def plan_digest(self, number: int) -> str:
        return self._expected[number]

    def _record(self, number: int) -> tuple[int, int]:
        return self._ranges[number]
