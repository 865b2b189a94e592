"""The exit-code map: what a command raised, as the process's documented exit code, and
the one-line message each error becomes on stderr."""

from __future__ import annotations

from collections.abc import Iterator

from engine.errors import AuthError, EngineError, UsageError

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_INTERRUPTED = 0, 1, 2, 3, 130
# EX_TEMPFAIL (sysexits.h): a scheduled send with --exit-when-waiting whose next round is
# more than 5 minutes away, or whose journal another process holds (a cron tick while the
# run goes on); the journal is kept and `a2p send --resume J` goes on later
EXIT_WAITING = 75

# Error class -> exit code; the first row that matches wins, anything else is EXIT_FAILED
# (a ServerError and the rest). AuthError is a ServerError, so its row keeps it from 1. The
# order is also the precedence inside a group (the run's task groups): an interrupt tells
# more than refused credentials, which tell more than a usage error.
EXIT_TABLE: tuple[tuple[type[BaseException], int], ...] = (
    (KeyboardInterrupt, EXIT_INTERRUPTED),
    (AuthError, EXIT_AUTH),
    (UsageError, EXIT_USAGE),
)

# The table as `a2p --help` and `a2p send --help` tell it.
EXIT_CODES = ("Exit codes: 0 every batch accepted and tracked to its end (rejected recipients "
              "are results, not failures); 1 some batches failed or are unknown, or the "
              "server (its token endpoint included) could not be reached or kept failing; 2 "
              "usage or configuration error (bad option, profile, environment variable, "
              "input file or journal); 3 the credentials were refused at login; 75 "
              "EX_TEMPFAIL: the next opening is more than 5 minutes away, or another "
              "process holds the journal (--exit-when-waiting: a cron tick while the run "
              "goes on); run `a2p send --resume J` again later; 130 "
              "interrupted (Ctrl-C or SIGTERM: the report and journal are "
              "written; finish with --resume).")


def exit_code(exc: BaseException) -> int:
    """The documented exit code for what a command raised; a group takes the most telling
    code among what it carries."""
    if isinstance(exc, BaseExceptionGroup):
        codes = {exit_code(inner) for inner in exc.exceptions}
        return next((code for _, code in EXIT_TABLE if code in codes), EXIT_FAILED)
    return next((code for kind, code in EXIT_TABLE if isinstance(exc, kind)), EXIT_FAILED)


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
