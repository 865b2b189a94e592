"""``a2p send``: the run in a terminal. Ctrl-C and SIGTERM stop it cleanly, a progress line
moves on stderr, events go to stdout, and engine.send runs with the options the arguments
ask for. Where the report and journal go, and how to finish an interrupted run."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.cli.exits import EXIT_INTERRUPTED, EXIT_WAITING
from engine.cli.options import send_options
from engine.cli.output import EventLines, say
from engine.cli.summary import finish
from engine.errors import JournalBusyError, JournalTakenError, UsageError

if TYPE_CHECKING:
    import anyio

    from engine.cli.progress import Progress
    from engine.run.options import OnEvent, SendOptions


async def run(args: argparse.Namespace) -> int:
    """Send INPUT (or finish the run --resume names) and return the exit code."""
    import anyio

    from engine.cli.progress import Progress
    from engine.run.api import send

    _moved_input(args)
    if not args.resume and (args.input is None or args.sender is None):
        raise UsageError("send needs INPUT and --from (or --resume JOURNAL alone to continue "
                         "a run). See a2p send --help.")
    header = _journal_header(args)
    _same_suppression(args, header)
    if args.no_consent:
        print("a2p: WARNING: --no-consent: RingCentral's opt-out records are not read, so a "
              "recipient who opted out is POSTed unless a --suppress file lists them "
              "(RingCentral then fails the message with SMS-RC-413)", file=sys.stderr)
    report_path, journal = _paths(args, header)
    progress = Progress(sys.stderr)
    events = EventLines()
    stop = anyio.Event()
    report: Mapping[str, Any] | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(_watch_signals, stop, group.cancel_scope)
        group.start_soon(_redraw, None if args.quiet else progress, events)
        options = _with_hooks(send_options(args, report_path, journal), args, progress,
                              events, stop)
        try:
            report = await send(args.input, options)
        except JournalBusyError as exc:
            if not _try_later(args, exc):
                raise
            group.cancel_scope.cancel()
            return EXIT_WAITING
        group.cancel_scope.cancel()
    if report is None:  # the second Ctrl-C: no report, the journal has every step
        say("a2p: interrupted at once; no report was written. " + _resume_hint(args, journal))
        return EXIT_INTERRUPTED
    schedule = report.get("schedule") or {}
    if schedule.get("state") == "waiting" and schedule.get("waitingFor") != "due" and \
            (args.exit_when_waiting or stop.is_set()):  # recipients left for later rounds
        return _waiting(report, report_path, journal, stopped=stop.is_set())
    if schedule.get("state") in ("done", "expired"):
        _ended(schedule, journal)
    return finish(report, report_path, args.quiet, _resume_hint(args, journal))


def _moved_input(args: argparse.Namespace) -> None:
    """``--input PATH`` (a resume's list where it is now) as the INPUT a resume reads again;
    refused without --resume, or beside another INPUT."""
    moved = getattr(args, "moved_input", None)
    if moved is None:
        return
    if not args.resume:
        raise UsageError("--input names where a resumed run's list is now (its folder "
                         "moved); a new run takes its list as INPUT: a2p send LIST --from ...")
    if args.input is not None and args.input != moved:
        raise UsageError(f"--input {moved} and INPUT {args.input}: give the list once, "
                         f"e.g. a2p send --resume {shlex.quote(args.resume)} --input {moved}")
    args.input = moved


def _ended(schedule: Mapping[str, Any], journal: str) -> None:
    """A scheduled run that has ended (``schedule.state`` done or expired): a resume has
    nothing more to send, so its scheduler should stop resuming it. Said even with -q: the
    cron log is where the operator looks."""
    left = schedule.get("remaining") or 0
    why = "" if not left else \
        f", {left:,} not sent ({'expired' if schedule['state'] == 'expired' else 'no window'})"
    say(f"a2p: the scheduled run in {journal} has ended (schedule.state "
        f"{schedule['state']}{why}): remove the cron line or CronJob that resumes it.")


def _try_later(args: argparse.Namespace, exc: JournalBusyError) -> bool:
    """A journal another process holds, as "try again later" (exit 75, EX_TEMPFAIL): for a
    cron tick (--exit-when-waiting; the run it would continue is going on), and for a
    scheduled run that woke to find a cron tick continuing it. Said on stderr; False: a
    usage error (exit 2), as for any other command."""
    if not isinstance(exc, JournalTakenError) and not args.exit_when_waiting:
        return False
    say(f"a2p: {exc}" if isinstance(exc, JournalTakenError) else
        f"a2p: {exc} (--exit-when-waiting: exit 75, try again later)")
    return True


def _waiting(report: Mapping[str, Any], path: str, journal: str, stopped: bool) -> int:
    """A scheduled send that ended while it waits for its next round: stopped (Ctrl-C), or
    --exit-when-waiting (EX_TEMPFAIL). Either way the journal is kept for --resume."""
    schedule = report["schedule"]
    again = shlex.join(["a2p", "send", "--resume", journal])
    say(f"a2p: {'interrupted' if stopped else 'waiting'}: {report['totals']['sent']:,} sent, "
        f"{schedule['remaining']:,} left for later rounds (next: {schedule['nextRound']}, "
        f"{schedule['waitingFor']}); report: {path}. Continue with: {again}"
        + ("" if stopped else " --exit-when-waiting (from cron: an overlapping run exits "
           "at once)"))
    return EXIT_INTERRUPTED if stopped else EXIT_WAITING


def _with_hooks(options: SendOptions, args: argparse.Namespace, progress: Progress,
                events: EventLines, stop: anyio.Event) -> SendOptions:
    """The terminal's part of the options: events, progress and the stop."""
    return replace(options, on_event=_emitter(args.quiet, progress, events), stop=stop,
                   on_read=progress.reading, on_wait=None if args.quiet else progress.waiting)


def _emitter(quiet: bool, progress: Progress, events: EventLines) -> OnEvent:
    """Each event: a JSON line on stdout, the progress line, and warnings on stderr."""

    async def emit(event: dict[str, Any]) -> None:
        events.write(event)
        if not quiet:
            progress.see(event)
        if event["event"] == "warning":  # loud even with -q: it may mean a wasted campaign
            say(f"a2p: WARNING: {event['message']}")

    return emit


async def _watch_signals(stop: anyio.Event, scope: anyio.CancelScope) -> None:
    """First Ctrl-C (or SIGTERM): stop sending, let requests on the wire finish. Second: end
    at once; the journal, written before every step, still resumes."""
    from engine.run.stopsignals import stop_signals

    with stop_signals() as signals:  # Ctrl-Break too on Windows
        async for _ in signals:
            if stop.is_set():
                say("a2p: second interrupt: ending now.")
                scope.cancel()
                return
            say("a2p: stopping: no new batches; letting requests on the wire finish "
                "(Ctrl-C again to end at once)...")
            stop.set()


async def _redraw(progress: Progress | None, events: EventLines) -> None:
    """The progress line moves while the run waits (rate budget, OAuth, tracking), and the
    rejected events written last reach stdout even when no other event follows."""
    import anyio

    while True:
        await anyio.sleep(events.FLUSH_EVERY)
        events.flush()
        if progress is not None:
            progress.tick()


def _journal_header(args: argparse.Namespace) -> dict[str, Any]:
    """The header of the journal --resume names (empty without --resume); a stream the run
    read must be given again, and the refusal says how."""
    if not args.resume:
        return {}
    from engine.run.journal import read_header

    header = read_header(Path(args.resume))
    if args.input is None and (header.get("input") or {}).get("kind") != "file":
        raise UsageError(f"{args.resume}: the run read its list from stdin (a stream), "
                         "which the journal cannot read again. Pipe the same list in: "
                         f"cat LIST | a2p send - --resume {shlex.quote(args.resume)}")
    return header


def _paths(args: argparse.Namespace, header: dict[str, Any]) -> tuple[str, str]:
    """(report, journal): a resumed run writes its report where the run's report went (the
    journal records it); a journal from before that, next to the journal."""
    if args.resume:
        if args.report is None and header.get("report"):
            from engine.run.folder import moved_report  # its folder moved: beside the journal

            return str(moved_report(header["report"], Path(args.resume))), args.resume
        default = args.resume.removesuffix(".journal")
        report = args.report or (default if default != args.resume else default + ".json")
        return report, args.resume
    report = args.report or f"a2p-report-{datetime.now():%Y%m%d-%H%M%S}.json"
    return report, args.journal or report + ".journal"


def _same_suppression(args: argparse.Namespace, header: dict[str, Any]) -> None:
    """A resume reads the run's suppression lists from its journal; --suppress given again
    (the resume hint repeats the command) must name the same files."""
    if not args.resume or not args.suppress:
        return
    recorded = [entry.get("absolute") for entry in header.get("read", {}).get("suppress", [])]
    if [os.path.abspath(path) for path in args.suppress] != recorded:
        raise UsageError(f"--resume {args.resume}: the run's suppression lists are "
                         f"{', '.join(map(str, recorded)) or 'none'}; a resume judges by the "
                         "run's copy of them beside its journal (and applies what they gained "
                         "since). Drop --suppress, or give the same files.")


def _resume_hint(args: argparse.Namespace, journal: str) -> str:
    """The command that finishes an interrupted run: the same one, with --resume."""
    if not Path(journal).exists():
        return "Nothing was sent: run the same command again."
    words = list(args.argv)
    for option in ("--report", "--journal", "--resume"):
        while option in words:
            at = words.index(option)
            del words[at:at + 2]
    words = [w for w in words if not w.startswith(("--report=", "--journal=", "--resume="))]
    return "To finish the run: " + shlex.join(["a2p", *words, "--resume", journal])
