"""``a2p plan``: read and chunk a list exactly as send would, send nothing, and show the
batches, the cost estimate, the warnings and the local rejections."""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import replace
from typing import TYPE_CHECKING

from engine.cli.exits import EXIT_OK
from engine.cli.options import read_options

if TYPE_CHECKING:
    from engine.batching.plan import Plan
    from engine.cli.scheduleflags import ScheduleArgs
    from engine.reading import ReadOptions
    from engine.run.consent import Consents
    from engine.run.spill import FileSpill
    from engine.schedule.forecast import Forecast, PlacementTally
    from engine.schedule.placement import Placement


SOURCES = {"file": "a --suppress list", "consent": "RingCentral consent records"}


def run(args: argparse.Namespace) -> int:
    """Plan INPUT and print it (--json: one document); return the exit code."""
    from engine.batching.plan import make_plan
    from engine.cli.planprogress import PlanProgress, input_size
    from engine.cli.scheduleflags import schedule_args
    from engine.config.settings import check_campaign, load_settings
    from engine.core.lint import TextSample, list_warnings
    from engine.core.rejections import Aggregator, NoSpill
    from engine.core.spillruns import Tally
    from engine.reading import read_lines
    from engine.run.inputs import open_input
    from engine.run.spill import FileSpill
    from engine.run.suppress import empty_sources

    check_campaign(args.sender, args.text, args.template)
    # plan connects to nothing: with --profile, RC_SERVER_URL (which only moves the server)
    # is not read, so a simulator profile plans under a shell set for production
    settings = load_settings(args.profile, env={} if args.profile else None)
    max_bytes = args.max_batch_bytes or settings.limits.max_batch_bytes
    max_messages = args.max_batch_messages or settings.limits.max_batch_messages
    when = schedule_args(args, time.time())  # the real clock, read once (tests: --now)
    tally = _tally(when.tz_column)
    options = _with_zones(read_options(args), when.tz_column)
    if when.policy.quiet and not options.north_american_only:  # as a send reads it
        options = replace(options, unplaced=tally.placer.unknown_zone)  # LCL-NO-TIMEZONE
    consents = _consents(args) if args.consent else None
    # with --json every rejection goes to a temporary spill as it is found; memory keeps the
    # counts and the first --show-rejected, all the table shows
    with FileSpill() if args.json else nullcontext(NoSpill()) as spill:
        aggregator = Aggregator(spill, Tally(keep=max(args.show_rejected, 0)))
        sample = TextSample()  # a few texts of a text column: linted once, not every row
        with open_input(args.input) as stream:
            if consents is None:
                blocks = read_lines(stream, options, aggregator.local_sink())
            else:  # as a send's gate: LCL-OPTED-OUT, source consent, all in position order
                from engine.reading.records import number_checker
                from engine.run.gate import Gate

                gate = Gate(consents.set, aggregator.add_local, check=number_checker(options))
                blocks = gate.apply(read_lines(stream, options, gate.hold))
            if args.template is None:
                blocks = sample.tap(blocks)
            progress = PlanProgress(sys.stderr, quiet=args.quiet, size=input_size(args.input))
            try:
                plan = make_plan(progress.tap(tally.tap(blocks)), aggregator, args.sender,
                                 args.text, max_bytes, max_messages, args.price_per_segment)
            finally:  # an error's message begins on a clean line
                progress.done()
        forecast = _forecast(tally.counts, when)
        plan = replace(plan, schedule=forecast.as_json())
        if forecast.outside is not None and forecast.outside.count:
            plan.warnings.append(forecast.outside.warning())
        plan.warnings.extend(empty_sources(options.suppress))  # a failed export?
        plan.warnings.extend(list_warnings(  # compliance (engine/core/lint.py): never refused
            text=args.text, template=args.template, sample=sample, brand=args.brand,
            suppressed=sum(plan.suppressed.values()), records=plan.records,
            share=args.warn_suppressed))
        for warning in [] if args.quiet else plan.warnings:  # -q: the plan lists them
            print(f"a2p: WARNING: {warning}", file=sys.stderr)
        if consents is None and not args.quiet:  # a plan's "to send" is not the send's
            print("a2p: RingCentral's opt-out records were not read: `a2p send` reads them and "
                  "suppresses those recipients too; `a2p plan --consent` counts them here",
                  file=sys.stderr)
        if isinstance(spill, FileSpill):  # --json
            _stream_json(plan, spill)
        else:
            print(_describe_plan(plan, options, args.sender, max_bytes, args.show_rejected))
            if when.asked:
                from engine.cli.planschedule import describe_schedule

                print("\n".join(["", *describe_schedule(forecast)]))
        sys.stdout.flush()  # a closed pipe (| head) shows here, inside main's handler
    return EXIT_OK


def _with_zones(options: ReadOptions, column: str | None) -> ReadOptions:
    """The read options with --tz-column, each cell checked as a zone (LCL-BAD-TIMEZONE)."""
    if column is None:
        return options
    from functools import partial

    from engine.schedule.zones import check_zone

    return replace(options, tz_column=column,
                   zone_check=partial(check_zone, column=f"--tz-column {column}"))


def _tally(column: str | None) -> PlacementTally:
    """The run's one Placer, counting each valid recipient's Placement as blocks pass."""
    from engine.schedule.forecast import PlacementTally
    from engine.schedule.zones import placer

    return PlacementTally(placer(column=f"--tz-column {column}" if column else "--tz-column"))


def _forecast(counts: Mapping[Placement, int], when: ScheduleArgs) -> Forecast:
    from engine.schedule.forecast import forecast

    return forecast(counts, when.policy, when.now, timing=when.timing, margin=when.margin,
                    cap=when.cap)


def _consents(args: argparse.Namespace) -> Consents:
    """RingCentral's opt-outs for --from, read with the profile's credentials."""
    import anyio

    from engine.run.doors import opt_outs

    consents = anyio.run(lambda: opt_outs(args.sender, scope=args.suppress_scope or "account",
                                          config=args.profile))
    if not args.quiet:
        print(f"a2p: read {consents.opt_outs:,} opt-outs of the account ({consents.method}, "
              f"{consents.requests} Light request(s)); {len(consents.set):,} apply to "
              f"{args.sender} under --suppress-scope {consents.scope}", file=sys.stderr)
    return consents


def _stream_json(plan: Plan, spill: FileSpill) -> None:
    """The plan as one JSON document on stdout, its rejections streamed from the spill a
    megabyte at a time (the bytes ``write_stream`` would write a rejection at a time)."""
    import orjson

    out = sys.stdout.buffer
    out.write(orjson.dumps(plan.head_json())[:-1] + b',"rejected":[')
    for piece in spill.joined(b","):
        out.write(piece)
    out.write(b"]}\n")


def _describe_plan(plan: Plan, options: ReadOptions, sender: str, max_bytes: int,
                   show: int) -> str:
    """The plan as a table for people: totals, one row per batch, the first rejections."""
    from engine.reading.segments import estimate_cost

    batches = f"{len(plan.chunks):,} batch" + ("es" if len(plan.chunks) != 1 else "")
    price = plan.price_per_segment
    lines = [
        f"plan for {options.source}, from {sender}, at most {max_bytes:,} bytes per batch",
        f"  records read      {plan.records:>12,}",
        f"  to send           {plan.recipients:>12,}  in {batches}, {plan.bytes:,} bytes",
        f"  rejected locally  {plan.rejected:>12,}" + "".join(
            f"\n    {code:<26}{n:>10,}" for code, n in plan.rejected_by_code.items()),
        *([f"    suppressed      {sum(plan.suppressed.values()):>12,}  (never sent: "
           + ", ".join(f"{n:,} by {SOURCES.get(source, source)}"
                       for source, n in plan.suppressed.items()) + ")"]
          if plan.suppressed else []),
        f"  SMS segments      {plan.segments:>12,}  (GSM-7 messages "
        f"{plan.recipients - plan.ucs2:,}, UCS-2 messages {plan.ucs2:,})",
        f"  estimated cost    {plan.cost:>12,.2f}  at {price} per segment "
        "(--price-per-segment; the bill comes from RingCentral)",
    ]
    if plan.forcing:
        lines.append("  UCS-2 because of  " + "; ".join(map(str, plan.forcing)))
    lines += ["", f"  {'batch':>6} {'recipients':>12} {'bytes':>14} {'segments':>12} "
              f"{'UCS-2':>10} {'cost':>12}   input positions"]
    lines += [f"  {c.number:>6} {c.recipients:>12,} {c.bytes:>14,} {c.segments:>12,} "
              f"{c.ucs2:>10,} {estimate_cost(c.segments, price):>12,.2f}   "
              f"{c.first_position:,} .. {c.last_position:,}" for c in plan.chunks]
    warnings = ["", "  warnings:", *(f"    - {w}" for w in plan.warnings)] if plan.warnings \
        else []
    return "\n".join(lines + warnings + _rejected(plan, show))


def _rejected(plan: Plan, show: int) -> list[str]:
    """The first ``show`` local rejections, each with its line (or item) and reason."""
    if not plan.rejected:
        return []
    lines = ["", f"  rejected locally (first {min(show, plan.rejected)}; --json "
             "lists all):"]
    for r in plan.first_rejected[:show]:
        where = f"line {r.line}" if r.line is not None else f"item {r.index}"
        value = "" if r.to is None else f"{r.to!r}: "
        lines.append(f"    {where}: {value}{r.error_code}: {r.description}")
    return lines

