"""The ``a2p`` argument parser: every command, option and help text. Building it imports
nothing of the send side (no aiohttp, anyio or reader), so ``a2p --help`` starts in a blink."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Iterator
from typing import Any

from engine import __version__
from engine.cli.exits import EXIT_CODES
from engine.cli.scheduleflags import add_schedule_flags
from engine.reading import FORMATS
from engine.reading.segments import DEFAULT_PRICE

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
    common.add_argument("--log-format", choices=("text", "json"), default=default("text"),
                        help="text (the default) or json: each log line on stderr as one "
                        "JSON object (time, level, logger, message; with -v each request's "
                        "method, path, status, RCRequestId and duration)")
    common.add_argument("--env-file", metavar="PATH", default=default(None),
                        help="read RC_* variables from a .env file (its values win over the "
                        "environment's)")
    return common


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a whole number of 1 or more")
    return number


def _minutes(value: str) -> float:
    """--max-consent-age in minutes (a fraction allowed), as seconds."""
    try:
        minutes = float(value)
    except ValueError:
        minutes = -1.0
    if not minutes >= 0:
        raise argparse.ArgumentTypeError(f"{value} is not a number of minutes, 0 or more")
    return minutes * 60.0


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the top level and every command, in --help's order."""
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
    # argparse names the choices (an unknown command's error) by iterating this map
    sub.choices = sub._name_parser_map = _Commands()
    common = _common(defaults=False)
    for add in (_simulate_parser, _plan_parser, _send_parser, _check_parser,
                _outcomes_parser, _optouts_parser, _config_parser, _demo_parser,
                _bench_parser):
        add(sub, common)
    return parser


class _Commands(dict[str, argparse.ArgumentParser]):
    """The commands by name; a ``hidden`` one parses as the others do but is never named
    (not in --help, nor in "invalid choice ... (choose from ...)")."""

    hidden: frozenset[str] = frozenset()

    def __iter__(self) -> Iterator[str]:
        return (name for name in super().__iter__() if name not in self.hidden)


def _simulate_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """a2p simulate: serve the simulator."""
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
    sim.add_argument("--clock", default="", metavar="START@xSPEED",
                     help="simulated time instead of the real clock, e.g. "
                     "2026-03-07T05:00:00-05:00@x3600 (an hour a second from 05:00 Eastern); "
                     "GET /_sim/clock gives it for the library (engine.send with clock=, "
                     "wall=, sleep= from SimClock.from_env(): docs/simulator.md) and the "
                     "tests to share; the a2p commands keep the real clock")


def _plan_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """a2p plan: the dry run."""
    plan = sub.add_parser(
        "plan", help="dry run: read and chunk a list, send nothing", parents=[common],
        description=textwrap.fill(
            "Read a recipient list and cut it into request bodies exactly as 'send' would, "
            "without sending anything. Prints the batches (recipients, bytes, input "
            "positions, SMS segments, UCS-2 messages, estimated cost), why texts are UCS-2 "
            "(the characters and their lines), warnings (a UCS-2 batch text, more than half "
            "the list rejected, and the compliance lint: a marketing-looking text without "
            "opt-out language or a brand first, more than --warn-suppressed of the list "
            "suppressed, per CTIA) and every record rejected locally, so you can fix the list "
            "first. Warnings never stop a plan or a send.", 88),
        epilog="Examples:\n  a2p plan list.csv --from +16505550100 --text 'Store opens at 9'\n"
        "  a2p plan people.jsonl --from +16505550100 --template 'Hi {name}, code {code}'\n"
        "  a2p plan export.csv --from +16505550100 --encoding cp1252 --to-column 'Phone Number' "
        "\\\n      --template 'Hi {First Name|there}!' --price-per-segment 0.0079\n"
        "  zcat numbers.txt.gz | a2p plan - --from +16505550100 --text Hi --json | jq .chunks",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _input_options(plan)
    plan.add_argument("--consent", action="store_true",
                      help="log in with the profile's credentials and read RingCentral's "
                      "opt-outs, to count the recipients they suppress (plan otherwise "
                      "connects to nothing)")
    plan.add_argument("--json", action="store_true", help="print the plan as one JSON document")
    plan.add_argument("--show-rejected", type=int, default=20, metavar="N",
                      help="list at most N local rejections (default 20; the JSON has all)")
    _lint_options(plan, with_list=True)
    plan.add_argument("--price-per-segment", type=_price, default=DEFAULT_PRICE,
                      metavar="PRICE", help="price of one SMS segment for the cost estimate "
                      f"(default {DEFAULT_PRICE}, a typical US A2P price in USD: use yours)")
    add_schedule_flags(plan)


def _send_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """a2p send: the run."""
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
    _send_schedule_options(send)


def _check_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """a2p check: the pre-flight alone."""
    check = sub.add_parser(
        "check", help="pre-flight: is --from an A2P number of this user? (sends nothing)",
        parents=[common],
        description=textwrap.fill(
            "Log in, confirm the sender number belongs to the user and has the A2PSmsSender "
            "feature, and read its SMS registration tier and daily cap where RingCentral "
            "exposes them. 'send' runs the same check before its first request. With --text or "
            "--template it also lints the text (warnings, never refusals): a "
            "marketing-looking text (sale, % off, offer, free...) without opt-out language "
            "('Reply STOP to opt out') or without the brand first ('Acme: ...'), per CTIA.",
            88),
        epilog="Exit codes: 0 the sender can send (warnings, if any, go to stderr); 1 its "
        "opt-outs (RingCentral's consent records) cannot be read, so a send would stop; 2 the "
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
    check.add_argument("--suppress-scope", choices=("account", "pair"), default="account",
                       help="count the opt-outs that suppress a recipient for --from: of "
                       "any number of the account (default), or to --from alone (pair)")
    check.add_argument("--no-consent", action="store_true",
                       help="do not read RingCentral's opt-outs")
    check.add_argument("--json", action="store_true", help="print the findings as JSON")
    texts = check.add_mutually_exclusive_group()
    texts.add_argument("--text", help="the campaign's text, to lint (see --brand)")
    texts.add_argument("--template", metavar="T", help="the campaign's template, to lint")
    _lint_options(check, with_list=False)


def _lint_options(parser: argparse.ArgumentParser, with_list: bool) -> None:
    """The compliance lint's options (engine/core/lint.py): warnings, never refusals."""
    parser.add_argument("--brand", metavar="NAME",
                        help="the brand each text should start with (CTIA: identify the "
                        "sender); without it a marketing-looking text is expected to start "
                        "with a name and a colon, e.g. 'Acme: ...'")
    if with_list:
        parser.add_argument("--warn-suppressed", type=_percent, default=5.0,
                            metavar="PERCENT",
                            help="warn when more than this share of the list is suppressed "
                            "(default 5)")


def _demo_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """a2p demo: a rehearsal against the simulator."""
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


def _bench_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """a2p bench: the benchmark harness of a checkout; left out of --help where the package
    was installed without one (a wheel), and there it says how to get it."""
    from engine.cli.bench import NO_HARNESS, harness_checkout

    description = ("Same as 'python -m benchmarks': every figure a ratio against a floor "
                   "measured in the same run; writes results.json, results.md and plots.")
    if harness_checkout() is None:
        bench = sub.add_parser("bench", description=NO_HARNESS.removeprefix("a2p: "))
        sub.choices.hidden = frozenset({"bench"})
    else:
        bench = sub.add_parser(
            "bench", help="run the benchmark harness (a source checkout)",
            description=description)
    bench.add_argument("rest", nargs=argparse.REMAINDER,
                       help="quick|full [--out DIR] [--compare OLD.json]")


def _outcomes_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """a2p outcomes: every recipient's fate."""
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
            "sending-failed, opted-out (SMS-RC-413 or SMS-CAR-413: the recipient opted out of "
            "this sender; never retryable), sent-no-receipt, queued, unknown (the send could "
            "not tell whether the batch went out), not-sent, pending. Groups: failed, pending, "
            "retryable, suppressed (the rejected-local rows of LCL-OPTED-OUT: on a --suppress "
            "list or opted out in RingCentral's consent records). So 'suppressed' were never "
            "sent; 'opted-out' were sent, accepted, then failed because the recipient had "
            "opted out (a STOP after the opt-outs were read, or a carrier's).", 88) + "\n\n" +
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
    # engine.results.output.FORMATS, which loads the export; tests/test_cli_parser.py checks
    out.add_argument("--format", choices=("csv", "jsonl"),
                     help="csv (default) or jsonl (default when --out ends in .jsonl)")
    out.add_argument("--input", metavar="PATH",
                     help="the list the run sent, when it moved or the run read stdin")
    out.add_argument("--profile", "--config", dest="profile", metavar="NAME",
                     help="profile in configs/ or a .toml path (default: the run's)")


def _optouts_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """a2p optouts pull|push: the account's opt-outs to a file, a file's to the account."""
    optouts = sub.add_parser(
        "optouts", help="pull RingCentral's opt-outs to a --suppress file, or push a file's",
        parents=[common],
        description=textwrap.fill(
            "RingCentral keeps an opt-out per (sender, recipient) pair, and accepts a message "
            "to an opted-out pair only to fail it later (SMS-RC-413). 'pull' writes the "
            "account's opt-outs as a suppression file that 'send --suppress FILE' reads, so "
            "they are never POSTed; 'push' writes local opt-outs (a do-not-contact list, a STOP "
            "taken by phone or email) to RingCentral, so every sender of the account honours "
            "them.", 88),
        epilog="Examples:\n"
        "  a2p optouts pull --out opt-outs.csv                  # every sender's opt-outs\n"
        "  a2p optouts pull --from +16505550100 --out mine.csv  # only this sender's\n"
        "  a2p send list.csv --from +16505550100 --text 'Hi' --suppress opt-outs.csv\n"
        "  a2p optouts push do-not-contact.csv                  # opted out of every number\n"
        "  a2p optouts push stops.txt --from +16505550100       # of this number only",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = optouts.add_subparsers(dest="action", required=True, metavar="ACTION")
    pull = actions.add_parser(
        "pull", help="write the account's opt-outs as a suppression file", parents=[common],
        description=textwrap.fill(
            "Read the account's opt-outs (by default GET .../sms/consents/export: one Light "
            "request whatever their number; --via search: POST .../sms/consents/search, 1,000 "
            "a page, one request per 1,000) and write them as a CSV "
            "whose number column is 'to', with from, optStatus, source and lastModifiedTime "
            "beside it: 'send --suppress FILE' and 'plan --suppress FILE' read it as it is. "
            "The file is written as FILE.part and renamed when complete.", 88),
        epilog=_fill("Exit codes: 0 written; 1 the server failed; 2 usage; 3 credentials "
                     "refused."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    pull.add_argument("--scope", choices=("pair", "account"),
                      help="account: opt-outs to any number of the account (the default "
                      "without --from; stricter than RingCentral's per-pair rule, as the "
                      "FCC's revocation rule asks); pair: only opt-outs to --from (the "
                      "default with --from; RingCentral's own rule)")
    pull.add_argument("--from", dest="sender", metavar="E164",
                      help="the sender whose opt-outs a pair scope pulls, e.g. +16505550100")
    pull.add_argument("--via", choices=("export", "search"), default="export",
                      help="export (the default: the account's consent records as one CSV, "
                      "one Light request) or search (pages of 1,000: when a gateway between "
                      "here and RingCentral spoils the export)")
    pull.add_argument("--out", required=True, metavar="FILE",
                      help="the suppression file to write (CSV)")
    pull.add_argument("--profile", "--config", dest="profile", default=None, metavar="NAME",
                      help=PROFILE_HELP)
    push = actions.add_parser(
        "push", help="opt out the numbers a file lists, on RingCentral", parents=[common],
        description=textwrap.fill(
            "Read FILE as --suppress reads one (one number a line, or a CSV with a number "
            "column: to, phone, mobile...; any format the reader takes, with "
            "--default-country) and set each number OptOut (source Api) from --from, or from "
            "every number of the account ('*') without it: PATCH .../sms/consents, at most "
            "1,000 records a request. Each record RingCentral refuses (failedRecords) and "
            "each line without a readable number is printed with its line. Running it again "
            "is safe: an opted-out pair stays opted out.", 88),
        epilog=_fill("Exit codes: 0 every number opted out; 1 some lines failed (listed on "
                     "stderr with their lines) or the server failed; 2 usage; 3 credentials "
                     "refused."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    push.add_argument("file", metavar="FILE", help="the numbers to opt out")
    push.add_argument("--from", dest="sender", metavar="E164",
                      help="opt them out of this number only (default: every number of the "
                      "account)")
    push.add_argument("--to-column", default="to", metavar="NAME",
                      help="CSV column with the number (default to, else one named phone, "
                      "mobile, number...)")
    push.add_argument("--default-country", default="US", metavar="CC",
                      help="country of numbers written without +: US or CA (default US); "
                      "none requires +1")
    push.add_argument("--any-country", action="store_true",
                      help="take numbers outside North America too")
    push.add_argument("--encoding", default="utf-8", metavar="NAME",
                      help="the file's encoding (default utf-8)")
    push.add_argument("--profile", "--config", dest="profile", default=None, metavar="NAME",
                      help=PROFILE_HELP)


def _config_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """a2p config: the effective settings and their sources."""
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


def _send_options(parser: argparse.ArgumentParser) -> None:
    """What send adds to plan's options: files, resume, pacing, waiting."""
    parser.add_argument("--report", metavar="PATH",
                        help="report file (default a2p-report-<YYYYmmdd-HHMMSS>.json)")
    parser.add_argument("--journal", metavar="PATH",
                        help="crash-safe journal of the run (default: the report path + "
                        ".journal)")
    parser.add_argument("--metrics", metavar="PATH",
                        help="write the run's counters to PATH in Prometheus's text format "
                        "(for a node exporter's textfile collector), replaced atomically "
                        "every few seconds and at the end: records read, sent, rejected by "
                        "source, batches by state, rate budget left, seconds waited")
    parser.add_argument("--resume", metavar="JOURNAL",
                        help="continue the run this journal describes; INPUT, --from, --text, "
                        "--template, the profile, reading options and the report path come "
                        "from the journal (given again, they must match): accepted batches "
                        "are never sent again. A run that read stdin: cat LIST | a2p send - "
                        "--resume JOURNAL. One process per journal: a second exits 2")
    parser.add_argument("--input", dest="moved_input", metavar="PATH",
                        help="with --resume: the run's list where it is now (its folder "
                        "moved, e.g. mounted elsewhere in a pod); refused unless it holds "
                        "the very records the run read. Without it a resume reads the "
                        "journal's path, or the file of that name beside the journal")
    parser.add_argument("--concurrency", type=_positive, metavar="N",
                        help="requests in flight at once (default from the profile)")
    # WAITS and ON_AMBIGUOUS of engine/run/options.py, spelt out because that module loads
    # anyio; tests/test_cli_parser.py keeps them equal
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
                        "resend (default), resend blindly (not with a daily cap), or report it "
                        "unknown")
    parser.add_argument("--no-revoke", action="store_true",
                        help="keep the OAuth session open at the end")
    parser.add_argument("--no-preflight", action="store_true",
                        help="skip the check that --from is an A2P number of this user "
                        "(see 'a2p check') before the first request")
    parser.add_argument("--no-consent", action="store_true",
                        help="do not read RingCentral's opt-outs (its SMS consent records) "
                        "before the first request; by default a recipient who opted out is "
                        "never sent (LCL-OPTED-OUT), and a run that cannot read them stops")
    parser.add_argument("--max-consent-age", type=_minutes, default=15 * 60.0,
                        metavar="MINUTES", help="how old RingCentral's opt-outs may be when "
                        "a batch is first POSTed (default 15): older, they are read again "
                        "before it (the export with If-None-Match: one Light request, a 304 "
                        "when nothing changed), and a run that cannot read them stops (finish "
                        "it with --resume, which always reads them first); 0 reads them before "
                        "every batch, one Light request each")


def _input_options(parser: argparse.ArgumentParser, resumable: bool = False) -> None:
    """The list and how to read it, shared by plan and send."""
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
    _reading_options(parser)
    parser.add_argument("--profile", "--config", dest="profile", default=None,
                        metavar="NAME", help=PROFILE_HELP + later)
    parser.add_argument("--max-batch-bytes", type=int, metavar="N",
                        help="bytes per request body (default from the profile: 50,000,000)")
    parser.add_argument("--max-batch-messages", type=_positive, metavar="N",
                        help="messages per request (default: no cap)")


def _reading_options(parser: argparse.ArgumentParser) -> None:
    """How the list is read and its numbers checked (ReadOptions)."""
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
                        "refuses them (SMS-RC-410), and with them +1 numbers the local North "
                        "American checks would refuse (reserved area codes, exchanges starting "
                        "0 or 1): every number needs only to be E.164; by default all of these "
                        "are rejected locally")
    parser.add_argument("--suppress", action="append", default=[], metavar="FILE",
                        help="never text the numbers this file lists (repeatable): one number "
                        "a line, or a CSV with a number column (to, phone, mobile...), read "
                        "with --default-country; each is a local rejection LCL-OPTED-OUT")
    parser.add_argument("--suppress-scope", choices=("account", "pair"), default=None,
                        help="which of RingCentral's opt-outs suppress a recipient: account "
                        "(the default): an opt-out to any number of the account; pair: only "
                        "one to --from, as RingCentral judges")
    parser.add_argument("--dedupe", nargs="?", const="number", choices=DEDUPE_RULES,
                        type=_dedupe_rule, metavar="RULE",
                        help="skip repeated recipients. number (the default for a bare "
                        "--dedupe): keep each number's first record, whatever its text. "
                        "message: keep the first record of each number and text, so one "
                        "number with two texts gets both. Put it after INPUT or write "
                        "--dedupe=RULE")


# The rule names, not engine.reading.options.DEDUPE_RULES: --help loads no reader.
DEDUPE_RULES = ("number", "message")


def _dedupe_rule(value: str) -> str:
    """A --dedupe rule; anything else most likely is INPUT, taken by a bare --dedupe."""
    if value not in DEDUPE_RULES:
        raise argparse.ArgumentTypeError(
            f"{value!r} is not a rule (choose from 'number', 'message'); to dedupe by "
            "number, put --dedupe after INPUT or write --dedupe=number")
    return value


def _percent(value: str) -> float:
    try:
        share = float(value.rstrip("%"))
    except ValueError:
        share = -1.0
    if not 0 <= share <= 100:
        raise argparse.ArgumentTypeError(f"{value!r} is not a percentage from 0 to 100")
    return share


def _price(value: str) -> float:
    try:
        price = float(value)
    except ValueError:
        price = -1.0
    if not price >= 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a price; give a number such as "
                                         "0.007")
    return price



def _send_schedule_options(parser: argparse.ArgumentParser) -> None:
    """A scheduled send (issue 22): the flags plan takes too, each left unset meaning off (or,
    on a resume, the journal's), and --exit-when-waiting."""
    group = add_schedule_flags(
        parser, send=True,
        title="schedule: with any of these the send runs in rounds, each sending the "
        "recipients whose window is open, and waits between them (a resume keeps the run's "
        "schedule)")
    group.add_argument("--exit-when-waiting", action="store_true",
                       help="when the next round is more than 5 minutes away, exit 75 "
                       "(EX_TEMPFAIL) instead of sleeping; run 'a2p send --resume JOURNAL' "
                       "again later (from cron: an overlapping run exits at once)")
