"""Rejections, local and from the server, and the aggregator that merges them in input order.

The server's ``rejected[].index`` is 1-based into *that request's* ``messages`` (guide:
"the index position (starting from 1)"); the aggregator turns it into the recipient's 0-based
position in the original input through the chunk's PositionIndex.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from engine.core.chunkindex import PositionIndex
from engine.core.consent import CONSENT_MARK
from engine.core.spillruns import Entry, Tally
from engine.errors import BadAnswerError

if TYPE_CHECKING:
    from engine.core.localbatch import LocalBatch, LocalSink

LOCAL, SERVER = "local", "server"

# Local rejection codes: the reader's verdicts, never sent to RingCentral.
EMPTY_TO = "LCL-EMPTY-TO"
INVALID_NUMBER = "LCL-INVALID-NUMBER"
NO_TEXT = "LCL-NO-TEXT"
TEXT_TOO_LONG = "LCL-TEXT-TOO-LONG"
TEMPLATE_FIELD = "LCL-TEMPLATE-FIELD"
BAD_QUOTES = "LCL-BAD-QUOTES"
COLUMN_COUNT = "LCL-COLUMN-COUNT"
BAD_UTF8 = "LCL-BAD-UTF8"
BAD_JSON = "LCL-BAD-JSON"
BAD_ITEM = "LCL-BAD-ITEM"
# A line longer than a record can be (engine/reading/linesource.py MAX_LINE_BYTES, 1 MiB): a
# binary file, a document pasted in a cell, a file without line ends; read past, never held.
LINE_TOO_LONG = "LCL-LINE-TOO-LONG"
DUPLICATE = "LCL-DUPLICATE"
# --suppress: the number is on a suppression list (an opt-out): never sent, whatever else.
OPTED_OUT = "LCL-OPTED-OUT"
# The number check (engine/reading/phone.py): a spreadsheet's 6.50555E+09, another country's
# number, a +1 number in a range nobody can be texted in.
EXCEL_NUMBER = "LCL-EXCEL-NUMBER"
NOT_NORTH_AMERICAN = "LCL-NOT-NORTH-AMERICAN"
UNREACHABLE_NUMBER = "LCL-UNREACHABLE-NUMBER"


Explain = Callable[[str], str]  # the description of a rejection, from its ``to``

# Characters of a value a rejection shows whole: every number a list holds, and the start of
# anything else. A longer value (a document in the number column, a binary file read as CSV)
# is shown as its first SHOWN characters and its length, in the report, the spill, the events
# and the journal alike, and so in every description that quotes it.
SHOWN = 64


def shown(value: str) -> str:
    """``value`` as a rejection's ``to`` shows it: whole up to SHOWN characters, else cut.

    >>> shown("+1 415 555 0100"), shown("7" * 100)[60:]
    ('+1 415 555 0100', '7777... (100 characters)')
    """
    if len(value) <= SHOWN:
        return value
    return f"{value[:SHOWN]}... ({len(value):,} characters)"


def quoted(value: str) -> str:
    """``repr(value)`` for a description, cut as ``shown`` cuts it."""
    if len(value) <= SHOWN:
        return repr(value)
    return f"{value[:SHOWN]!r}... ({len(value):,} characters)"


class Rejection(tuple[int, int | None, str | None, str, str | None, str | None, str,
                      Explain | None]):
    """One recipient that was not sent: ``index`` is its 0-based position in the input.

    Immutable, with the fields ``index``, ``line``, ``to``, ``error_code``, ``description``,
    ``batch_id`` and ``source``; ``zone``, the record's --tz-column zone when the reader had
    it (a scheduled send places the recipient by it), rides along outside the fields (not in
    its JSON, equality or pickle). A tuple underneath, so that the reader can make a block's
    rejections in C (``rejected_many``) and leave their descriptions unwritten until they are
    read: a number check's description is ``explain(to)``, worked out again when first asked
    for, so a list of random numbers costs no sentence per bad row that nobody reads.
    """

    __slots__ = ()

    def __new__(cls, index: int, line: int | None, to: str | None, error_code: str,
                description: str, batch_id: str | None = None, source: str = LOCAL,
                zone: str | None = None) -> Rejection:
        fields = (index, line, to, error_code, description, batch_id, source, None)
        return tuple.__new__(cls, fields if zone is None else (*fields, zone))

    @classmethod
    def explained(cls, index: int, line: int | None, to: str, error_code: str,
                  explain: Explain, zone: str | None = None) -> Rejection:
        """A local rejection whose description is ``explain(to)``, written when read; a value
        too long to show whole is cut (``shown``) and described now, from the whole value."""
        if len(to) > SHOWN:
            where = f"line {line}" if line is not None else f"item {index}"
            return cls(index, line, shown(to), error_code,
                       f"{explain(to)} ({where} has {len(to):,} characters where the number "
                       "should be: check that the number column is the right one, and that "
                       "nothing was pasted into it)", zone=zone)
        fields = (index, line, to, error_code, None, None, LOCAL, explain)
        return tuple.__new__(cls, fields if zone is None else (*fields, zone))

    @property
    def zone(self) -> str | None:
        """The record's --tz-column zone, when the reader had one (None: none, or not known)."""
        return self[8] if len(self) > 8 else None

    @property  # the field hides tuple.index, which nothing here calls
    def index(self) -> int:  # type: ignore[override]
        return self[0]

    @property
    def line(self) -> int | None:
        return self[1]

    @property
    def to(self) -> str | None:
        return self[2]

    @property
    def error_code(self) -> str:
        return self[3]

    @property
    def description(self) -> str:
        text, explain, to = self[4], self[7], self[2]
        if text is not None:
            return text
        assert explain is not None
        assert to is not None
        return explain(to)

    @property
    def batch_id(self) -> str | None:
        return self[5]

    @property
    def source(self) -> str:
        return self[6]

    def fields(self) -> tuple[int, int | None, str | None, str, str, str | None, str]:
        """The public fields, in the constructor's order (the description written out)."""
        return (self[0], self[1], self[2], self[3], self.description, self[5], self[6])

    def __eq__(self, other: object) -> bool:
        return type(other) is Rejection and self.fields() == other.fields()

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self.fields())

    def __repr__(self) -> str:
        names = ("index", "line", "to", "error_code", "description", "batch_id", "source")
        shown = ", ".join(f"{n}={v!r}" for n, v in zip(names, self.fields(), strict=True))
        return f"Rejection({shown})"

    def __reduce__(self) -> tuple[type[Rejection], tuple[Any, ...]]:
        return Rejection, self.fields()

    def as_json(self) -> dict[str, Any]:
        return {"index": self[0], "line": self[1], "to": self[2], "errorCode": self[3],
                "description": self.description, "batchId": self[5], "source": self[6]}


def rejected_many(indexes: Iterable[int], lines: Iterable[int | None], tos: Iterable[str],
                  codes: Iterable[str], explain: Explain) -> Iterator[Rejection]:
    """Local rejections made in C, one per (index, line, to, code), each described as
    ``explain(to)`` when read: a block of bad numbers costs no Python call per row here."""
    return map(_make, zip(indexes, lines, tos, codes, repeat(None), repeat(None),
                          repeat(LOCAL), repeat(explain)))


_make = partial(tuple.__new__, Rejection)


def translate(index: PositionIndex, batch_id: str | None,
              rejected: Iterable[Mapping[str, Any]]) -> list[Rejection]:
    """Server rejections of one chunk as input-position rejections.

    Raises BadAnswerError when an entry is malformed, out of range or repeated, so a hostile
    answer can never put a wrong position in the report.
    """
    out: list[Rejection] = []
    seen: set[int] = set()
    for entry in rejected:
        at = entry.get("index") if isinstance(entry, Mapping) else None
        if type(at) is not int or not 1 <= at <= index.count or at in seen:
            raise BadAnswerError(
                f"batch {batch_id}: rejected index {at!r} is not a unique 1-based index into "
                f"the {index.count} messages sent; the chunk's rejections are not trusted. "
                "Check the batch on RingCentral before resending any of it."
            )
        seen.add(at)
        position, line = index.locate(at)
        to = entry.get("to")
        number = to[0] if isinstance(to, list) and to and isinstance(to[0], str) else None
        out.append(Rejection(position, line, number, str(entry.get("errorCode", "")),
                             str(entry.get("description", "")), batch_id, SERVER))
    return out


class Spill(Protocol):
    """Where an Aggregator writes every rejection as it arrives: a file (engine/run/spill.py)
    in a run, a list in memory (``MemorySpill``) for tests and small lists."""

    def add(self, index: int, payload: bytes) -> None:
        """One rejection: its position and its JSON (``Rejection.as_json``) bytes."""

    def add_many(self, indexes: Sequence[int], payloads: list[bytes]) -> None:
        """Rejections at strictly increasing positions, with their JSON: as ``add`` of each,
        in one go."""

    def merged(self) -> Iterator[Entry]:
        """Every rejection added so far as (position, JSON bytes), sorted by position."""
        ...


class NoSpill:
    """No spill: the rejections are counted and the first few kept (``Tally``), the rest
    forgotten. For a view that shows only those (``a2p plan`` without --json)."""

    def add(self, index: int, payload: bytes) -> None:
        raise AssertionError("NoSpill takes no rejection: the Aggregator skips it")

    def add_many(self, indexes: Sequence[int], payloads: list[bytes]) -> None:
        raise AssertionError("NoSpill takes no rejection: the Aggregator skips it")

    def merged(self) -> Iterator[Entry]:
        raise TypeError("this plan kept no rejections on disk; plan with --json to list "
                        "them all")


class MemorySpill:
    """A spill kept in memory: for tests and small lists, never for a whole run's."""

    def __init__(self) -> None:
        self._entries: list[Entry] = []

    def add(self, index: int, payload: bytes) -> None:
        self._entries.append((index, payload))

    def add_many(self, indexes: Sequence[int], payloads: list[bytes]) -> None:
        self._entries.extend(zip(indexes, payloads, strict=True))

    def merged(self) -> Iterator[Entry]:
        return iter(sorted(self._entries, key=itemgetter(0)))


@dataclass
class Aggregator:
    """Counts local and server rejections, keeps the first few (``tally``), and writes every
    one, as it arrives, to its ``spill``: ``merged`` reads them all back by input position."""

    spill: Spill = field(default_factory=MemorySpill)
    tally: Tally = field(default_factory=Tally)
    records: int = 0
    _sent: int = 0  # changed only by the methods below: see ``sent``
    rejected_local: int = 0
    rejected_server: int = 0
    pending: int = 0  # recipients of adopted batches whose store was not complete yet
    suppressed_consent: int = 0  # of the LCL-OPTED-OUT: by a RingCentral consent record

    def _write(self, rejection: Rejection) -> None:
        self.tally.add(rejection)
        if not isinstance(self.spill, NoSpill):  # no description written when none is kept
            self.spill.add(rejection.index, orjson.dumps(rejection.as_json()))

    def add_local(self, rejection: Rejection) -> None:
        self._write(rejection)
        self.rejected_local += 1
        if rejection[3] == OPTED_OUT and rejection[4] is not None and \
                CONSENT_MARK in rejection[4]:
            self.suppressed_consent += 1  # a consent record's, not a file's (written out)

    def add_locals(self, batch: LocalBatch) -> None:
        """A block's local rejections at once (the reader's bulk path): what ``add_local``
        of each would do, in a few C-level passes: counted by code, the few kept for display
        built, and (with a spill) their JSON written in one go."""
        refused = len(batch)
        if not refused:
            return
        self.tally.add_many(batch)
        if not isinstance(self.spill, NoSpill):
            indexes = batch.indexes()
            self.spill.add_many(indexes, batch.payloads(indexes))
        self.rejected_local += refused

    def local_sink(self) -> LocalSink:
        """The sink a reader hands local rejections to: one at a time, or a block at once."""
        from engine.core.localbatch import LocalSink  # it imports this module

        return LocalSink(self.add_local, self.add_locals)

    def add_chunk(self, index: PositionIndex, batch_id: str | None,
                  rejected: Iterable[Mapping[str, Any]]) -> list[Rejection]:
        """Record one chunk's answer; returns its rejections in input terms (in the answer's
        order; they are spilled sorted, so one chunk's make one run)."""
        translated = translate(index, batch_id, rejected)
        self.add_answer(index.count, translated)
        return translated

    def add_answer(self, count: int, translated: list[Rejection]) -> None:
        """A chunk of ``count`` messages accepted with these rejections (``translate``d):
        the sender journals the answer before it is counted here."""
        for rejection in sorted(translated, key=_position):
            self._write(rejection)
        self.rejected_server += len(translated)
        self._sent += count - len(translated)

    def add_known(self, rejection: Rejection) -> None:
        """A server rejection already translated (from a journal)."""
        self._write(rejection)
        self.rejected_server += 1

    def restored(self, sent: int, pending: int = 0) -> None:
        """A chunk a journal shows accepted: ``sent`` recipients, ``pending`` not known yet."""
        self._sent += sent
        self.pending += pending

    def recovered(self, rejections: Iterable[Rejection], pending: int,
                  was_pending: int = 0) -> None:
        """An adopted chunk, counted sent but for the ``was_pending`` recipients, now read
        back from its message store: these rejections, and ``pending`` recipients the store
        still does not list (neither sent nor rejected as far as is known)."""
        taken = sorted(rejections, key=_position)
        for rejection in taken:
            self.add_known(rejection)
        self._sent -= len(taken) + pending - was_pending
        self.pending += pending - was_pending

    @property
    def sent(self) -> int:
        """Recipients proven sent: read-only, since only an answer, a journal or a message
        store (the methods above) may change it."""
        return self._sent

    def merged(self) -> Iterator[Entry]:
        """Every rejection as (position, JSON bytes), by position: streamed from the spill."""
        return self.spill.merged()

    def rejections(self) -> list[Rejection]:
        """Every rejection, by position, parsed back into memory: for tests and small lists;
        a run streams ``merged`` instead."""
        return [rejection_of(orjson.loads(payload)) for _, payload in self.merged()]

    def mostly_rejected(self, records: int) -> str | None:
        """The mostly-rejected warning, from the counts and kept examples alone."""
        return warning_of(records, self.tally.by_code, self.tally.examples)


def suppressed_by_source(aggregator: Aggregator) -> dict[str, int]:
    """The recipients kept from sending as opted out (of ``rejected_local``), by source:
    {"file": N} for the --suppress lists, {"consent": M} for RingCentral's consent records;
    a source that suppressed nobody is left out ({} when none did)."""
    consent = aggregator.suppressed_consent
    file = aggregator.tally.by_code.get(OPTED_OUT, 0) - consent
    return {k: v for k, v in (("file", file), ("consent", consent)) if v}


def _position(rejection: Rejection) -> int:
    return rejection.index


def rejection_of(entry: Mapping[str, Any], source: str | None = None) -> Rejection:
    """A rejection back from its ``as_json`` (a spill's, a report's), or from a journal entry,
    which may leave out its ``source`` (then given here) and ``batchId``."""
    return Rejection(entry["index"], entry["line"], entry["to"], entry["errorCode"],
                     entry["description"], entry.get("batchId"),
                     source if source is not None else entry.get("source", LOCAL))


def mostly_rejected(records: int, rejections: Iterable[Rejection]) -> str | None:
    """A warning when more than half of ``records`` were rejected, naming the commonest reason
    with one example (a wrong column, a list of national numbers, the wrong country...).

    >>> bad = [Rejection(i, i + 2, "x", INVALID_NUMBER, "'x' is not a number") for i in range(3)]
    >>> mostly_rejected(4, bad)[:53]
    '3 of 4 records (75%) were rejected; the commonest rea'
    """
    tally = Tally(keep=0)
    for rejection in rejections:
        tally.add(rejection)
    return warning_of(records, tally.by_code, tally.examples)


def warning_of(records: int, counts: Counter[str], examples: Mapping[str, Rejection]
               ) -> str | None:
    """``mostly_rejected`` from counts by code and each code's lowest-position example."""
    total = sum(counts.values())
    if records <= 0 or total * 2 <= records:
        return None
    code, count = counts.most_common(1)[0]
    first = examples[code]
    where = f"line {first.line}" if first.line is not None else f"record {first.index}"
    return (f"{total:,} of {records:,} records ({total / records:.0%}) were rejected; the "
            f"commonest reason is {code} ({count:,} records), e.g. {where}: "
            f"{first.description}. Check the list (its number column, format and country) "
            "before sending it again.")
