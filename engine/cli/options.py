"""What the parsed arguments ask for, as the library's own option values: ``ReadOptions``
for plan and send, ``SendOptions`` for send. No hooks here: the send runtime adds them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # both load at the call: SendOptions brings anyio, which plan never needs
    from engine.reading import ReadOptions
    from engine.run.options import SendOptions


def read_options(args: argparse.Namespace) -> ReadOptions:
    """How plan and send read INPUT: the format, columns, text, checks and encoding."""
    from engine.reading import ReadOptions

    options = ReadOptions(
        source="<stdin>" if args.input == "-" else args.input, format=args.format,
        to_column=args.to_column, text_column=args.text_column or "text",
        text_column_required=args.text_column is not None, batch_text=args.text,
        template=args.template, strict=args.strict, dedupe=args.dedupe,
        encoding=args.encoding, delimiter=_unescape(args.delimiter),
        default_country=None if args.default_country.lower() == "none" else args.default_country,
        strict_numbers=args.strict_numbers,
        north_american_only=not args.any_country,
    )
    if not getattr(args, "suppress", None):
        return options
    from dataclasses import replace

    from engine.run.suppress import load  # the files are read once, before the list

    return replace(options, suppress=load(args.suppress, options))


def _unescape(delimiter: str | None) -> str | None:
    """``--delimiter '\\t'`` as typed in a shell means a tab."""
    return {"\\t": "\t", "tab": "\t"}.get(delimiter or "", delimiter)


def send_options(args: argparse.Namespace, report: str, journal: str) -> SendOptions:
    """What ``a2p send`` asks of engine.send, writing ``report`` and ``journal``. A resumed
    run reads as its journal says (INPUT, when given, is a stream read again), and continues
    the journal rather than starting one."""
    from engine.run.options import SendOptions

    alone = args.resume and args.input is None
    return SendOptions(
        sender=args.sender, text=args.text, template=args.template if alone else None,
        config=args.profile, read=None if args.resume else read_options(args),
        concurrency=args.concurrency, max_batch_bytes=args.max_batch_bytes,
        max_batch_messages=args.max_batch_messages, wait=args.wait,
        delivery_timeout=args.delivery_timeout, on_ambiguous=args.on_ambiguous,
        revoke=not args.no_revoke, preflight=not args.no_preflight,
        consent=not args.no_consent, suppress_scope=args.suppress_scope,
        max_consent_age=args.max_consent_age,
        journal=None if args.resume else journal, resume=args.resume, report=report,
        quiet_hours=args.quiet_hours, tz_column=args.tz_column, daily_cap=args.daily_cap,
        at=args.at, expire_at=args.expire_at, window_margin=args.window_margin,
        send_rate=args.send_rate,
        exit_when_waiting=args.exit_when_waiting,
        metrics=getattr(args, "metrics", None),
    )
