"""Which positions each journaled chunk holds, read from its folded entry: its range less its
``gaps``, its ``held`` bitmap (engine/core/holdings.py), or, for a journal written before
gaps were, its range less the earlier chunks inside it; and which chunks hold records now
(``standing``)."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from engine.core.holdings import Interval, Members
from engine.core.lifecycle import PLANNED, SPLIT, SUPERSEDABLE, SUPERSEDED


def known(chunk: Mapping[str, Any]) -> bool:
    """Whether a folded chunk journaled what it holds (gaps, a bitmap, or, with a digest,
    its whole range)."""
    return "digest" in chunk or bool(chunk.get("gaps")) or chunk.get("held") is not None


def members_of(chunk: Mapping[str, Any]) -> Members:
    """What a folded chunk journaled that it holds (``known``)."""
    return Members.from_json(chunk["firstIndex"], chunk["lastIndex"], chunk.get("gaps"),
                             chunk.get("held"))


def members_by_chunk(chunks: Iterable[Mapping[str, Any]],
                     resendable: Callable[[Mapping[str, Any]], bool] = lambda chunk: False
                     ) -> dict[int, Members]:
    """What each chunk holds: as journaled (``members_of``), or, for a journal written
    before gaps were, its range less the gaps ``gaps_by_chunk`` works out."""
    every = list(chunks)
    out = {c["chunk"]: members_of(c) for c in every
           if c.get("firstIndex") is not None and known(c)}
    if len(out) < sum(c.get("firstIndex") is not None for c in every):
        by_number = {c["chunk"]: c for c in every}
        for number, gaps in gaps_by_chunk(every, resendable).items():
            if number not in out:
                chunk = by_number[number]
                out[number] = Members.of_gaps(chunk["firstIndex"], chunk["lastIndex"], gaps)
    return out


def gaps_by_chunk(chunks: Iterable[Mapping[str, Any]],
                  resendable: Callable[[Mapping[str, Any]], bool] = lambda chunk: False
                  ) -> dict[int, list[Interval]]:
    """Each chunk's gaps (none for a chunk journaling a bitmap, ``held``: members_by_chunk
    reads those): journaled (``gaps``), or for a journal written before they were
    (no ``digest``), the ranges of earlier chunks, not superseded, lying inside a chunk that
    holds fewer records than its range: the chunks a resume skipped when it cut it. (A
    journal older still, without superseded entries, says nothing of the chunks never sent
    that a resume cut again: there a planned or ``resendable`` chunk is never a gap.)"""
    live = sorted((c for c in chunks if c.get("firstIndex") is not None),
                  key=lambda c: c["firstIndex"])
    marked = any(c.get("status") == SUPERSEDED for c in live)
    starts = [c["firstIndex"] for c in live]
    out: dict[int, list[Interval]] = {}
    for chunk in live:
        first, last = chunk["firstIndex"], chunk["lastIndex"]
        if known(chunk):
            out[chunk["chunk"]] = [(a, b) for a, b in chunk.get("gaps") or ()]
        elif chunk.get("messages", 0) < last - first + 1:
            out[chunk["chunk"]] = [
                (c["firstIndex"], c["lastIndex"])
                for c in live[bisect_right(starts, first):bisect_right(starts, last)]
                if c["chunk"] < chunk["chunk"] and c["lastIndex"] <= last
                and c.get("status") != SUPERSEDED
                and (marked or not _never_sent(c, resendable))]
        else:
            out[chunk["chunk"]] = []
    return out


def standing(chunks: Iterable[Mapping[str, Any]],
             resendable: Callable[[Mapping[str, Any]], bool]) -> list[Mapping[str, Any]]:
    """The folded chunks that hold records now, in chunk order: not superseded, not split
    (their halves hold them).

    A journal written before ``superseded`` entries existed may hold a chunk a resume re-cut
    without saying so: a chunk never sent (planned, or failed and ``resendable``) whose
    positions a chunk cut later (a higher number) holds is superseded too. Positions, not
    ranges: a chunk cut by a resume around another chunk's range spans it without holding
    its records (its ``gaps``), and that chunk still stands."""
    every = list(chunks)
    live = [c for c in every if c.get("status") not in (SUPERSEDED, SPLIT)
            and c.get("firstIndex") is not None]
    members = members_by_chunk(every, resendable)

    def replaced(chunk: Mapping[str, Any]) -> bool:
        """Whether a chunk cut later (a higher number) holds one of its positions."""
        number, held = chunk["chunk"], members[chunk["chunk"]]
        for later in live:
            if later["chunk"] <= number or later["lastIndex"] < held.first or \
                    later["firstIndex"] > held.last:
                continue
            other = members[later["chunk"]]
            if any(next(other.runs(a, b), None) is not None
                   for a, b in held.runs(other.first, other.last)):
                return True
        return False

    kept = [c for c in live if not (_never_sent(c, resendable) and replaced(c))]
    return sorted(kept, key=lambda c: c["chunk"])


def _never_sent(chunk: Mapping[str, Any], resendable: Callable[[Mapping[str, Any]], bool]
                ) -> bool:
    status = chunk.get("status", PLANNED)
    return status == PLANNED or (status in SUPERSEDABLE and resendable(chunk))


