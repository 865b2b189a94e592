"""The ``a2p`` command. The only module that prints or exits; nothing imports it."""

from __future__ import annotations

import argparse
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import time
import traceback
import types
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine import __version__
from engine.errors import AuthError, EngineError, UsageError
from engine.reading import FORMATS
from engine.reading.segments import DEFAULT_PRICE

# Only what --help and argument errors need is imported up here: aiohttp, anyio and the
# reader load inside the commands that use them, so `a2p --help` starts in a blink.
if TYPE_CHECKING:
    import anyio

    from engine.batching.plan import Plan
    from engine.cli.progress import Progress
    from engine.reading import ReadOptions
    from engine.simulator.settings import SimulatorSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
EXIT_CODES = ("Exit codes: 0 every batch accepted and tracked to its end (rejected recipients "
              "are results, not failures); 1 some batches failed or are unknown, or the "
              "server (its token endpoint included) could not be reached or kept failing; 2 "
              "usage or configuration error (bad option, profile, environment variable, "
              "input file or journal); 3 the credentials were refused at login; 130 "
              "interrupted (Ctrl-C or SIGTERM: the report and journal are "
              "written; finish with --resume).")


PROFILE_CHOICE = ("a loopback server: simulator; platform.devtest.ringcentral.com: sandbox; "
                  "any other server: production; no server: simulator")
PROFILE_HELP = ("a packaged profile (simulator, sandbox, production), configs/NAME.toml here, "
                "or a .toml path (default: follows RC_SERVER_URL, see 'a2p config')")


def _fill(text: str) -> str:
    return textwrap.fill(text, 88, break_on_hyphens=False)


def _common(defaults: bool) -> argparse.ArgumentParser:
    """-v, -q and --env-file, accepted before or after the command (``a2p -v send ...`` and
    ``a2p send ... -v``); only the top level sets defaults, so a later one never resets them."""
    common = argparse.ArgumentParser(add_help=False)

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    common.add_argument("-v", "--verbose", action="count", default=default(0),
                        help="show each API request on stderr (method, path, status, "
                        "rate-limit headers, time; never bodies or secrets), and a traceback "
                        "with errors")
    common.add_argument("-q", "--quiet", action="store_true", default=default(False),
                        help="no progress line; only errors and a failed run's summary")
    common.add_argument("--env-file", metavar="PATH", default=default(None),
                        help="read RC_* variables from a .env file (its values win over the "
                        "environment's)")
    return common


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a whole number of 1 or more")
    return number


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="a2p", parents=[_common(defaults=True)],
        description="Send SMS to huge lists through RingCentral's High Volume (A2P) SMS API, "
        "or rehearse it against the bundled simulator.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=_fill(
            "Credentials come from RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and RC_USER_JWT "
            "(or --env-file); RC_SERVER_URL overrides the profile's server and, without "
            "--profile, chooses the profile (" + PROFILE_CHOICE + "; 'a2p config' shows the "
            "outcome); HTTPS_PROXY and NO_PROXY are honoured. " + EXIT_CODES),
    )
    parser.add_argument("--version", action="version", version=f"a2p {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    common = _common(defaults=False)
    sim = sub.add_parser(
        "simulate", help="serve the local RingCentral simulator", parents=[common],
        description="Serve a local simulator of RingCentral's High Volume SMS API (OAuth, "
        "batches, messages, statuses, rate limits, faults) until Ctrl-C.",
        epilog="Example: a2p simulate --port 8080, then in another shell "
        "RC_SERVER_URL=http://127.0.0.1:8080 a2p send list.csv --from +16505550100 ...",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=8080, help="port, 0 for any free one (8080)")
    sim.add_argument("--config", default="simulator", metavar="PROFILE",
                     help="a packaged profile (simulator, sandbox, production), "
                     "configs/NAME.toml here, or a .toml path (default simulator)")
    plan = sub.add_parser(
        "plan", help="dry run: read and chunk a list, send nothing", parents=[common],
        description=textwrap.fill(
            "Read a recipient list and cut it into request bodies exactly as 'send' would, "
            "without sending anything. Prints the batches (recipients, bytes, input "
            "positions, SMS segments, UCS-2 messages, estimated cost), why texts are UCS-2 "
            "(the characters and their lines), warnings (a UCS-2 batch text, more than half "
            "the list rejected) and every record rejected locally, so you can fix the list "
            "first.", 88),
        epilog="Examples:\n  a2p plan list.csv --from +16505550100 --text 'Store opens at 9'\n"
        "  a2p plan people.jsonl --from +16505550100 --template 'Hi {name}, code {code}'\n"
        "  a2p plan export.csv --from +16505550100 --encoding cp1252 --to-column 'Phone Number' "
        "\\\n      --template 'Hi {First Name|there}!' --price-per-segment 0.0079\n"
        "  zcat numbers.txt.gz | a2p plan - --from +16505550100 --text Hi --json | jq .chunks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _input_options(plan)
    plan.add_argument("--json", action="store_true", help="print the plan as one JSON document")
    plan.add_argument("--show-rejected", type=int, default=20, metavar="N",
                      help="list at most N local rejections (default 20; the JSON has all)")
    plan.add_argument("--price-per-segment", type=_price, default=DEFAULT_PRICE,
                      metavar="PRICE", help="price of one SMS segment for the cost estimate "
                      f"(default {DEFAULT_PRICE}, a typical US A2P price in USD: use yours)")
    send = sub.add_parser(
        "send", help="send a list and follow every batch to completion",
        description=textwrap.fill(
            "Read a recipient list as a stream, cut it into batches under the byte limit, "
            "send them concurrently within RingCentral's rate limits, follow every batch to "
            "Completed, and write one JSON report and a crash-safe journal. Events go to "
            "stdout as JSON lines (chunk_submitted, rejected, batch_completed, chunk_failed, "
            "summary); progress and diagnostics go to stderr.", 88),
        parents=[common],
        epilog=_fill(EXIT_CODES) + "\n\nExamples:\n"
        "  a2p send list.csv --from +16505550100 --text 'Store opens at 9' --profile production\n"
        "  a2p send --resume a2p-report-20261125-120000.json.journal   # finish a stopped run\n"
        "  cat list.txt | a2p send - --from +16505550100 --text Hi \\\n"
        "      | jq -c 'select(.event==\"rejected\")'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _input_options(send, resumable=True)
    _send_options(send)
    check = sub.add_parser(
        "check", help="pre-flight: is --from an A2P number of this user? (sends nothing)",
        parents=[common],
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
    check.add_argument("--profile", "--config", dest="profile", default=None,
                       metavar="NAME", help=PROFILE_HELP)
    check.add_argument("--recipients", type=int, metavar="N",
                       help="how many recipients the campaign has, to compare with the daily "
                       "cap of the number's registration tier")
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    _outcomes_parser(sub, common)
    _config_parser(sub, common)
    demo = sub.add_parser(
        "demo", help="rehearse a campaign against the built-in simulator", parents=[common],
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


def _outcomes_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    from engine.results.names import FILTERS

    out = sub.add_parser(
        "outcomes", help="every recipient's fate, one row per input record", parents=[common],
        description=textwrap.fill(
            "Read the message store of every batch of a run (GET .../messages?batchId=, 1000 "
            "a page, inside the Light budget) and write one row per input record, in input "
            "order: index, line, to, outcome, errorCode, description, retryable, batchId, "
            "messageId, segments, cost, text (the record's own text; empty for the batch "
            "text). Run it any time after the send, and again later as receipts arrive; an "
            "interrupted export goes on where it stopped when run again with the same "
            "arguments.", 88),
        epilog=textwrap.fill(
            "Outcomes: rejected-local, rejected-server, delivered, delivery-failed, "
            "sending-failed, sent-no-receipt, queued, unknown (the send could not tell whether "
            "the batch went out), not-sent. Groups: failed, pending, retryable.", 88) + "\n\n" +
        textwrap.fill("Exit codes: 0 written; 1 the server failed; 2 usage (a changed list, a "
                      "wrong profile, a journal another process is using); 3 credentials "
                      "refused at login; 130 interrupted (run the same command again to go "
                      "on).", 88) + "\n\n"
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


def _config_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    config = sub.add_parser(
        "config", help="show the settings a run would use and where each came from",
        parents=[common],
        description=textwrap.fill(
            "Print the effective settings without connecting to anything: the server URL, "
            "the profile and why it was chosen, every limit, retry, polling and rate-limit "
            "value, and whether credentials are set (never their values), each with where it "
            "came from: a flag, the environment, the --env-file, the profile file, or the "
            "built-in default. Without --profile the profile follows the server URL ("
            + PROFILE_CHOICE + "), because its timings belong to that server: "
            "retry.reconcile_window is how long a batch whose answer was lost is looked for "
            "before it is sent again (5 s for the simulator, 600 s for RingCentral).", 88),
        epilog=_fill("Exit codes: 0 shown; 2 a profile or variable is wrong, or they do not "
                     "fit together (--profile simulator with an RC_SERVER_URL elsewhere).")
        + "\n\nExamples:\n"
        "  RC_SERVER_URL=https://platform.ringcentral.com a2p config   # production, 600 s\n"
        "  a2p config --profile sandbox --json | jq .settings\n"
        "  a2p --env-file .env config",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    config.add_argument("--profile", "--config", dest="profile", metavar="NAME",
                        help=PROFILE_HELP)
    config.add_argument("--json", action="store_true",
                        help="print one JSON document: profile, settings (value, source, "
                        "from), notes")


def _config(args: argparse.Namespace) -> int:
    import orjson

    from engine.config.effective import effective

    from_file = _env_file_values(args.env_file) if args.env_file else {}
    found = effective(args.profile, os.environ, from_file, args.env_file or "")
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(found.as_json(), option=orjson.OPT_APPEND_NEWLINE
                                             | orjson.OPT_INDENT_2))
    else:
        print(found.describe())
    sys.stdout.flush()
    return EXIT_OK


def _env_file_values(name: str) -> dict[str, str]:
    """The RC_* values of a .env file, as _load_env_file copied them into the environment."""
    from dotenv import dotenv_values

    return {key: value for key, value in dotenv_values(name).items()
            if key.startswith("RC_") and value is not None}


async def _outcomes(args: argparse.Namespace) -> int:
    import orjson

    from engine.results.export import Export
    from engine.results.output import OutputFile, format_for

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
    if totals.get("pending"):
        print(f"a2p outcomes: {totals['pending']:,} rows pending: adopted after a lost answer, "
              "their batch's message store does not list the whole batch yet, so they may "
              "have been texted (not retryable). Run the same command again later to settle "
              "them.", file=sys.stderr)
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
    checkout = Path(__file__).resolve().parent.parent.parent
    if not (checkout / "benchmarks" / "harness.py").exists():
        print("a2p: bench needs a source checkout of a2p-batch-engine (benchmarks/ is not "
              "installed with the package). Clone it and run 'a2p bench' there.",
              file=sys.stderr)
        return EXIT_USAGE
    return subprocess.call([sys.executable, "-m", "benchmarks", *args.rest], cwd=checkout)


def _send_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--report", metavar="PATH",
                        help="report file (default a2p-report-<YYYYmmdd-HHMMSS>.json)")
    parser.add_argument("--journal", metavar="PATH",
                        help="crash-safe journal of the run (default: the report path + "
                        ".journal)")
    parser.add_argument("--resume", metavar="JOURNAL",
                        help="continue the run this journal describes; INPUT, --from, --text, "
                        "--template, the profile, reading options and the report path come "
                        "from the journal (given again, they must match): accepted batches "
                        "are never sent again. A run that read stdin: cat LIST | a2p send - "
                        "--resume JOURNAL. One process per journal: a second exits 2")
    parser.add_argument("--concurrency", type=_positive, metavar="N",
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


def _input_options(parser: argparse.ArgumentParser, resumable: bool = False) -> None:
    later = " (with --resume: from the journal)" if resumable else ""
    parser.add_argument("input", metavar="INPUT", nargs="?" if resumable else None,
                        help="CSV, JSONL or one number per line (.gz too); - reads stdin"
                        + later)
    parser.add_argument("--from", dest="sender", required=not resumable, metavar="E164",
                        help="your A2P sender number, e.g. +16505550100" + later)
    texts = parser.add_mutually_exclusive_group()
    texts.add_argument("--text", help="batch text for every recipient without its own")
    texts.add_argument("--template", metavar="T",
                       help="per-recipient text from CSV columns or JSON keys named as the "
                       "header writes them, e.g. 'Hi {First Name|there}, your code is {code}': "
                       "{name|default} is used when the field is empty, {{ and }} are braces; "
                       "a field with no default that is empty rejects its record")
    parser.add_argument("--format", choices=("auto", *FORMATS), default="auto",
                        help="input format (default: by suffix, else by the first line)")
    parser.add_argument("--to-column", default="to", metavar="NAME",
                        help="CSV column with the number (default to)")
    parser.add_argument("--text-column", metavar="NAME",
                        help="CSV column with a per-recipient text (default text, if present)")
    parser.add_argument("--strict", action="store_true",
                        help="stop at the first bad record instead of listing it and going on")
    parser.add_argument("--encoding", default="utf-8", metavar="NAME",
                        help="the file's encoding (default utf-8; Excel on Windows saves "
                        "cp1252). Byte offsets stay exact for resume and outcomes")
    parser.add_argument("--delimiter", metavar="CHAR",
                        help="CSV column separator (default: comma, tab for .tsv; semicolon, "
                        "tab or pipe are tried when the header has no --to-column with commas)")
    parser.add_argument("--default-country", default="US", metavar="CC",
                        help="country of numbers written without +: US or CA, the North "
                        "American plan, e.g. (650) 555-0123 (default US); none requires +1")
    parser.add_argument("--strict-numbers", action="store_true",
                        help="also apply libphonenumber's validity rules (assigned ranges; "
                        "about 25 us a number; needs the strict-numbers extra)")
    parser.add_argument("--any-country", action="store_true",
                        help="let numbers outside North America through to the server, which "
                        "refuses them (SMS-RC-410); by default they are rejected locally")
    parser.add_argument("--dedupe", action="store_true",
                        help="skip repeated recipients (same number and text)")
    parser.add_argument("--profile", "--config", dest="profile", default=None,
                        metavar="NAME", help=PROFILE_HELP + later)
    parser.add_argument("--max-batch-bytes", type=int, metavar="N",
                        help="bytes per request body (default from the profile: 50,000,000)")
    parser.add_argument("--max-batch-messages", type=_positive, metavar="N",
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
    import asyncio

    from engine.simulator import load_simulator_settings, start_simulator

    settings = load_simulator_settings(args.config)
    try:
        running = await start_simulator(settings, args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}). Pass "
                         "another --port, or --port 0 for any free one.") from exc
    print(_describe(settings, running.url), file=sys.stderr, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()
    return EXIT_OK


def _read_options(args: argparse.Namespace) -> ReadOptions:
    from engine.reading import ReadOptions

    return ReadOptions(
        source="<stdin>" if args.input == "-" else args.input, format=args.format,
        to_column=args.to_column, text_column=args.text_column or "text",
        text_column_required=args.text_column is not None, batch_text=args.text,
        template=args.template, strict=args.strict, dedupe=args.dedupe,
        encoding=args.encoding, delimiter=_unescape(args.delimiter),
        default_country=None if args.default_country.lower() == "none" else args.default_country,
        strict_numbers=args.strict_numbers,
        north_american_only=not args.any_country,
    )


def _unescape(delimiter: str | None) -> str | None:
    """``--delimiter '\\t'`` as typed in a shell means a tab."""
    return {"\\t": "\t", "tab": "\t"}.get(delimiter or "", delimiter)


def _plan(args: argparse.Namespace) -> int:
    import orjson

    from engine.batching.plan import make_plan
    from engine.config.settings import check_campaign, load_settings
    from engine.core.rejections import Aggregator
    from engine.reading import read_lines
    from engine.run.inputs import open_input

    check_campaign(args.sender, args.text, args.template)
    settings = load_settings(args.profile)
    max_bytes = args.max_batch_bytes or settings.limits.max_batch_bytes
    max_messages = args.max_batch_messages or settings.limits.max_batch_messages
    options = _read_options(args)
    aggregator = Aggregator()
    with open_input(args.input) as stream:
        blocks = read_lines(stream, options, aggregator.add_local)
        plan = make_plan(blocks, aggregator, args.sender, args.text, max_bytes, max_messages,
                         args.price_per_segment)
    for warning in plan.warnings:
        print(f"a2p: WARNING: {warning}", file=sys.stderr)
    if args.json:
        sys.stdout.buffer.write(orjson.dumps(plan.as_json(), option=orjson.OPT_APPEND_NEWLINE))
    else:
        print(_describe_plan(plan, options, args.sender, max_bytes, args.show_rejected))
    sys.stdout.flush()  # a closed pipe (| head) shows here, inside main's handler
    return EXIT_OK


def _describe_plan(plan: Plan, options: ReadOptions, sender: str, max_bytes: int,
                   show: int) -> str:
    from engine.reading.segments import estimate_cost

    batches = f"{len(plan.chunks):,} batch" + ("es" if len(plan.chunks) != 1 else "")
    price = plan.price_per_segment
    lines = [
        f"plan for {options.source}, from {sender}, at most {max_bytes:,} bytes per batch",
        f"  records read      {plan.records:>12,}",
        f"  to send           {plan.recipients:>12,}  in {batches}, {plan.bytes:,} bytes",
        f"  rejected locally  {len(plan.rejected):>12,}",
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
    if plan.rejected:
        lines += ["", f"  rejected locally (first {min(show, len(plan.rejected))}; --json "
                  "lists all):"]
        for r in plan.rejected[:show]:
            where = f"line {r.line}" if r.line is not None else f"item {r.index}"
            value = "" if r.to is None else f"{r.to!r}: "
            lines.append(f"    {where}: {value}{r.error_code}: {r.description}")
    return "\n".join(lines)


def _price(value: str) -> float:
    try:
        price = float(value)
    except ValueError:
        price = -1.0
    if not price >= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a price; give a number such as "
                                         "0.007")
    return price


async def _watch_signals(stop: anyio.Event, scope: anyio.CancelScope) -> None:
    """First Ctrl-C (or SIGTERM): stop sending, let requests on the wire finish. Second: end
    at once; the journal, written before every step, still resumes."""
    import anyio

    with anyio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async for _ in signals:
            if stop.is_set():
                _say("a2p: second interrupt: ending now.")
                scope.cancel()
                return
            _say("a2p: stopping: no new batches; letting requests on the wire finish "
                 "(Ctrl-C again to end at once)...")
            stop.set()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


async def _redraw(progress: Progress) -> None:
    """The progress line moves while the run waits (rate budget, OAuth, tracking)."""
    import anyio

    while True:
        await anyio.sleep(progress.every)
        progress.tick()


class _Events:
    """Events as JSON lines on stdout. When the reader of stdout goes away (``| head``), the
    run goes on (stopping it half-way would help nobody) and the report keeps everything."""

    def __init__(self) -> None:
        self.gone = False

    def write(self, event: dict[str, Any]) -> None:
        import orjson

        if self.gone:
            return
        try:
            sys.stdout.buffer.write(orjson.dumps(event, option=orjson.OPT_APPEND_NEWLINE))
            sys.stdout.flush()
        except BrokenPipeError:
            self.gone = True
            _silence_stdout()
            _say("a2p: stdout was closed; events are no longer written, the run goes on and "
                 "the report will hold everything.")


def _silence_stdout() -> None:
    """Point stdout at /dev/null so the interpreter's final flush does not fail again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    os.close(devnull)


async def _send(args: argparse.Namespace) -> int:
    import anyio

    from engine.cli.progress import Progress
    from engine.run.api import send
    from engine.run.events import parse

    progress = Progress(sys.stderr)
    events = _Events()

    async def emit(event: dict[str, Any]) -> None:
        events.write(event)
        if not args.quiet:
            progress.see(parse(event))
        if event["event"] == "warning":  # loud even with -q: it may mean a wasted campaign
            print(f"a2p: WARNING: {event['message']}", file=sys.stderr, flush=True)

    alone = args.resume and args.input is None
    if not args.resume and (args.input is None or args.sender is None):
        raise UsageError("send needs INPUT and --from (or --resume JOURNAL alone to continue "
                         "a run). See a2p send --help.")
    header = _journal_header(args)
    report_path, journal = _paths(args, header)
    stop = anyio.Event()
    report: dict[str, Any] | None = None
    async with anyio.create_task_group() as group:
        group.start_soon(_watch_signals, stop, group.cancel_scope)
        if not args.quiet:
            group.start_soon(_redraw, progress)
        report = await send(
            args.input, sender=args.sender, text=args.text,
            template=args.template if alone else None,
            config=args.profile,
            # a resumed run reads as the journal says (INPUT, when given, is a stream again)
            read=None if args.resume else _read_options(args), concurrency=args.concurrency,
            max_batch_bytes=args.max_batch_bytes, max_batch_messages=args.max_batch_messages,
            wait=args.wait, delivery_timeout=args.delivery_timeout,
            on_ambiguous=args.on_ambiguous, revoke=not args.no_revoke, on_event=emit, stop=stop,
            on_read=progress.reading, journal=None if args.resume else journal,
            resume=args.resume, report=report_path, preflight=not args.no_preflight,
            on_wait=None if args.quiet else progress.waiting,
        )
        group.cancel_scope.cancel()
    if report is None:  # the second Ctrl-C: no report, the journal has every step
        _say("a2p: interrupted at once; no report was written. " + _resume_hint(args, journal))
        return EXIT_INTERRUPTED
    return _finish(report, report_path, args.quiet, _resume_hint(args, journal))


async def _check(args: argparse.Namespace) -> int:
    import orjson

    from engine.run.api import check

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
            return str(header["report"]), args.resume
        default = args.resume.removesuffix(".journal")
        report = args.report or (default if default != args.resume else default + ".json")
        return report, args.resume
    report = args.report or f"a2p-report-{datetime.now():%Y%m%d-%H%M%S}.json"
    return report, args.journal or report + ".journal"


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


def _finish(report: dict[str, Any], path: str, quiet: bool = False, hint: str = "") -> int:
    totals = report["totals"]
    if report["interrupted"]:
        code = EXIT_INTERRUPTED
    else:
        code = EXIT_OK if report["status"] == "completed" else EXIT_FAILED
    if code != EXIT_OK or not quiet:
        word = "interrupted" if report["interrupted"] else report["status"]
        _say(f"a2p: {word}: {totals['sent']:,} sent, {totals['rejectedLocal']:,} rejected "
             f"locally, {totals['rejectedServer']:,} by the server, {totals['failedChunks']} "
             f"batches failed, {totals['unknownChunks']} unknown" + _pending(totals) +
             f"; report: {path}" + (f". {hint}" if code == EXIT_INTERRUPTED and hint else ""))
    return code


def _pending(totals: dict[str, Any]) -> str:
    """Recipients whose fate the lagging message store did not tell yet, and what to do."""
    pending = totals.get("pending") or 0
    if not pending:
        return ""
    return (f", {pending:,} pending (adopted after a lost answer; the message store did not "
            "list them yet: they may have been texted, and are not retryable. Settle them "
            "later with --resume or 'a2p outcomes')")


async def _demo(args: argparse.Namespace) -> int:
    import orjson

    from engine.cli.progress import Progress
    from engine.config.settings import load_settings
    from engine.run.api import send
    from engine.run.events import parse
    from engine.simulator import load_simulator_settings, start_simulator

    sim_settings = replace(load_simulator_settings("simulator", env={}),
                           messages_per_second=500_000.0)
    running = await start_simulator(sim_settings)
    try:
        settings = replace(load_settings("simulator", env={}), server_url=running.url)
        progress = Progress(sys.stderr)

        async def emit(event: dict[str, Any]) -> None:
            if not args.quiet:
                progress.see(parse(event))

        if not args.quiet:
            _say(f"a2p demo: simulator on {running.url}; sending to {args.recipients:,} "
                 f"recipients in batches of at most {args.max_batch_bytes:,} bytes")
        report = await send(demo_recipients(args.recipients), sender=sim_settings.senders[0],
                            text="Your table is ready. Reply STOP to opt out.",
                            config=settings, credentials=sim_settings.credentials,
                            max_batch_bytes=args.max_batch_bytes, on_event=emit,
                            on_read=progress.reading, report=args.report,
                            on_wait=progress.waiting)
        ledger = running.simulator.store.accepted_count()
    finally:
        await running.stop()
    print(orjson.dumps({k: report[k] for k in ("status", "totals", "requests")},
                       option=orjson.OPT_INDENT_2).decode())
    if not args.quiet:
        _say(f"a2p demo: the simulator's ledger holds {ledger:,} accepted messages")
    return _finish(report, args.report, args.quiet)


def demo_recipients(n: int) -> Iterator[str]:
    """Distinct numbers with a few bad ones, all caught by the local checks: malformed, and
    non-North-American (which the server would refuse with SMS-RC-410)."""
    for i in range(n):
        if i % 997 == 996:
            yield f"555-{i:07d}"
        elif i % 1009 == 1008:
            yield f"+4420{i:08d}"
        else:
            area, line = divmod(i, 8_000_000)
            yield f"+1{201 + area}{2_000_000 + line:07d}"


def exit_code(exc: BaseException) -> int:
    """The documented exit code for what a command raised; a group (the run's task groups)
    takes the most telling code among what it carries."""
    if isinstance(exc, BaseExceptionGroup):
        codes = {exit_code(inner) for inner in exc.exceptions}
        return next((c for c in (EXIT_INTERRUPTED, EXIT_AUTH, EXIT_USAGE) if c in codes),
                    EXIT_FAILED)
    if isinstance(exc, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(exc, AuthError):
        return EXIT_AUTH
    if isinstance(exc, UsageError):
        return EXIT_USAGE
    return EXIT_FAILED


def messages(exc: BaseException) -> Iterator[str]:
    """One line per error, without a traceback: ours say what to do; anything else is a bug."""
    if isinstance(exc, BaseExceptionGroup):
        for inner in exc.exceptions:
            yield from messages(inner)
    elif isinstance(exc, KeyboardInterrupt):
        yield "interrupted."
    elif isinstance(exc, EngineError | OSError):
        yield str(exc)
    else:
        yield (f"unexpected {type(exc).__name__}: {exc}. This is a bug in a2p: run again with "
               "--verbose and report the traceback.")


def _load_env_file(name: str) -> None:
    """RC_* variables from a .env file, the way RingCentral's samples keep them."""
    from dotenv import dotenv_values

    if not Path(name).is_file():
        raise UsageError(f"--env-file {name}: no such file. Give the path of a .env file with "
                         "RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and RC_USER_JWT.")
    for key, value in dotenv_values(name).items():
        if key.startswith("RC_") and value is not None:
            os.environ[key] = value


def _logging(verbose: int, quiet: bool) -> None:
    import logging

    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    logging.basicConfig(level=level, stream=sys.stderr, format="a2p: %(name)s: %(message)s")
    # which credentials go where: a warning even with -q, the demo note unless -q
    logging.getLogger("engine.credentials").setLevel(logging.WARNING if quiet else logging.INFO)
    if verbose < 2:  # -vv shows aiohttp's and asyncio's own loggers too
        for name in ("aiohttp", "asyncio"):
            logging.getLogger(name).setLevel(logging.WARNING)


COMMANDS: dict[str, Callable[[argparse.Namespace], Any]] = {
    "plan": _plan, "send": _send, "check": _check, "outcomes": _outcomes, "demo": _demo,
    "simulate": _simulate, "bench": _bench, "config": _config,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every error becomes its documented exit code and a message on
    stderr (with the traceback only under --verbose). This is the one place that decides."""
    words = list(sys.argv[1:] if argv is None else argv)
    args = _parser().parse_args(words)
    args.argv = words
    _logging(args.verbose, args.quiet)
    try:
        if args.env_file:
            _load_env_file(args.env_file)
        result = COMMANDS[args.command](args)
        if isinstance(result, types.CoroutineType):
            import asyncio

            result = asyncio.run(result)
        return int(result)
    except BrokenPipeError:  # `a2p plan ... | head`: the reader had enough
        _silence_stdout()
        return EXIT_OK
    except (Exception, KeyboardInterrupt, BaseExceptionGroup) as exc:
        return _fail(exc, args.verbose)


def _fail(exc: BaseException, verbose: int) -> int:
    if verbose:
        traceback.print_exception(exc, file=sys.stderr)
    for line in messages(exc):
        _say(f"a2p: {line}")
    return exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
