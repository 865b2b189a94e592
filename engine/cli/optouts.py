"""``a2p optouts pull`` and ``a2p optouts push``: the account's opt-outs as a suppression file
that ``--suppress`` reads, and local opt-outs written to RingCentral."""

from __future__ import annotations

import argparse
import sys

from engine.cli.exits import EXIT_FAILED, EXIT_OK
from engine.errors import UsageError


async def run(args: argparse.Namespace) -> int:
    """The action asked for; its exit code."""
    if args.action == "pull":
        return await _pull(args)
    return await _push(args)


def _scope(args: argparse.Namespace) -> str:
    """--scope, by default pair with --from and account without it."""
    scope: str = args.scope or ("pair" if args.sender else "account")
    if scope == "pair" and not args.sender:
        raise UsageError("a2p optouts pull --scope pair: give the sender whose opt-outs to "
                         "pull with --from E164 (or --scope account for every sender's).")
    if scope == "account" and args.sender:
        raise UsageError("a2p optouts pull: --from names one sender, but --scope account pulls "
                         "every sender's opt-outs. Drop --from, or use --scope pair.")
    return scope


async def _pull(args: argparse.Namespace) -> int:
    from engine.run.optouts import pull

    scope = _scope(args)
    done = await pull(args.out, scope=scope, sender=args.sender, via=args.via,
                      config=args.profile)
    whose = f"to {args.sender}" if scope == "pair" else "to any number of the account"
    read = "the consent export" if done.via == "export" else _count(done.pages, "search page")
    if args.quiet:  # the file is the answer; -q: nothing but errors
        return EXIT_OK
    print(f"a2p optouts: wrote {done.records:,} opt-outs {whose} to {done.path} "
          f"({read}; {_count(done.requests, 'request')} with the login). Use it with: "
          f"a2p send LIST --suppress {done.path} ...", file=sys.stderr)
    if done.skipped:
        print(f"a2p optouts: left out {done.skipped:,} records read that are not opt-outs "
              f"{whose}", file=sys.stderr)
    return EXIT_OK


async def _push(args: argparse.Namespace) -> int:
    from engine.core.optouts import Failure
    from engine.reading import ReadOptions
    from engine.run.optouts import push

    read = ReadOptions(source=args.file, to_column=args.to_column, encoding=args.encoding,
                       default_country=None if args.default_country.lower() == "none"
                       else args.default_country, north_american_only=not args.any_country)

    def report(failure: Failure) -> None:
        print(f"a2p optouts: {args.file}, {failure}", file=sys.stderr)

    sender = args.sender or "*"
    done = await push(args.file, sender=sender, read=read, config=args.profile,
                      on_failure=report)
    whom = args.sender or "every number of the account"
    if not args.quiet or done.failed:
        print(f"a2p optouts: {_count(done.opted_out, 'number')} opted out of {whom} in "
              f"{_count(done.requests, 'PATCH request')}; {done.failed:,} failed",
              file=sys.stderr)
    if done.failed:
        print(f"a2p optouts: {done.failed:,} numbers of {args.file} are not opted out (listed "
              "above with their lines): fix them and run the same command again; it is safe "
              "to repeat.", file=sys.stderr)
        return EXIT_FAILED
    return EXIT_OK


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
