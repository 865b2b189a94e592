"""What a resumed run checks against and takes from its journal's header: the very list,
sender and text (``check_matches``), the input, reading options, profile and report path
(``resume_options``), the byte and message limits (``journal_limits``) and where to look for
lost batches (``history_start``). The plan of what is settled, in flight or left is
engine/run/resume.py's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.batching.chunker import Chunker
from engine.config.profiles import journal_profile
from engine.config.settings import Settings
from engine.errors import JournalError, StreamResumeError
from engine.reading import ReadOptions
from engine.run.folder import moved, moved_report
from engine.run.inputs import input_identity
from engine.run.journal import JournalState, read_header
from engine.run.options import SendOptions
from engine.run.suppresskept import reloaded

if TYPE_CHECKING:
    from engine.run.sources import Recipients  # sources reads through resume plans

__all__ = ["check_matches", "history_start", "journal_limits", "resume_options"]


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
