"""The types of a send's values, checked before anything is read or sent: a caller without a
type checker (a notebook, a plain script) hears which parameter is wrong and what it takes, in
the library's words (``text=``, not ``--text``), instead of a TypeError from deep inside the
engine. The CLI's parser gives only well-typed values, so these messages are the library's."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable, Iterable
from numbers import Real
from typing import TYPE_CHECKING, Any

from engine.errors import UsageError

if TYPE_CHECKING:
    from engine.run.options import SendOptions

_TEXTS = ("sender", "text", "template", "quiet_hours", "tz_column")
_COUNTS = ("concurrency", "max_batch_bytes", "max_batch_messages")
_SECONDS = ("max_consent_age", "delivery_timeout", "window_margin")
_SWITCHES = ("consent", "revoke", "preflight", "exit_when_waiting")
_PATHS = ("journal", "resume", "report", "metrics")
_HOOKS = ("on_event", "on_read", "on_wait", "clock", "sleep", "wall")


def _got(value: object) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_types(options: SendOptions) -> None:
    """A UsageError naming the first parameter whose value has the wrong type."""
    from engine.run.options import ON_AMBIGUOUS, WAITS

    for name in _TEXTS:
        value = getattr(options, name)
        if value is not None and not isinstance(value, str):
            raise UsageError(f"{name}= takes a string or None; got {_got(value)}.")
    for name in _COUNTS:
        value = getattr(options, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise UsageError(f"{name}= takes a whole number or None; got {_got(value)}.")
    for name in _SECONDS:
        value = getattr(options, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, Real)):
            raise UsageError(f"{name}= takes a number of seconds; got {_got(value)}.")
    for name in _SWITCHES:
        value = getattr(options, name)
        if not isinstance(value, bool):
            raise UsageError(f"{name}= takes True or False; got {_got(value)}.")
    for name in _PATHS:
        value = getattr(options, name)
        if value is not None and not isinstance(value, str | os.PathLike):
            raise UsageError(f"{name}= takes a path (a string or pathlib.Path) or None; got "
                             f"{_got(value)}.")
    for name in _HOOKS:
        value = getattr(options, name)
        if value is not None and not callable(value):
            raise UsageError(f"{name}= takes a function; got {_got(value)}.")
    if isinstance(options.suppress, str | os.PathLike | bytes):
        raise UsageError(f"suppress= takes a list of files or of iterables of numbers: write "
                         f"suppress=[{options.suppress!r}].")
    if options.wait not in WAITS:
        raise UsageError(f"wait={options.wait!r}: wait must be one of {', '.join(WAITS)}.")
    if options.on_ambiguous not in ON_AMBIGUOUS:
        raise UsageError(f"on_ambiguous={options.on_ambiguous!r}: on_ambiguous must be one "
                         f"of {', '.join(ON_AMBIGUOUS)}.")


def check_recipients(recipients: Any) -> None:
    """The recipients a send takes: a path ("-": stdin), or an iterable or async iterable of
    numbers, (to, text) pairs or mappings; None only with ``resume=``."""
    if recipients is None or isinstance(recipients, str | os.PathLike):
        return
    if isinstance(recipients, bytes | bytearray) or not isinstance(recipients, Iterable |
                                                                   AsyncIterable):
        raise UsageError(f"recipients takes a path to a list (CSV, JSONL, plain lines, .gz; "
                         f"\"-\" for stdin) or an iterable of numbers, (to, text) pairs or "
                         f"mappings; got {_got(recipients)}.")
