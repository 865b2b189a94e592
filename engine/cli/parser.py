"""The ``a2p`` argument parser: every command, option and help text (those of the commands
that take a campaign, plan, send and check, are engine/cli/sendparsers.py's). Building it
imports nothing of the send side (no aiohttp, anyio or reader), so ``a2p --help`` starts in a
blink."""

from __future__ import annotations

import argparse
import textwrap
from collections.abc import Iterator
from typing import Any

from engine import __version__
from engine.cli.exits import EXIT_CODES
from engine.cli.helptext import PROFILE_CHOICE, PROFILE_HELP, fill
from engine.cli.sendparsers import check_parser, plan_parser, send_parser


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


def build_parser() -> argparse.ArgumentParser:
    """The whole command line: the top level and every command, in --help's order."""
    parser = argparse.ArgumentParser(
        prog="a2p", parents=[_common(defaults=True)],
        description="Send SMS to huge lists through RingCentral's High Volume (A2P) SMS API, "
        "or rehearse it against the bundled simulator.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=fill(
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
    for add in (_simulate_parser, plan_parser, send_parser, check_parser,
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
                     "journal's name less .journal, plus .outcomes.csv: run.journal gives "
                     "run.outcomes.csv)")
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
        epilog=fill("Exit codes: 0 written; 1 the server failed; 2 usage; 3 credentials "
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
        epilog=fill("Exit codes: 0 every number opted out; 1 some lines failed (listed on "
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
        epilog=fill("Exit codes: 0 shown; 2 a profile or variable is wrong, or they do not "
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


