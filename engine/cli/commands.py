"""``a2p``: parse the command line, run the command asked for, and turn whatever it raised
into its documented exit code. The one place that decides how the process ends.

Each command lives in its own module and is imported only when it runs, so ``a2p --help``
and ``a2p plan`` load nothing of the send side (aiohttp, anyio, the journal)."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback
import types
from collections.abc import Sequence

from engine.cli.exits import EXIT_OK, exit_code, messages
from engine.cli.output import say, silence_stdout
from engine.cli.parser import build_parser

# command -> (module, function): a plain function returns the exit code, a coroutine
# function's result is run to get it
COMMANDS: dict[str, tuple[str, str]] = {
    "plan": ("engine.cli.plan", "run"),
    "send": ("engine.cli.send", "run"),
    "check": ("engine.cli.check", "run"),
    "outcomes": ("engine.cli.outcomes", "run"),
    "optouts": ("engine.cli.optouts", "run"),
    "demo": ("engine.cli.demo", "demo"),
    "simulate": ("engine.cli.demo", "simulate"),
    "bench": ("engine.cli.bench", "run"),
    "config": ("engine.cli.config", "run"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; every error becomes its documented exit code and a message on
    stderr (with the traceback only under --verbose)."""
    words = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(words)
    args.argv = words
    _logging(args.verbose, args.quiet, args.log_format)
    try:
        if args.env_file:
            from engine.cli.config import load_env_file

            load_env_file(args.env_file)
        return _run(args)
    except BrokenPipeError:  # `a2p plan ... | head`: the reader had enough
        silence_stdout()
        return EXIT_OK
    except (Exception, KeyboardInterrupt, BaseExceptionGroup) as exc:
        return _fail(exc, args.verbose, args.log_format)


# the commands that judge a schedule by the clock (windows, caps, --at, --expire-at, fates)
CLOCKED = ("plan", "send", "outcomes")
SIM_CLOCK_ENV = "A2P_SIM_CLOCK"  # engine/simulator/clock.py CLOCK_ENV, not loaded here
REAL_CLOCK = ("a2p: note: {env} is set, but the a2p command keeps the real clock: quiet "
              "hours, daily caps, --at and --expire-at are judged by this machine's time, not "
              "the simulator's. To rehearse a scheduled send on simulated days, drive it with "
              "the library: engine.send(..., clock=sim.clock, wall=sim.wall, sleep=sim.sleep) "
              "with sim = SimClock.from_env() (docs/simulator.md, The clock and the audit)")


def _run(args: argparse.Namespace) -> int:
    if args.command in CLOCKED and os.environ.get(SIM_CLOCK_ENV, "").strip() and \
            not args.quiet:  # said, since the variable looks as if it would be used
        say(REAL_CLOCK.format(env=SIM_CLOCK_ENV))
    module, name = COMMANDS[args.command]
    result = getattr(importlib.import_module(module), name)(args)
    if isinstance(result, types.CoroutineType):
        import asyncio

        result = asyncio.run(result)
    return int(result)


def _logging(verbose: int, quiet: bool, log_format: str = "text") -> None:
    import logging

    from engine.cli.logformat import formatter

    level = logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(log_format))
    logging.basicConfig(level=level, handlers=[handler])
    # which credentials go where: a warning even with -q, the demo note unless -q
    logging.getLogger("engine.credentials").setLevel(logging.WARNING if quiet else logging.INFO)
    # which column of each --suppress file the numbers came from: said unless -q
    logging.getLogger("engine.suppress").setLevel(logging.WARNING if quiet else logging.INFO)
    if verbose < 2:  # -vv shows aiohttp's and asyncio's own loggers too
        for name in ("aiohttp", "asyncio"):
            logging.getLogger(name).setLevel(logging.WARNING)


def _fail(exc: BaseException, verbose: int, log_format: str = "text") -> int:
    if verbose and log_format == "json":  # one JSON line, its traceback a field of it
        import logging

        logging.getLogger("engine").error("the command failed: %s", type(exc).__name__,
                                          exc_info=exc)
    elif verbose:
        traceback.print_exception(exc, file=sys.stderr)
    for line in messages(exc):
        say(f"a2p: {line}")
    return exit_code(exc)


if __name__ == "__main__":
    sys.exit(main())
