"""The command line as the library sees it: the parser's choices are the library's, and the
arguments of `a2p send` become the SendOptions the run is given."""

from __future__ import annotations

import argparse

import pytest

from engine.cli.exits import exit_code
from engine.cli.options import send_options
from engine.cli.parser import build_parser
from engine.errors import (
    AuthError,
    AuthServiceError,
    ConfigError,
    JournalBusyError,
    SenderError,
    ServerError,
)
from engine.reading import FORMATS
from engine.results.output import FORMATS as OUTCOME_FORMATS
from engine.run.options import ON_AMBIGUOUS, WAITS

SENDER = "+16505550100"


def choices(command: str, dest: str) -> tuple[str, ...]:
    sub = next(a for a in build_parser()._actions
               if isinstance(a, argparse._SubParsersAction))
    action = next(a for a in sub.choices[command]._actions if a.dest == dest)
    assert action.choices is not None
    return tuple(action.choices)


def test_the_parser_offers_exactly_the_library_choices() -> None:
    """--wait, --on-ambiguous, the input --format and outcomes --format accept exactly
    what the library accepts, in its order."""
    assert choices("send", "wait") == WAITS
    assert choices("send", "on_ambiguous") == ON_AMBIGUOUS
    assert choices("plan", "format") == ("auto", *FORMATS)
    assert choices("send", "format") == ("auto", *FORMATS)
    assert choices("outcomes", "format") == OUTCOME_FORMATS


def parse(*words: str) -> argparse.Namespace:
    return build_parser().parse_args(["send", *words])


def test_a_fresh_send_asks_for_what_its_flags_say() -> None:
    """Every send flag lands in the SendOptions, reading included; the journal is started."""
    args = parse("list.csv", "--from", SENDER, "--text", "Hi", "--concurrency", "3",
                 "--max-batch-bytes", "9000", "--max-batch-messages", "7", "--wait",
                 "delivered", "--delivery-timeout", "60", "--on-ambiguous", "fail",
                 "--no-revoke", "--no-preflight", "--profile", "sandbox", "--delimiter", "tab")
    options = send_options(args, "r.json", "r.json.journal")
    assert (options.sender, options.text, options.template) == (SENDER, "Hi", None)
    assert (options.concurrency, options.max_batch_bytes, options.max_batch_messages) == (
        3, 9000, 7)
    assert (options.wait, options.delivery_timeout, options.on_ambiguous) == (
        "delivered", 60.0, "fail")
    assert (options.revoke, options.preflight, options.config) == (False, False, "sandbox")
    assert (options.report, options.journal, options.resume) == (
        "r.json", "r.json.journal", None)
    assert options.read is not None
    assert (options.read.source, options.read.batch_text, options.read.delimiter) == (
        "list.csv", "Hi", "\t")


def test_a_resume_reads_as_its_journal_says() -> None:
    """--resume alone: no reading options and no new journal; the template given is passed
    on (to be checked against the journal's)."""
    options = send_options(parse("--resume", "run.journal", "--template", "Hi {name}"),
                           "run.json", "run.journal")
    assert (options.read, options.journal, options.resume) == (None, None, "run.journal")
    assert options.template == "Hi {name}"
    assert (options.revoke, options.preflight) == (True, True)


def test_a_resume_of_a_stream_takes_the_list_again_without_reading_options() -> None:
    """--resume with INPUT (a stream read again): still the journal's reading and text."""
    options = send_options(parse("-", "--resume", "run.journal", "--template", "Hi {name}"),
                           "run.json", "run.journal")
    assert (options.read, options.template, options.resume) == (None, None, "run.journal")


@pytest.mark.parametrize(("error", "code"), [
    (SenderError("not an A2P number"), 2), (JournalBusyError("run.journal", None), 2),
    (ConfigError("profile", "key", "bad", "Fix it."), 2), (AuthError("refused"), 3),
    (AuthServiceError("down"), 1), (ServerError("down"), 1), (ValueError("bug"), 1),
    (KeyboardInterrupt(), 130),
])
def test_each_error_class_has_its_documented_exit_code(error: BaseException,
                                                      code: int) -> None:
    """Usage errors (sender, journal, config) exit 2, refused credentials 3, a failing
    token endpoint or server 1, an interrupt 130, anything unforeseen 1."""
    assert exit_code(error) == code


def test_send_rate_reaches_the_options_and_a_rate_of_nothing_is_refused(
        capsys: pytest.CaptureFixture[str]) -> None:
    """--send-rate 8 (toll-free) becomes send_rate 8.0; left out it is None (1, on a
    schedule); 0 is refused by the parser, saying what to give."""
    args = parse("list.csv", "--from", SENDER, "--text", "Hi", "--quiet-hours", "tcpa",
                 "--send-rate", "8")
    assert send_options(args, "r.json", "r.json.journal").send_rate == 8.0
    plain = parse("list.csv", "--from", SENDER, "--text", "Hi")
    assert send_options(plain, "r.json", "r.json.journal").send_rate is None
    with pytest.raises(SystemExit):
        parse("list.csv", "--from", SENDER, "--text", "Hi", "--send-rate", "0")
    assert "10DLC" in capsys.readouterr().err
