"""The parsers of the commands that take a campaign: ``a2p plan``, ``a2p send`` and ``a2p
check``, and the options they share (the list and how it is read, send's files, resume, pacing
and waiting, the schedule, the compliance lint). The whole command line is built in
engine/cli/parser.py; like it, this imports nothing of the send side.
"""

from __future__ import annotations

import argparse
import textwrap
from typing import Any

from engine.cli.exits import EXIT_CODES
from engine.cli.helptext import PROFILE_HELP, fill
from engine.cli.scheduleflags import add_schedule_flags
from engine.reading import FORMATS
from engine.reading.segments import DEFAULT_PRICE

__all__ = ["DEDUPE_RULES", "check_parser", "plan_parser", "send_parser"]


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


def plan_parser(sub: Any, common: argparse.ArgumentParser) -> None:
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


def send_parser(sub: Any, common: argparse.ArgumentParser) -> None:
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
        epilog=fill(EXIT_CODES) + "\n\nExamples:\n"
        "  a2p send list.csv --from +16505550100 --text 'Store opens at 9' --profile production\n"
        "  a2p send --resume a2p-report-20261125-120000.json.journal   # finish a stopped run\n"
        "  cat list.txt | a2p send - --from +16505550100 --text Hi \\\n"
        "      | jq -c 'select(.event==\"rejected\")'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _input_options(send, resumable=True)
    _send_options(send)
    _send_schedule_options(send)


def check_parser(sub: Any, common: argparse.ArgumentParser) -> None:
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
