"""The ``a2p`` command. The only module that prints or exits; nothing imports it."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import orjson

from engine.config import load_settings
from engine.errors import AuthError, EngineError, UsageError
from engine.plan import Plan, make_plan
from engine.progress import Progress
from engine.reader import FORMATS, ReadOptions, read_lines
from engine.rejections import Aggregator
from engine.sources import open_input

if TYPE_CHECKING:
    from engine.simulator.settings import SimulatorSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="a2p",
        description="Send SMS to huge lists through RingCentral's High Volume (A2P) SMS API, "
        "or rehearse it against the bundled simulator.",
        epilog="Credentials come from RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and RC_USER_JWT; "
        "RC_SERVER_URL overrides the profile's server.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sim = sub.add_parser(
        "simulate", help="serve the local RingCentral simulator",
        description="Serve a local simulator of RingCentral's High Volume SMS API (OAuth, "
        "batches, messages, statuses, rate limits, faults) until Ctrl-C.",
        epilog="Example: a2p simulate --port 8080, then in another shell "
        "RC_SERVER_URL=http://127.0.0.1:8080 a2p send list.csv --from +16505550100 ...",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=8080, help="port, 0 for any free one (8080)")
    sim.add_argument("--config", default="simulator", metavar="PROFILE",
                     help="profile name in configs/ or a .toml path (default simulator)")
    plan = sub.add_parser(
        "plan", help="dry run: read and chunk a list, send nothing",
        description=textwrap.fill(
            "Read a recipient list and cut it into request bodies exactly as 'send' would, "
            "without sending anything. Prints the batches (recipients, bytes, input "
            "positions) and every record rejected locally, so you can fix the list first.", 88),
        epilog="Examples:\n  a2p plan list.csv --from +16505550100 --text 'Store opens at 9'\n"
        "  a2p plan people.jsonl --from +16505550100 --template 'Hi {name}, code {code}'\n"
        "  zcat numbers.txt.gz | a2p plan - --from +16505550100 --text Hi --json | jq .chunks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _input_options(plan)
    plan.add_argument("--json", action="store_true", help="print the plan as one JSON document")
    plan.add_argument("--show-rejected", type=int, default=20, metavar="N",
                      help="list at most N local rejections (default 20; the JSON has all)")
    send = sub.add_parser(
        "send", help="send a list and follow every batch to completion",
        description=textwrap.fill(
            "Read a recipient list as a stream, cut it into batches under the byte limit, "
            "send them concurrently within RingCentral's rate limits, follow every batch to "
            "Completed, and write one JSON report and a crash-safe journal. Events go to "
            "stdout as JSON lines (chunk_submitted, rejected, batch_completed, chunk_failed, "
            "summary); progress and diagnostics go to stderr.", 88),
        epilog=textwrap.fill(
            "Exit codes: 0 every batch accepted and tracked to its end (rejected recipients "
            "are results, not failures); 1 some batches failed or are unknown; 2 usage or "
            "configuration error; 3 authentication failed; 130 interrupted (the report and "
            "journal are written; finish with --resume).", 88) + "\n\nExamples:\n"
        "  a2p send list.csv --from +16505550100 --text 'Store opens at 9' --profile production\n"
        "  cat list.txt | a2p send - --from +16505550100 --text Hi \\\n"
        "      | jq -c 'select(.event==\"rejected\")'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _input_options(send)
    _send_options(send)
    check = sub.add_parser(
        "check", help="pre-flight: is --from an A2P number of this user? (sends nothing)",
        description=textwrap.fill(
            "Log in, confirm the sender number belongs to the user and has the A2PSmsSender "
            "feature, and read its SMS registration tier and daily cap where RingCentral "
            "exposes them. 'send' runs the same check before its first request.", 88),
        epilog="Exit codes: 0 the sender can send (warnings, if any, go to stderr); 2 the "
        "sender is wrong or cannot be checked; 3 the credentials are refused.\n\nExample:\n"
        "  a2p check --from +16505550100 --profile production --recipients 20000",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("--from", dest="sender", required=True, metavar="E164",
                       help="the sender number to check, e.g. +16505550100")
    check.add_argument("--profile", "--config", dest="profile", default="simulator",
                       metavar="NAME", help="profile in configs/ or a .toml path "
                       "(default simulator)")
    check.add_argument("--recipients", type=int, metavar="N",
                       help="how many recipients the campaign has, to compare with the daily "
                       "cap of the number's registration tier")
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    _outcomes_parser(sub)
    demo = sub.add_parser(
        "demo", help="rehearse a campaign against the built-in simulator",
        description="Start the simulator on a free loopback port, generate a list with some "
        "invalid numbers mixed in, send it with a small batch limit so the splitting shows, "
        "and print the summary. Leaves the report file.",
    )
    demo.add_argument("--recipients", type=int, default=1_000_000, metavar="N",
                      help="how many recipients (default 1,000,000)")
    demo.add_argument("--max-batch-bytes", type=int, default=2_000_000, metavar="N",
                      help="bytes per batch (default 2,000,000, so the list is split)")
    demo.add_argument("--report", default="a2p-demo-report.json", metavar="PATH",
                      help="where to write the report (default a2p-demo-report.json)")
    bench = sub.add_parser(
        "bench", help="run the benchmark harness (a source checkout)",
        description="Same as 'python -m benchmarks': every figure a ratio against a floor "
        "measured in the same run; writes results.json, results.md and plots.",
    )
    bench.add_argument("rest", nargs=argparse.REMAINDER,
                       help="quick|full [--out DIR] [--compare OLD.json]")
    return parser


def _outcomes_parser(sub: Any) -> None:
    from engine.outcomerows import FILTERS

    out = sub.add_parser(
        "outcomes", help="every recipient's fate, one row per input record",
        description=textwrap.fill(
            "Read the message store of every batch of a run (GET .../messages?batchId=, 1000 "
            "a page, inside the Light budget) and write one row per input record, in input "
            "order: index, line, to, outcome, errorCode, description, retryable, batchId, "
            "messageId, segments, cost (and text, when the run's texts were per record). Run "
            "it any time after the send, and again later as receipts arrive; an interrupted "
            "export goes on where it stopped when run again with the same arguments.", 88),
        epilog=textwrap.fill(
            "Outcomes: rejected-local, rejected-server, delivered, delivery-failed, "
            "sending-failed, sent-no-receipt, queued, unknown (the send could not tell whether "
            "the batch went out), not-sent. Groups: failed, pending, retryable.", 88) + "\n\n" +
        textwrap.fill("Exit codes: 0 written; 1 the server failed; 2 usage (a changed list, a "
                      "wrong profile); 3 authentication; 130 interrupted (run the same command "
                      "again to go on).", 88) + "\n\n"
        "Examples:\n"
        "  a2p outcomes run.json.journal --out outcomes.csv\n"
        "  a2p outcomes run.json.journal --only retryable --out retry.csv\n"
        "  a2p send retry.csv --from +16505550100 --text 'Store opens at 9'\n"
        "  a2p outcomes run.json.journal --only failed --out - | head",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    out.add_argument("journal", metavar="JOURNAL", help="the journal 'a2p send' wrote")
    out.add_argument("--out", metavar="PATH",
                     help="output file; .jsonl for JSON lines; - for stdout (default: the "
                     "journal's name with .outcomes.csv)")
    out.add_argument("--only", action="append", default=[], metavar="WHICH",
                     help=f"keep only these rows (comma-separated, repeatable): "
                     f"{', '.join(FILTERS)}")
    out.add_argument("--format", choices=("csv", "jsonl"),
                     help="csv (default) or jsonl (default when --out ends in .jsonl)")
    out.add_argument("--input", metavar="PATH",
                     help="the list the run sent, when it moved or the run read stdin")
    out.add_argument("--profile", "--config", dest="profile", metavar="NAME",
                     help="profile in configs/ or a .toml path (default: the run's)")


async def _outcomes(args: argparse.Namespace) -> int:
    from engine.outcomefile import OutputFile, format_for
    from engine.outcomes import Export

    only = tuple(name for given in args.only for name in given.split(",") if name)
    shown = [0.0]

    def show(event: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - shown[0] >= 1.0 or event["event"] == "batch":
            shown[0] = now
            print(f"a2p outcomes: batch {event.get('chunk')}: {event['rows']:,} rows, "
                  f"{event['pages']:,} pages, {event['requests']:,} requests", file=sys.stderr,
                  flush=True)

    async with Export(args.journal, input=args.input, only=only, config=args.profile,
                      on_progress=show) as export:
        fmt = format_for(args.out or "", args.format)
        path = args.out or _default_outcomes_path(args.journal, fmt)
        out = OutputFile(path, fmt, export.with_text, _export_key(args.journal, only, fmt))
        try:
            start = out.open()
            if start is not None:
                export.checkpoint = start
                within = f", record {start.position:,}" if start.token is not None else ""
                print(f"a2p outcomes: resuming {path} at batch {start.span + 1} of "
                      f"{len(export.spans)}{within}", file=sys.stderr)
            _print_estimate(export)
            export.on_checkpoint = out.checkpoint
            async for row in export.rows(start):
                out.write(row)
            out.finish()
        finally:
            out.close()
    totals = export.totals.as_json()
    print(f"a2p outcomes: {totals['rows']:,} rows; {export.pages:,} pages in "
          f"{export.client.requests:,} requests; wrote {path}", file=sys.stderr)
    print("a2p outcomes: totals " + orjson.dumps(totals).decode(), file=sys.stderr)
    if export.unmatched:
        print(f"a2p outcomes: {export.unmatched:,} message-store records matched no input "
              "record (another list, or the input changed)", file=sys.stderr)
    return EXIT_OK


def _export_key(journal: str, only: tuple[str, ...], fmt: str) -> dict[str, Any]:
    """What an interrupted export must share with this one to be continued by it."""
    return {"journal": os.path.abspath(journal), "only": sorted(only), "format": fmt}


def _default_outcomes_path(journal: str, fmt: str) -> str:
    base = journal.removesuffix(".journal").removesuffix(".json")
    return f"{base}.outcomes.{fmt}"


def _print_estimate(export: Any) -> None:
    messages, requests = export.estimate()
    limits = export.settings.rate_limit
    minutes = requests / limits.light_requests * limits.light_window / 60
    print(f"a2p outcomes: {messages:,} messages to read in {len(export.spans):,} batches: at "
          f"most {requests:,} Light requests; at {limits.light_requests} per "
          f"{limits.light_window:g} s that is about {minutes:,.1f} minutes", file=sys.stderr,
          flush=True)


def _bench(args: argparse.Namespace) -> int:
    """The harness lives beside the package in a checkout, not in the installed package."""
    checkout = Path(__file__).resolve().parent.parent
    if not (checkout / "benchmarks" / "harness.py").exists():
        print("a2p: bench needs a source checkout of a2p-batch-engine (benchmarks/ is not "
              "installed with the package). Clone it and run 'a2p bench' there.",
              file=sys.stderr)
        return EXIT_USAGE
    return subprocess.call([sys.executable, "-m", "benchmarks", *args.rest], cwd=checkout)


def _send_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", metavar="PATH",
                        help="report file (default a2p-report-<date-time>.json)")
    parser.add_argument("--journal", metavar="PATH",
                        help="crash-safe journal of the run (default: the report path + "
                        ".journal)")
    parser.add_argument("--resume", metavar="JOURNAL",
                        help="continue the run this journal describes, with the same INPUT, "
                        "--from and --text: accepted batches are never sent again")
    parser.add_argument("--concurrency", type=int, metavar="N",
                        help="requests in flight at once (default from the profile)")
    parser.add_argument("--wait", choices=("completed", "accepted", "delivered"),
                        default="completed",
                        help="end when every batch is Completed (default), has an id, or is "
                        "Completed with every receipt in (delivered)")
    parser.add_argument("--delivery-timeout", type=float, default=3600.0, metavar="SECONDS",
                        help="with --wait delivered: stop waiting for a batch's receipts this "
                        "long after it completed (default 3600)")
    parser.add_argument("--on-ambiguous", choices=("reconcile", "resend", "fail"),
                        default="reconcile",
                        help="after a lost answer: look the batch up on the server before any "
                        "resend (default), resend blindly, or report it unknown")
    parser.add_argument("--no-revoke", action="store_true",
                        help="keep the OAuth session open at the end")
    parser.add_argument("--no-preflight", action="store_true",
                        help="skip the check that --from is an A2P number of this user "
                        "(see 'a2p check') before the first request")


def _input_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("input", metavar="INPUT",
                        help="CSV, JSONL or one number per line (.gz too); - reads stdin")
    parser.add_argument("--from", dest="sender", required=True, metavar="E164",
                        help="your A2P sender number, e.g. +16505550100")
    parser.add_argument("--text", help="batch text for every recipient without its own")
    parser.add_argument("--template", metavar="T",
                        help="per-recipient text from CSV columns or JSON keys, "
                        "e.g. 'Hi {name}, your code is {code}'")
    parser.add_argument("--format", choices=("auto", *FORMATS), default="auto",
                        help="input format (default: by suffix, else by the first line)")
    parser.add_argument("--to-column", default="to", metavar="NAME",
                        help="CSV column with the number (default to)")
    parser.add_argument("--text-column", metavar="NAME",
                        help="CSV column with a per-recipient text (default text, if present)")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first bad record instead of listing it and going on")
    parser.add_argument("--dedupe", action="store_true",
                        help="skip repeated recipients (same number and text)")
    parser.add_argument("--profile", "--config", dest="profile", default="simulator",
                        metavar="NAME", help="profile in configs/ or a .toml path "
                        "(default simulator)")
    parser.add_argument("--max-batch-bytes", type=int, metavar="N",
                        help="bytes per request body (default from the profile: 50,000,000)")
    parser.add_argument("--max-batch-messages", type=int, metavar="N",
                        help="messages per request (default: no cap)")


def _describe(settings: SimulatorSettings, url: str) -> str:
    creds = settings.credentials
    lines = [f"RingCentral simulator listening on {url}"]
    if settings.credentials_from_env:
        lines.append("Accepting the credentials set in RC_APP_CLIENT_ID and friends.")
    else:
        lines += [
            "Demo credentials (set these to point the engine or an SDK here):",
            f"  export RC_SERVER_URL={url}",
            f"  export RC_APP_CLIENT_ID={creds.client_id}",
            f"  export RC_APP_CLIENT_SECRET={creds.client_secret}",
            f"  export RC_USER_JWT={creds.jwt}",
        ]
    lines.append(f"A2P senders: {', '.join(settings.senders)}. Ledger: {url}/_sim/ledger")
    return "\n".join(lines)


async def _simulate(args: argparse.Namespace) -> int:
    # Imported here so that commands without a server do not pay for aiohttp at start-up.
    from engine.simulator import load_simulator_settings, start_simulator

    settings = load_simulator_settings(args.config)
    running = await start_simulator(settings, args.host, args.port)
    print(_describe(settings, running.url), file=sys.stderr, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()
    return EXIT_OK


def _read_options(args: argparse.Namespace) -> ReadOptions:
    return ReadOptions(
        source="<stdin>" if args.input == "-" else args.input, format=args.format,
        to_column=args.to_column, text_column=args.text_column or "text",
        text_column_required=args.text_column is not None, batch_text=args.text,
        template=args.template, strict=args.strict, dedupe=args.dedupe,
    )


def _plan(args: argparse.Namespace) -> int:
    settings = load_settings(args.profile)
    max_bytes = args.max_batch_bytes or settings.limits.max_batch_bytes
    max_messages = args.max_batch_messages or settings.limits.max_batch_messages
    options = _read_options(args)
    aggregator = Aggregator()
    with open_input(args.input) as stream:
        blocks = read_lines(stream, options, aggregator.add_local)
        plan = make_plan(blocks, aggregator, args.sender, args.text, max_bytes, max_messages)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(plan.as_json(), option=orjson.OPT_APPEND_NEWLINE))
    else:
        print(_describe_plan(plan, options, args.sender, max_bytes, args.show_rejected))
    return EXIT_OK


def _describe_plan(plan: Plan, options: ReadOptions, sender: str, max_bytes: int,
                   show: int) -> str:
    batches = f"{len(plan.chunks):,} batch" + ("es" if len(plan.chunks) != 1 else "")
    lines = [
        f"plan for {options.source}, from {sender}, at most {max_bytes:,} bytes per batch",
        f"  records read      {plan.records:>12,}",
        f"  to send           {plan.recipients:>12,}  in {batches}, {plan.bytes:,} bytes",
        f"  rejected locally  {len(plan.rejected):>12,}",
        "",
        f"  {'batch':>6} {'recipients':>12} {'bytes':>14}   input positions",
    ]
    lines += [f"  {c.number:>6} {c.recipients:>12,} {c.bytes:>14,}   "
              f"{c.first_position:,} .. {c.last_position:,}" for c in plan.chunks]
    if plan.rejected:
        lines += ["", f"  rejected locally (first {min(show, len(plan.rejected))}; --json "
                  "lists all):"]
        for r in plan.rejected[:show]:
            where = f"line {r.line}" if r.line is not None else f"item {r.index}"
            lines.append(f"    {where}: {r.to!r}: {r.error_code}: {r.description}")
    return "\n".join(lines)


async def _watch_signals(stop: anyio.Event) -> None:
    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            print("a2p: stopping: no new batches; letting requests in flight finish...",
                  file=sys.stderr, flush=True)
            stop.set()
            return


async def _send(args: argparse.Namespace) -> int:
    from engine.api import send

    progress = Progress(sys.stderr)
    out = sys.stdout.buffer

    async def emit(event: dict[str, Any]) -> None:
        out.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
        out.flush()
        progress.see(event)
        if event["event"] == "warning":
            print(f"a2p: WARNING: {event['message']}", file=sys.stderr, flush=True)

    report_path, journal = _paths(args)
    stop = anyio.Event()
    try:
        async with anyio.create_task_group() as group:
            group.start_soon(_watch_signals, stop)
            report = await send(
                args.input, sender=args.sender, text=args.text, config=args.profile,
                read=_read_options(args), concurrency=args.concurrency,
                max_batch_bytes=args.max_batch_bytes, wait=args.wait,
                delivery_timeout=args.delivery_timeout,
                on_ambiguous=args.on_ambiguous, revoke=not args.no_revoke, on_event=emit,
                stop=stop, on_read=progress.reading, journal=None if args.resume else journal,
                resume=args.resume, preflight=not args.no_preflight,
            )
            group.cancel_scope.cancel()
    except BaseExceptionGroup as exc:  # the task group wraps send's own error: unwrap it
        if len(exc.exceptions) == 1:
            raise exc.exceptions[0] from None
        raise
    return _finish(report, report_path)


async def _check(args: argparse.Namespace) -> int:
    from engine.api import check

    found = await check(args.sender, config=args.profile, recipients=args.recipients)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(found.as_json(), option=orjson.OPT_APPEND_NEWLINE))
    else:
        tier = found.registration_tier or "not exposed"
        cap = f", about {found.daily_cap:,} messages a day" if found.daily_cap else ""
        print(f"a2p: {args.sender} can send High Volume SMS: an A2PSmsSender number of this "
              f"user (id {found.sender.id}, status {found.sender.status}); registration tier: "
              f"{tier}{cap}")
    for warning in found.warnings:
        print(f"a2p: WARNING: {warning}", file=sys.stderr)
    return EXIT_OK


def _paths(args: argparse.Namespace) -> tuple[str, str]:
    """(report, journal): a resumed run reports next to its journal."""
    if args.resume:
        default = args.resume.removesuffix(".journal")
        report = args.report or (default if default != args.resume else default + ".json")
        return report, args.resume
    report = args.report or f"a2p-report-{datetime.now():%Y%m%d-%H%M%S}.json"
    return report, args.journal or report + ".journal"


def _finish(report: dict[str, Any], path: str) -> int:
    target = Path(path)
    target.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2))
    totals = report["totals"]
    print(f"a2p: {report['status']}: {totals['sent']:,} sent, {totals['rejectedLocal']:,} "
          f"rejected locally, {totals['rejectedServer']:,} by the server, "
          f"{totals['failedChunks']} batches failed, {totals['unknownChunks']} unknown; "
          f"report: {target}", file=sys.stderr)
    if report["interrupted"]:
        return EXIT_INTERRUPTED
    return EXIT_OK if report["status"] == "completed" else EXIT_FAILED


async def _demo(args: argparse.Namespace) -> int:
    from engine.api import send
    from engine.simulator import load_simulator_settings, start_simulator

    sim_settings = replace(load_simulator_settings("simulator", env={}),
                           messages_per_second=500_000.0)
    running = await start_simulator(sim_settings)
    try:
        settings = replace(load_settings("simulator", env={}), server_url=running.url)
        progress = Progress(sys.stderr)

        async def emit(event: dict[str, Any]) -> None:
            progress.see(event)

        print(f"a2p demo: simulator on {running.url}; sending to {args.recipients:,} "
              f"recipients in batches of at most {args.max_batch_bytes:,} bytes",
              file=sys.stderr)
        report = await send(demo_recipients(args.recipients), sender=sim_settings.senders[0],
                            text="Your table is ready. Reply STOP to opt out.",
                            config=settings, credentials=sim_settings.credentials,
                            max_batch_bytes=args.max_batch_bytes, on_event=emit,
                            on_read=progress.reading)
        ledger = running.simulator.store.accepted_count()
    finally:
        await running.stop()
    print(orjson.dumps({k: report[k] for k in ("status", "totals", "requests")},
                       option=orjson.OPT_INDENT_2).decode())
    print(f"a2p demo: the simulator's ledger holds {ledger:,} accepted messages",
          file=sys.stderr)
    return _finish(report, args.report)


def demo_recipients(n: int) -> Iterator[str]:
    """Distinct numbers with a few bad ones: malformed (caught locally) and non-North-American
    (rejected by the server)."""
    for i in range(n):
        if i % 997 == 996:
            yield f"555-{i:07d}"
        elif i % 1009 == 1008:
            yield f"+4420{i:08d}"
        else:
            area, line = divmod(i, 8_000_000)
            yield f"+1{201 + area}{2_000_000 + line:07d}"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "plan":
            return _plan(args)
        if args.command == "send":
            return asyncio.run(_send(args))
        if args.command == "demo":
            return asyncio.run(_demo(args))
        if args.command == "check":
            return asyncio.run(_check(args))
        if args.command == "bench":
            return _bench(args)
        if args.command == "outcomes":
            return asyncio.run(_outcomes(args))
        return asyncio.run(_simulate(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except UsageError as exc:
        print(f"a2p: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AuthError as exc:
        print(f"a2p: {exc}", file=sys.stderr)
        return EXIT_AUTH
    except EngineError as exc:
        print(f"a2p: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
