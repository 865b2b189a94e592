"""Resuming a run from its journal: what was settled stays settled, what was in flight is
reconciled, what was never sent is read again from where it begins."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.batching.chunker import Chunk, Chunker
from engine.config.profiles import journal_profile
from engine.config.settings import Settings
from engine.core import lifecycle
from engine.core.holdings import Holdings, Interval, Members
from engine.core.lifecycle import Reason
from engine.core.policy import resendable
from engine.core.positions import Positions
from engine.core.reconcile import Expected
from engine.core.rejections import Aggregator
from engine.errors import JournalError, StreamResumeError
from engine.reading import Block, ReadOptions
from engine.run.events import Resumed
from engine.run.folder import moved, moved_report
from engine.run.inputs import input_identity
from engine.run.journal import (
    JournalState,
    local_rejections,
    read_header,
    server_rejections,
)
from engine.run.membership import known, members_by_chunk, members_of
from engine.run.options import SendOptions
from engine.run.report import ChunkRecord
from engine.run.suppresskept import reloaded

if TYPE_CHECKING:
    from engine.run.sources import Recipients  # sources reads through resume plans

IN_FLIGHT = (lifecycle.SUBMITTING, lifecycle.AMBIGUOUS)


def reason_of(entry: dict[str, Any]) -> Reason | None:
    try:
        return Reason(entry.get("reason"))
    except ValueError:
        return None


def retryable(entry: dict[str, Any]) -> bool:
    """A failed chunk certainly not sent (the retry policy says which): a resume sends it."""
    error = entry.get("error") or {}
    return resendable(error.get("status"), error.get("errorCode"),
                      reason_of(entry) is Reason.PROVED_ABSENT)


def undecided(entry: dict[str, Any]) -> bool:
    """Left unknown because reconciliation failed, or because its answer could not be read
    (its batch was never looked for): look for it again."""
    return reason_of(entry) in (Reason.NOT_RECONCILED, Reason.UNREADABLE)


def recovers(entry: Mapping[str, Any]) -> bool:
    """Whether a resume recovers this chunk (looks for its batch, and sends it again once
    proved not created): in flight at the stop, or unknown and undecided."""
    status = entry.get("status")
    return status in IN_FLIGHT or (status == lifecycle.UNKNOWN and undecided(dict(entry)))


def check_matches(state: JournalState, source: str, sender: str, text: str | None,
                  template: str | None) -> bool:
    """Refuse to resume a journal of another list, sender or text: never guess. True when
    the list's modification time is not the one journaled (a copy, a moved campaign folder):
    its size and head are the run's, and the resume must then read it whole so that every
    chunk it skips is checked by content (InputCheck), never by a file's time."""
    header = state.header
    for key, given in (("sender", sender), ("text", text), ("template", template)):
        if header.get(key) != given:
            raise JournalError(f"the journal was written for {key} {header.get(key)!r}, not "
                               f"{given!r}. Resume with the same {key}. A new run (without "
                               "--resume) would text again everyone this run already sent to; "
                               "to send the rest another way, " + (
                                   "first end this scheduled run (a2p send --resume JOURNAL "
                                   "--expire-at now) and remove the cron line or CronJob "
                                   "that resumes it, then " if header.get("schedule") else "")
                               + "take the rows 'a2p outcomes' lists as not sent.")
    recorded = header.get("input", {})
    if recorded.get("kind") == "file":
        current = {"kind": "stream"} if source == "-" else input_identity(source)
        if current.get("kind") != "file":
            raise JournalError(f"the run read the file {recorded.get('path')}, not a stream. "
                               "Resume it without an input (--resume alone): the file is "
                               "read again from the journal, or from beside the journal; "
                               "if it moved elsewhere, name it with --input PATH.")
        touched = current.get("mtimeNs") != recorded.get("mtimeNs")
        # a journal without chunk digests can check no content: its time must match too
        keys = ("size", "head") if all("digest" in c for c in state.chunks.values()) else \
            ("size", "mtimeNs", "head")
        for key in keys:
            if current.get(key) != recorded.get(key):
                raise JournalError(
                    f"{source} changed since the journal was written ({key} "
                    f"{recorded.get(key)!r} -> {current.get(key)!r}). Resume needs the very "
                    "same file: put the original back. A new run (without --resume) of the "
                    "changed list would text again everyone this run already sent to; send "
                    "only the rows 'a2p outcomes' lists as not sent, or a list of new "
                    "recipients alone.")
        return bool(touched)
    return False


@dataclass
class ResumePlan:
    """What resuming has to do."""

    records: dict[int, ChunkRecord]
    in_flight: list[dict[str, Any]]
    holdings: Holdings  # what the chunks kept hold: a resumed run reads none of it again
    read_from: dict[str, Any] | None
    next_number: int
    max_bytes: int | None
    known_local: AbstractSet[int] = frozenset()  # positions the journal rejected locally
    origins: dict[int, tuple[int | None, int | None]] = field(default_factory=dict)
    superseded: list[int] = field(default_factory=list)  # chunks this resume cuts again
    digests: dict[int, str] = field(default_factory=dict)  # of the chunks kept, when journaled
    journal: str = "the journal"
    # what each chunk journaled it holds (a journal before gaps: unknown, left out)
    members: dict[int, Members] = field(default_factory=dict)

    @property
    def skip(self) -> list[Interval]:
        """The positions the chunks kept hold, as merged ranges: one a run of positions, so
        for tests and small journals only (readers ask ``holdings``)."""
        return self.holdings.ranges()


def restore(state: JournalState, aggregator: Aggregator) -> ResumePlan:
    """Rebuild the records and rejections the journal holds, and plan what is left.

    What is skipped is what each chunk kept really holds (``Holdings``): its range less its
    gaps, or the positions of its bitmap (a chunk cut by a resume can span chunks it
    skipped, a scheduled round's chunk every recipient its round left out)."""
    records, in_flight, kept, planned = {}, [], [], []
    superseded = []
    max_bytes = None
    members = members_by_chunk(state.chunks.values(), lambda e: retryable(dict(e)))
    for number, entry in sorted(state.chunks.items()):
        current = entry.get("status")
        if entry.get("maxBatchBytes"):
            max_bytes = entry["maxBatchBytes"]
        if current == lifecycle.SUPERSEDED:
            planned.append(entry)  # an earlier resume re-cut it: its records may still wait
            continue
        if current == lifecycle.PLANNED or (current == lifecycle.FAILED and retryable(entry)):
            planned.append(entry)
            superseded.append(number)  # never sent: this run cuts its records again
            continue
        record = ChunkRecord.from_json(entry)
        if current == lifecycle.UNKNOWN and undecided(entry):
            record.reopen()  # reconciliation failed last time: it looks again
            current = record.state
        if current == lifecycle.COMPLETED and reason_of(entry) is Reason.PENDING:
            record.reopen()  # its message store was not complete: it is read again
            current = record.state
        records[number] = record
        if current == lifecycle.SPLIT:
            # its halves hold its records; one that none holds (a journal written before
            # halves rode on the split's line, killed between the two) is read again
            planned.append(entry)
        else:
            kept.append((number, members.get(number, Members(record.first, record.last))))
        if current in IN_FLIGHT:
            in_flight.append(entry)
        if current in (lifecycle.ACCEPTED, lifecycle.COMPLETED):
            pending = record.pending or 0
            aggregator.restored(record.count - state.rejected_server(number) - pending,
                                pending)
    # both read again from the file, one at a time, in position order: none held here
    for rejection in server_rejections(state, records.keys()):
        aggregator.add_known(rejection)
    for rejection in local_rejections(state):
        aggregator.add_local(rejection)
    origins = {n: (e.get("offset"), e.get("line")) for n, e in state.chunks.items()}
    holdings = Holdings(kept)
    digests = {n: state.chunks[n]["digest"] for n in records if state.chunks[n].get("digest")}
    return ResumePlan(records, in_flight, holdings, _read_from(state, planned, holdings,
                                                               members),
                      max(state.chunks, default=0), max_bytes, state.local, origins,
                      superseded, digests,
                      str(state.path) if state.path is not None else "the journal",
                      {n: members[n] for n in records if known(state.chunks[n])})


def merged(ranges: Iterable[Interval]) -> list[Interval]:
    """The ranges, sorted, overlapping ones merged: disjoint, covering the same positions."""
    out: list[Interval] = []
    for a, b in sorted(ranges):
        if out and a <= out[-1][1]:
            if b > out[-1][1]:
                out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _read_from(state: JournalState, planned: list[dict[str, Any]], holdings: Holdings,
               members: Mapping[int, Members]) -> dict[str, Any] | None:
    """The chunk entry whose offset the remaining input is read from; None: from the start.
    Only a chunk never sent (or split) with a record no kept chunk holds counts: a
    superseded chunk whose records were all cut again and sent is not read again. A chunk
    without an offset (a split's second half) is read from the chunk with one that begins
    nearest before it (what is read that others hold is skipped)."""
    waiting = [e for e in planned
               if _waits(members.get(e["chunk"], Members(e["firstIndex"], e["lastIndex"])),
                         holdings, state.local)]
    placed = [e for e in state.chunks.values() if e.get("offset") is not None]
    if waiting:
        first = min(waiting, key=lambda e: e["firstIndex"])["firstIndex"]
        before = [e for e in placed if e["firstIndex"] <= first]
        return max(before, key=lambda e: e["firstIndex"]) if before else None
    return max(placed, key=lambda e: e["firstIndex"]) if placed else None


def _waits(held: Members, holdings: Holdings, local: Positions) -> bool:
    """Whether a record the chunk held (a position neither held by a kept chunk nor
    rejected locally) waits to be sent. Stops at the first."""
    for a, b in held.runs():
        at = holdings.next_free(a, b)
        while at is not None:
            if local.first_missing(at, at) is not None:  # a record not rejected locally
                return True
            at = holdings.next_free(at + 1, b) if at < b else None
    return False


def covered(holdings: Holdings, position: int) -> bool:
    """Whether a chunk kept holds ``position``."""
    return holdings.covers(position)


def without(blocks: Iterable[Block], holdings: Holdings) -> Iterator[Block]:
    """The records of ``blocks`` whose positions no chunk kept holds."""
    for block in blocks:
        positions = block.positions
        if not positions or positions[0] > holdings.top:
            yield block  # past every chunk kept: a resume reading on from the last one
            continue
        if holdings.covers_all(positions[0], positions[-1]):
            continue  # inside what chunks kept hold whole: a resume reading a sent part again
        keep = [k for k, p in enumerate(positions) if not holdings.covers(p)]
        if len(keep) == len(block):
            yield block
        elif keep:
            yield block.subset(keep)


def within(blocks: Iterable[Block], first: int, last: int) -> Iterator[Block]:
    """The records of ``blocks`` from position ``first`` to ``last``, then stop."""
    for block in blocks:
        keep = [k for k, p in enumerate(block.positions) if first <= p <= last]
        if keep:
            yield block.subset(keep)
        if block.positions and block.positions[-1] >= last:
            return


def others(records: Mapping[int, ChunkRecord], entry: dict[str, Any]) -> Members:
    """The positions a chunk held: its journaled gaps or bitmap (``members_of``), or else
    its range less the ranges of every other chunk holding its own recipients (a resumed
    chunk may span chunks already settled, whose records the reader skipped when it was
    cut)."""
    if known(entry):
        return members_of(entry)
    return Members.of_gaps(entry["firstIndex"], entry["lastIndex"], merged(
        (r.first, r.last) for n, r in records.items()
        if n != entry["chunk"] and r.state != lifecycle.SPLIT))


def rebuild_chunk(blocks: Iterable[Block], entry: dict[str, Any], sender: str,
                  text: str | None, held: Members | None = None) -> Chunk:
    """The chunk an in-flight journal entry describes, from the input read again: the
    records at the positions it ``held`` (None: its whole range)."""
    chunker = Chunker(sender, text, 1 << 40)
    for block in _held(within(blocks, entry["firstIndex"], entry["lastIndex"]), held):
        for _ in chunker.feed(block):
            pass
    chunk = chunker.finish()
    count = entry["messages"]
    if chunk is None or chunk.count != count:
        raise JournalError(f"chunk {entry['chunk']} held {count} recipients and the input "
                           "now gives a different set; the input changed. Check the batches "
                           "on RingCentral before sending again.")
    return Chunk(entry["chunk"], chunk.body, chunk.size, chunk.index, entry.get("offset"),
                 chunk.digest)


def _held(blocks: Iterable[Block], held: Members | None) -> Iterator[Block]:
    for block in blocks:
        keep = [k for k, p in enumerate(block.positions) if held is None or held.holds(p)]
        if len(keep) == len(block):
            yield block
        elif keep:
            yield block.subset(keep)


def check_rebuilt(number: int, rebuilt: Expected, sent: Expected) -> None:
    """The chunk read again holds the very recipients and texts sent before, not only as many:
    a resend of another set would text people twice and skip others."""
    if rebuilt != sent:
        raise JournalError(f"chunk {number}: the input now gives other recipients or texts "
                           "than the request sent before; the input changed. Check the "
                           "batches on RingCentral before sending again.")


def unsettled(records: Iterable[ChunkRecord], journal: str) -> str | None:
    """What a run that does not read message stores (--wait accepted) leaves pending: the
    recipients of adopted batches not settled. Said, not left to the totals, since a resume
    with --wait accepted does not settle them either."""
    held = [r for r in records if r.state == lifecycle.ACCEPTED and r.pending]
    if not held:
        return None
    count = sum(r.pending or 0 for r in held)
    where = journal or "JOURNAL"
    return (f"{count:,} recipients of {len(held)} adopted batch"
            f"{'es' if len(held) != 1 else ''} stay pending: with --wait accepted their "
            "message stores are not read, so they are counted neither sent nor rejected. "
            f"Settle them with 'a2p send --resume {where}' (without --wait accepted), or read "
            f"their fate with 'a2p outcomes {where}'.")




# what a resumed run takes from its journal's header -----------------------------------


def journal_limits(settings: Settings, options: SendOptions, header: dict[str, Any],
                    chunker: Chunker) -> Settings:
    """A resumed run keeps the journal's byte and message limits unless given its own (the
    smaller of the journal's and the profile's, as a 413 would have left them); returns the
    settings as the report should state them."""
    limits = settings.limits
    if not options.max_batch_bytes and header.get("maxBatchBytes"):
        limits = replace(limits, max_batch_bytes=min(limits.max_batch_bytes,
                                                     header["maxBatchBytes"]))
        chunker.lower_limit(limits.max_batch_bytes)
    if not options.max_batch_messages and header.get("maxBatchMessages"):
        cap = min(limits.max_batch_messages or header["maxBatchMessages"],
                  header["maxBatchMessages"])
        limits = replace(limits, max_batch_messages=cap)
        chunker.max_messages = min(chunker.max_messages, cap)
    return replace(settings, limits=limits)


def resume_options(path: Path, options: SendOptions, recipients: Recipients | None
                  ) -> tuple[Recipients, SendOptions]:
    """What ``send(resume=path)`` needs from the journal's header: the input (unless given:
    a stream is given again), sender, text, template, reading options, profile and report
    path. Values given as well are checked later."""
    header = read_header(path)
    source = header.get("input", {})
    if recipients is None:
        if source.get("kind") != "file":
            raise StreamResumeError(
                f"{path}: the run read a stream (stdin or an iterable), which the journal "
                "cannot give again. Pass the same input with resume=.")
        recipients = moved(source["path"], path)
    read = options.read or ReadOptions.from_header(header.get("read", {}))
    read = replace(read, batch_text=header.get("text"), template=header.get("template"))
    # the suppression lists as the run read them (its copy): a suppressed number stays unsent
    read = reloaded(header.get("read", {}), read, path)
    return recipients, replace(
        options, sender=options.sender or header["sender"],
        text=options.text or header.get("text"),
        template=options.template or header.get("template"), read=read,
        config=options.config or journal_profile(header),
        report=options.report if options.report is not None else
        moved_report(header.get("report"), path))


def history_start(header: dict[str, Any]) -> float | None:
    """Where a resumed run looks for lost batches: an hour before the run began (our clock
    then, so an hour also covers a server clock that is off)."""
    try:
        return datetime.fromisoformat(header["startedAt"]).timestamp() - 3600.0
    except (KeyError, TypeError, ValueError):
        return None


def before(plan: ResumePlan, aggregator: Aggregator) -> Resumed:
    """What the runs before a resume did (its ``resumed`` event), from the restored records
    and counts: the records its chunks hold (this run does not read them again) and its
    local rejections are the records read so far."""
    states = [record.state for record in plan.records.values()]
    held = sum(record.count for record in plan.records.values()
               if record.state != lifecycle.SPLIT)
    return Resumed(
        read=held + aggregator.rejected_local, sent=aggregator.sent,
        rejected_local=aggregator.rejected_local, rejected_server=aggregator.rejected_server,
        accepted_chunks=sum(s in (lifecycle.ACCEPTED, lifecycle.COMPLETED) for s in states),
        completed_chunks=states.count(lifecycle.COMPLETED),
        failed_chunks=states.count(lifecycle.FAILED),
        unknown_chunks=states.count(lifecycle.UNKNOWN))
