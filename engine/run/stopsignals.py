"""The signals that stop a run (Ctrl-C, SIGTERM; Ctrl-Break on Windows) as an async stream,
on every platform.

anyio's ``open_signal_receiver`` rests on ``loop.add_signal_handler``, which asyncio has only
on POSIX. Windows (and any thread but the main one's loop there) gets the portable mechanism
instead: ``signal.signal`` handlers that hand each signal to the running loop with
``call_soon_threadsafe``, the one loop call a signal handler may make. Python runs a handler
in the main thread between bytecodes, and an asyncio loop wakes for it (the proactor loop on
Windows through its wakeup socket; a selector loop's ``select`` is retried after the handler
ran, PEP 475), so both mechanisms deliver a signal while the loop waits. ``NATIVE`` picks one:
a test sets it False to run the portable path on Linux (docs/windows.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from types import FrameType
from typing import Any

import anyio

# anyio's receiver where asyncio can add signal handlers (POSIX); signal.signal elsewhere
NATIVE = sys.platform != "win32"


def stop_signal_numbers() -> tuple[int, ...]:
    """SIGINT and SIGTERM, and Windows' Ctrl-Break (SIGBREAK), where the platform has it. On
    Windows SIGTERM is never delivered by another process (``os.kill`` ends the process
    there), but a handler costs nothing."""
    wanted = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGBREAK"):
        wanted.append(signal.SIGBREAK)
    return tuple(int(number) for number in wanted)


@contextlib.contextmanager
def stop_signals(numbers: tuple[int, ...] | None = None) -> Iterator[AsyncIterator[int]]:
    """The stop signals received while the block runs, as an async stream of their numbers;
    the handlers before it are back after. Call it inside the running loop, in the main
    thread (Python delivers signals to no other: elsewhere the stream stays empty)."""
    wanted = numbers or stop_signal_numbers()
    if hasattr(signal, "pthread_sigmask"):  # a blocked signal (inherited) stays pending forever
        signal.pthread_sigmask(signal.SIG_UNBLOCK, wanted)
    if NATIVE:
        with anyio.open_signal_receiver(*map(signal.Signals, wanted)) as received:
            yield received
        return
    with _portable(wanted) as receive:
        yield receive


@contextlib.contextmanager
def _portable(wanted: tuple[int, ...]) -> Iterator[AsyncIterator[int]]:
    """``signal.signal`` handlers that pass each signal to the running loop."""
    loop = asyncio.get_running_loop()
    send, receive = anyio.create_memory_object_stream[int](math.inf)
    with send, receive:
        def deliver(number: int) -> None:
            with contextlib.suppress(anyio.ClosedResourceError, anyio.BrokenResourceError):
                send.send_nowait(number)

        def handler(number: int, frame: FrameType | None) -> None:
            with contextlib.suppress(RuntimeError):  # the loop closed as the signal came
                loop.call_soon_threadsafe(deliver, number)

        previous: dict[int, Any] = {}
        try:
            for number in wanted:
                try:
                    previous[number] = signal.signal(number, handler)
                except ValueError:  # not the main thread: no signal reaches this loop
                    break
            yield receive
        finally:
            for number, before in previous.items():  # None: one set outside Python
                signal.signal(number, signal.SIG_DFL if before is None else before)
