"""A scheduled send's rounds without the work that is not needed (issue 22, cron-friendly):

- the recipients left, counted by window key by a pass over the input, are remembered beside
  the journal (``<journal>.left``) with the journal file as it stood (device, inode, size,
  modification time): while the journal has not changed, nothing was sent or settled, so the
  count holds, and the survey before the next round (in this process, or a cron tick's)
  needs no pass over the input. Which keys are open, the cap day and --at/--expire-at are
  decided again at each instant from it;
- a round with nothing due and no chunk of the journal to recover (a cron tick at night, or
  any tick after the run is done or expired) is not run: no login, no read of the opt-outs
  or of the input. Its report is written again from the journal (the records and rejections
  a resume restores), with the schedule as it stands, and the loop goes on to the wait, or
  ends.

Anything unexpected (the side file missing, unreadable, another journal's, written for
another schedule) falls back to the pass: the side file only ever saves work.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar, cast

import orjson

from engine.batching.chunker import Chunker
from engine.config.settings import Settings
from engine.core import lifecycle
from engine.core.lifecycle import Reason
from engine.core.rejections import Aggregator
from engine.run.journal import JournalState, read_journal
from engine.run.options import SendOptions
from engine.run.prepare import settings_of
from engine.run.replacing import replace_file
from engine.run.report import Finished, finish, stamp
from engine.run.resume import (
    check_matches,
    journal_limits,
    reason_of,
    recovers,
    restore,
    resume_options,
)
from engine.run.spill import open_spill
from engine.schedule.windows import WindowKey

SUFFIX = ".left"
T = TypeVar("T")


def left_path(journal: Path) -> Path:
    return Path(f"{os.fspath(journal)}{SUFFIX}")


def _mark(journal: Path) -> list[int] | None:
    """The journal file as it stands; None when it cannot be read."""
    try:
        st = os.stat(journal)
    except OSError:
        return None
    return [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns]


Left = tuple[dict[WindowKey, int], dict[str, int]]  # by window key, by zone source


def remembered(journal: Path, basis: dict[str, Any]) -> Left | None:
    """The counts left as the last survey found them, if the journal has not changed since
    and they were counted on the same ``basis`` (input, schedule); None: count again."""
    mark = _mark(journal)
    try:
        data = orjson.loads(left_path(journal).read_bytes())
        if mark is None or data.get("journal") != mark or data.get("basis") != _json(basis):
            return None
        return ({WindowKey.from_json(item["key"]): int(item["count"])
                 for item in data["counts"]},
                {str(k): int(n) for k, n in data["sources"].items()})
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError,
            AttributeError):
        return None


def remember(journal: Path, basis: dict[str, Any], counts: Callable[[], Left]) -> Left:
    """``counts()``, kept beside the journal as it stood before they were counted (written
    whole, then renamed; best effort)."""
    mark = _mark(journal)
    counted = counts()
    if mark is not None:
        _keep(journal, mark, basis, counted)
    return counted


def _keep(journal: Path, mark: list[int], basis: dict[str, Any], left: Left) -> None:
    counts, sources = left
    side = left_path(journal)
    temporary = side.with_name(f"{side.name}.{os.getpid()}")
    data = {"journal": mark, "basis": _json(basis),
            "counts": [{"key": k.as_json(), "count": n} for k, n in sorted(counts.items())],
            "sources": sources}
    try:
        temporary.write_bytes(orjson.dumps(data))
        replace_file(temporary, side, tries=1)  # best effort: the next survey counts again
    except OSError:  # a read-only folder: the next survey counts again
        with contextlib.suppress(OSError):
            temporary.unlink()


def _json(value: dict[str, Any]) -> Any:
    """``value`` as it reads back from JSON (tuples as lists), to compare with what was."""
    return orjson.loads(orjson.dumps(value))


class SentMemo:
    """The chunks of the journal that may have been sent (``sent_chunks``: the cap ledger's
    and the carrier halt's), as last read, kept while the journal is unchanged: the survey
    before a round reads them from the survey after the round before."""

    def __init__(self) -> None:
        self._mark: list[int] | None = None
        self._sent: Any = None

    def get(self, journal: Path, read: Callable[[Path], T]) -> T:
        mark = _mark(journal)
        if mark is None or mark != self._mark:
            self._sent, self._mark = read(journal), mark
        return cast(T, self._sent)


def settled(state: JournalState, wait: str) -> bool:
    """Whether no chunk of the journal waits for a run's work: none in flight, none adopted
    and still to track (unless the run waits for acceptance only), none unknown to look for
    again, none completed with its message store still to read."""
    for entry in state.chunks.values():
        status = entry.get("status")
        if recovers(entry) or (status == lifecycle.ACCEPTED and wait != "accepted") or \
                (status == lifecycle.COMPLETED and reason_of(entry) is Reason.PENDING):
            return False
    return True


def idle_report(journal: Path, options: SendOptions, schedule: dict[str, Any],
                listed: Any = None) -> Finished | None:
    """The report of a round not run (nothing due, nothing to recover), written from the
    journal with ``schedule`` (``report_of``); None when the journal has a chunk to recover
    (the round runs then)."""
    state = read_journal(journal)
    if not settled(state, options.wait):
        return None
    recipients, options = resume_options(journal, options, listed)  # listed: it moved
    assert options.sender is not None  # the journal's header holds it
    read = options.read
    # the list as the run read it (its size, time and head, not a pass): else say so now
    check_matches(state, str(recipients), options.sender, options.text,
                  read.template if read is not None else options.template)
    header = state.header
    settings = settings_of(options)
    chunker = Chunker(options.sender, options.text, settings.limits.max_batch_bytes,
                      settings.limits.max_batch_messages)
    settings = journal_limits(settings, options, header, chunker)
    with open_spill(journal, options.report) as spill:
        aggregator = Aggregator(spill)
        plan = restore(state, aggregator)
        return finish(
            run_id=str(header["runId"]), profile=settings.profile, source=str(recipients),
            settings=report_settings(options, settings, chunker.max_bytes),
            started=str(header.get("startedAt")), records=list(plan.records.values()),
            aggregator=aggregator, wait=options.wait, interrupted=False, requests=0,
            throttled=0, preflight=None, warnings=[], path=options.report,
            finished=stamp(options.wall()), consent=None, schedule=schedule)


def report_settings(options: SendOptions, settings: Settings, final_max_bytes: int
                    ) -> dict[str, Any]:
    """The report's ``settings``: what the run ran with."""
    return {"server": settings.server_url, "from": options.sender, "text": options.text,
            "template": options.template, "concurrency": settings.concurrency,
            "maxBatchBytes": settings.limits.max_batch_bytes,
            "finalMaxBatchBytes": final_max_bytes, "wait": options.wait,
            "onAmbiguous": options.on_ambiguous, "limits": asdict(settings.limits)}
