"""``a2p outcomes``: every recipient's fate from the message store, one row per input
record, written to a file that an interrupted export goes on with."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from engine.cli.exits import EXIT_OK

if TYPE_CHECKING:
    from engine.results.export import Export


async def run(args: argparse.Namespace) -> int:
    """Export the rows of the run JOURNAL describes; return the exit code."""
    from engine.results.export import Export
    from engine.results.output import format_for

    only = tuple(name for given in args.only for name in given.split(",") if name)
    tell = _teller(args.quiet)
    async with Export(args.journal, input=args.input, only=only, config=args.profile,
                      on_progress=_progress_printer(tell)) as export:
        fmt = format_for(args.out or "", args.format)
        path = args.out or _default_outcomes_path(args.journal, fmt)
        await _write(export, path, fmt, _export_key(args.journal, only, fmt), tell)
    _print_totals(export, path, tell)
    return EXIT_OK


Tell = Callable[[str], None]


def _teller(quiet: bool) -> Tell:
    """A line for the person at the terminal, on stderr; nothing at all under -q (errors
    come out as exceptions, through a2p's one error handler)."""

    def tell(line: str) -> None:
        if not quiet:
            print(line, file=sys.stderr, flush=True)

    return tell


def _progress_printer(tell: Tell) -> Callable[[dict[str, Any]], None]:
    """The export's progress on stderr: every finished batch, else at most once a second."""
    shown = [0.0]

    def show(event: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - shown[0] >= 1.0 or event["event"] == "batch":
            shown[0] = now
            tell(f"a2p outcomes: batch {event.get('chunk')}: {event['rows']:,} rows, "
                 f"{event['pages']:,} pages, {event['requests']:,} requests")

    return show


async def _write(export: Export, path: str, fmt: str, key: dict[str, Any], tell: Tell
                 ) -> None:
    """Every row into ``path``, going on where an interrupted export with ``key`` stopped."""
    from engine.results.output import OutputFile

    out = OutputFile(path, fmt, export.extra_columns, key, stdout=sys.stdout.buffer)
    try:
        start = out.open()
        if start is not None:
            export.checkpoint = start
            within = f", record {start.position:,}" if start.token is not None else ""
            tell(f"a2p outcomes: resuming {path} at batch {start.span + 1} of "
                 f"{len(export.spans)}{within}")
        _print_estimate(export, tell)
        export.on_checkpoint = out.checkpoint
        async for row in export.rows(start):
            out.write(row)
        out.finish()
    finally:
        out.close()


def _print_totals(export: Export, path: str, tell: Tell | None = None) -> None:
    tell = tell or _teller(False)
    import orjson

    totals = export.totals.as_json()
    written = ""
    if export.only is not None:  # the rows it wrote, beside the run's totals
        written = f", {export.selected.rows:,} of them written (--only)"
    tell(f"a2p outcomes: {totals['rows']:,} rows{written}; {export.pages:,} pages in "
         f"{export.client.requests:,} requests; wrote {path}")
    tell("a2p outcomes: totals " + orjson.dumps(totals).decode())
    if export.only is not None:
        tell("a2p outcomes: selected " + orjson.dumps(export.selected.as_json()).decode())
    if export.unmatched:
        tell(f"a2p outcomes: {export.unmatched:,} message-store records matched no input "
             "record (another list, or the input changed)")
    if totals.get("pending"):  # the rows say "pending" too, with -q or without
        tell(f"a2p outcomes: {totals['pending']:,} rows pending: adopted after a lost answer, "
             "their batch's message store does not list the whole batch yet, so they may "
             "have been texted (not retryable). Run the same command again later to settle "
             "them.")


def _export_key(journal: str, only: tuple[str, ...], fmt: str) -> dict[str, Any]:
    """What an interrupted export must share with this one to be continued by it."""
    return {"journal": os.path.abspath(journal), "only": sorted(only), "format": fmt}


def _default_outcomes_path(journal: str, fmt: str) -> str:
    base = journal.removesuffix(".journal").removesuffix(".json")
    return f"{base}.outcomes.{fmt}"


def _print_estimate(export: Export, tell: Tell) -> None:
    messages, requests = export.estimate()
    limits = export.settings.rate_limit
    minutes = requests / limits.light_requests * limits.light_window / 60
    tell(f"a2p outcomes: {messages:,} messages to read in {len(export.spans):,} batches: at "
         f"most {requests:,} Light requests; at {limits.light_requests} per "
         f"{limits.light_window:g} s that is about {minutes:,.1f} minutes")

