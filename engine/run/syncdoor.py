"""The synchronous door, ``engine.send_sync``: ``engine.send`` for a plain script or a
notebook, which blocks until the run ends and returns its report.

With no event loop running in the calling thread (a script), the run gets one of its own there
(``asyncio.run``). Inside a running loop (Jupyter, IPython, an async framework) a second loop
cannot run in that thread, and blocking the running one in ``await`` is not possible from a
synchronous call: the run gets its own thread and loop, and the caller waits for it.

Either way Ctrl-C (a SIGINT in the main thread, the kernel's "interrupt" in a notebook) stops
the run as it stops ``a2p send``: no new batch is sent, requests on the wire finish, the report
is written; then ``engine.Interrupted`` (a KeyboardInterrupt) is raised in the caller with the
report as its ``report`` attribute. A second Ctrl-C ends the run at once (the journal, written
before every step, still resumes) and raises ``Interrupted`` whose ``report`` is None. Any
other exception of the run comes out as itself.

Inside a running loop the caller's thread is blocked in this call, so whatever SIGINT handler
its framework installed (asyncio.run's, which only cancels the main task; a loop's
``add_signal_handler``) cannot act until the call returns: while the caller waits in the main
thread, SIGINT is the run's (unless it is ignored), and the handler before is put back after.

Not ``engine.run``: that name is the ``engine.run`` package this module lives in.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import replace
from types import FrameType
from typing import Any, Unpack

import anyio

from engine.run.api import send
from engine.run.options import SendKeywords, SendOptions
from engine.run.shapes import Report
from engine.run.sources import Recipients


class Interrupted(KeyboardInterrupt):
    """``engine.send_sync`` stopped by Ctrl-C: ``report`` is the stopped run's report (its
    ``interrupted`` is true), or None when a second Ctrl-C ended the run at once (its journal
    still resumes it). A KeyboardInterrupt, so a script that does not catch it stops as on
    any Ctrl-C."""

    def __init__(self, report: Report | None) -> None:
        super().__init__()
        self.report: Report | None = report

# How long the waiting caller sleeps between looks at the run: a KeyboardInterrupt is raised
# between two looks (a lock wait is not interruptible on Windows before Python 3.14).
_LOOK_EVERY = 0.1


def send_sync(recipients: Recipients | None = None, options: SendOptions | None = None,
              **keywords: Unpack[SendKeywords]) -> Report:
    """``engine.send`` for code that is not async: run the send, block until it ends, and
    return its report. Works in a plain script and inside a running event loop (a notebook),
    where the run gets its own thread and loop; ``on_event`` is then called on that thread.

    >>> import engine                                                      # doctest: +SKIP
    >>> report = engine.send_sync("list.csv", sender="+16505550100",
    ...                           text="Hello", report="report.json")     # doctest: +SKIP
    """
    options = SendOptions.of(options, keywords)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _here(recipients, options)
    return _on_thread(recipients, options)


class _Run:
    """One run on the loop of the thread that calls ``main``, stoppable from any thread."""

    def __init__(self, recipients: Recipients | None, options: SendOptions) -> None:
        self.recipients, self.options = recipients, options
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task[Any] | None = None
        self.stop: anyio.Event | None = None
        self.interrupts = 0

    async def main(self) -> Report | None:
        """The run's report; None when a second interrupt cancelled it."""
        self.loop, self.task = asyncio.get_running_loop(), asyncio.current_task()
        self.stop = self.options.stop or anyio.Event()
        if self.interrupts >= 2:  # two Ctrl-C while the loop was starting: ended at once
            return None
        if self.interrupts:  # a Ctrl-C came while the loop was starting
            self.stop.set()
        try:
            return await send(self.recipients, replace(self.options, stop=self.stop))
        except asyncio.CancelledError:
            if self.interrupts < 2:
                raise
            return None

    def interrupt(self) -> None:
        """Ctrl-C: the first stops the run, the second cancels it. Safe from any thread and
        from a signal handler."""
        self.interrupts += 1
        loop, task, stop = self.loop, self.task, self.stop
        if loop is None or task is None or stop is None:
            return  # not started yet: main() stops the run as it starts
        with contextlib.suppress(RuntimeError):  # the loop has closed: the run is over
            loop.call_soon_threadsafe(stop.set if self.interrupts == 1 else task.cancel)

    def outcome(self, report: Report | None) -> Report:
        """The report, or the Interrupted an interrupted caller is owed."""
        if self.interrupts == 0 and report is not None:
            return report
        raise Interrupted(report)


def _here(recipients: Recipients | None, options: SendOptions) -> Report:
    """No loop in this thread: the run's own, here; Ctrl-C caught as a signal meanwhile.
    SIGINT is taken only in the main thread, and only from Python's default handler (as
    asyncio.run decides, before it puts its own there): a program's own handler, or SIGINT
    ignored, stays as it is."""
    run = _Run(recipients, options)
    ours = threading.current_thread() is threading.main_thread() and \
        signal.getsignal(signal.SIGINT) is signal.default_int_handler

    async def main() -> Report | None:
        with _sigint_to(run) if ours else contextlib.nullcontext():
            return await run.main()

    return run.outcome(asyncio.run(main()))


@contextlib.contextmanager
def _sigint_to(run: _Run) -> Iterator[None]:
    """While the run goes on, SIGINT interrupts it rather than raising KeyboardInterrupt in
    whatever the loop is doing (or cancelling it, asyncio.run's handler)."""

    def handler(number: int, frame: FrameType | None) -> None:
        run.interrupt()

    before = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _waiting_sigint(run: _Run) -> contextlib.AbstractContextManager[None]:
    """SIGINT to ``run`` while a caller with a loop waits for it: any handler but "ignore"
    is replaced, since the caller's loop is blocked and could not act on it (asyncio.run's
    handler would cancel a task that cannot run, so the first Ctrl-C would do nothing).
    Only the main thread can set a handler; elsewhere no signal arrives anyway."""
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        return contextlib.nullcontext()
    return _sigint_to(run)


def _on_thread(recipients: Recipients | None, options: SendOptions) -> Report:
    """A loop runs in this thread: the run on a thread and loop of its own, the caller
    waiting with SIGINT handed to the run (a KeyboardInterrupt in the wait, from a handler
    that raises one, is passed on to the run too)."""
    run = _Run(recipients, options)
    result: list[Report | None] = []
    failure: list[BaseException] = []
    done = threading.Event()

    def work() -> None:
        try:
            result.append(asyncio.run(run.main()))
        except BaseException as exc:  # handed to the caller, raised there as itself
            failure.append(exc)
        finally:
            done.set()

    # the handler is in place before the thread starts, so no Ctrl-C falls between the two
    # (nor inside start(), which would leave the run going with no one to stop it)
    with _waiting_sigint(run):
        worker = threading.Thread(target=work, name="a2p-send-sync")
        worker.start()
        while not done.is_set():
            try:
                # an Event's wait, not join(): a join a KeyboardInterrupt broke may take the
                # thread for finished (before Python 3.13)
                done.wait(_LOOK_EVERY)
            except KeyboardInterrupt:  # a handler that raises it (not ours): the same stop
                run.interrupt()  # copes with a run not started yet (main() looks)
    worker.join()
    if failure:
        raise failure[0]
    return run.outcome(result[0])
