"""``engine.send_sync``: the synchronous door works in a plain script (no loop) and inside a
running loop (a notebook), Ctrl-C stops it as it stops ``a2p send``, and the run's own
exceptions come out as themselves."""

from __future__ import annotations

import _thread
import asyncio
import contextlib
import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import orjson
import pytest

import engine
import engine.types
from engine.config.credentials import DEMO_CREDENTIALS
from engine.simulator import FaultSettings, RunningSimulator, SimulatorThread
from tests.conftest import sim_settings
from tests.e2e.conftest import SENDER, engine_settings, ledger_numbers
from tests.waiting import until

COUNT = 600
EVERYONE = [f"+1415555{i:04d}" for i in range(COUNT)]


@pytest.fixture
def simulator() -> Iterator[RunningSimulator]:
    """The simulator on its own thread and loop: the test's thread blocks in send_sync."""
    settings = sim_settings(messages_per_second=1e6,
                            faults=FaultSettings(latency=0.05, scope="send"))
    with SimulatorThread(settings) as running:
        yield running


@contextlib.contextmanager
def default_sigint() -> Iterator[None]:
    """SIGINT raises KeyboardInterrupt, as in a plain script, and in a Jupyter kernel while
    a cell runs (ipykernel puts Python's default handler back around each execution)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, before)


def _options(running: RunningSimulator, tmp_path: Path, **more: Any) -> dict[str, Any]:
    return {"sender": SENDER, "text": "Hi", "config": engine_settings(running.url),
            "credentials": DEMO_CREDENTIALS, "max_batch_bytes": 1500,
            "journal": tmp_path / "run.journal", "report": tmp_path / "report.json", **more}


def _listing(tmp_path: Path) -> Path:
    path = tmp_path / "list.txt"
    path.write_text("".join(f"{number}\n" for number in EVERYONE))
    return path


class CtrlC:
    """Presses Ctrl-C (a SIGINT in the main thread) once ``count`` batches were submitted."""

    def __init__(self, count: int = 1) -> None:
        self.left = count

    async def on_event(self, event: dict[str, Any]) -> None:
        if event["event"] == "chunk_submitted":
            self.left -= 1
            if self.left == 0:
                _thread.interrupt_main(signal.SIGINT)


def test_a_plain_script_sends_everyone(simulator: RunningSimulator, tmp_path: Path) -> None:
    """No loop running: send_sync sends the list and returns the completed report."""
    report = engine.send_sync(_listing(tmp_path), **_options(simulator, tmp_path))
    assert report["status"] == "completed"
    assert report["totals"]["sent"] == COUNT
    assert sorted(ledger_numbers(simulator)) == EVERYONE


async def test_a_notebook_sends_everyone(simulator: RunningSimulator, tmp_path: Path) -> None:
    """Inside a running loop (a notebook cell), send_sync blocks and returns the completed
    report: the run had its own thread and loop."""
    report = engine.send_sync(_listing(tmp_path), **_options(simulator, tmp_path))
    assert report["status"] == "completed"
    assert report["totals"]["sent"] == COUNT
    assert sorted(ledger_numbers(simulator)) == EVERYONE
    assert orjson.loads((tmp_path / "report.json").read_bytes())["totals"]["sent"] == COUNT


def _stopped_cleanly(raised: BaseException, simulator: RunningSimulator,
                     tmp_path: Path) -> None:
    """engine.Interrupted after the run stopped: its report (interrupted) is the file's, and
    every batch the server created is counted sent in it, no more and no fewer."""
    assert isinstance(raised, engine.Interrupted)
    report = raised.report
    assert report is not None
    assert report["interrupted"] is True
    written = orjson.loads((tmp_path / "report.json").read_bytes())
    assert written["interrupted"] is True
    assert len(ledger_numbers(simulator)) == report["totals"]["sent"] == \
        written["totals"]["sent"] < COUNT


def test_ctrl_c_in_a_plain_script_stops_the_run_and_writes_the_report(
        simulator: RunningSimulator, tmp_path: Path) -> None:
    """Ctrl-C during a script's send_sync: no new batch, the report written, then
    KeyboardInterrupt; the journal finishes the run with everyone sent once."""
    listing = _listing(tmp_path)
    with default_sigint(), pytest.raises(engine.Interrupted) as raised:
        engine.send_sync(listing, **_options(simulator, tmp_path, on_event=CtrlC().on_event))
    _stopped_cleanly(raised.value, simulator, tmp_path)
    options = _options(simulator, tmp_path)
    del options["journal"]
    report = engine.send_sync(listing, resume=tmp_path / "run.journal", **options)
    assert report["status"] == "completed"
    assert sorted(ledger_numbers(simulator)) == EVERYONE


async def test_ctrl_c_in_a_notebook_stops_the_run_and_writes_the_report(
        simulator: RunningSimulator, tmp_path: Path) -> None:
    """The kernel's interrupt (KeyboardInterrupt in the waiting cell) stops the run on its
    thread as Ctrl-C stops a2p send: requests on the wire finish, the report is written,
    then KeyboardInterrupt comes out of send_sync."""
    with default_sigint(), pytest.raises(engine.Interrupted) as raised:
        engine.send_sync(_listing(tmp_path),
                         **_options(simulator, tmp_path, on_event=CtrlC().on_event))
    _stopped_cleanly(raised.value, simulator, tmp_path)


async def test_a_second_ctrl_c_in_a_notebook_ends_the_run_at_once(
        simulator: RunningSimulator, tmp_path: Path) -> None:
    """A second interrupt while the stopped run finishes: it ends at once, without a report
    (KeyboardInterrupt without one), and its journal still finishes it, everyone sent
    once."""
    stop = anyio.Event()  # the run's stop, set by the first Ctrl-C
    pressed = 0

    async def on_event(event: dict[str, Any]) -> None:
        nonlocal pressed
        if event["event"] != "chunk_submitted" or pressed:
            return
        pressed = 1
        _thread.interrupt_main(signal.SIGINT)
        await until(stop.is_set, "the first Ctrl-C stopping the run")
        pressed = 2
        _thread.interrupt_main(signal.SIGINT)
        with anyio.fail_after(30):  # the run is busy here until the second Ctrl-C ends it
            await anyio.Event().wait()

    listing = _listing(tmp_path)
    with default_sigint(), pytest.raises(engine.Interrupted) as raised:
        engine.send_sync(listing, **_options(simulator, tmp_path, on_event=on_event,
                                             stop=stop))
    assert pressed == 2
    assert raised.value.report is None
    options = _options(simulator, tmp_path)
    del options["journal"]
    report = engine.send_sync(listing, resume=tmp_path / "run.journal", **options)
    assert report["status"] == "completed"
    assert sorted(ledger_numbers(simulator)) == EVERYONE


class RealCtrlC:
    """Presses Ctrl-C once, as a terminal does: a real SIGINT to this process, after the
    first batch was submitted (on the run's own thread)."""

    def __init__(self) -> None:
        self.pressed = False

    async def on_event(self, event: dict[str, Any]) -> None:
        if event["event"] == "chunk_submitted" and not self.pressed:
            self.pressed = True
            os.kill(os.getpid(), signal.SIGINT)


@pytest.mark.parametrize("runner", ["asyncio", "anyio"])
def test_one_ctrl_c_stops_send_sync_called_from_an_async_main(
        simulator: RunningSimulator, tmp_path: Path, runner: str) -> None:
    """An async program (asyncio.run / anyio.run, whose SIGINT handler only cancels its main
    task) calling send_sync: ONE real Ctrl-C stops the run, the report is written and
    Interrupted carries it; the program's own handler is back afterwards."""
    listing, ctrl_c = _listing(tmp_path), RealCtrlC()
    handlers: list[object] = []

    async def main() -> engine.types.Report:
        handlers.append(signal.getsignal(signal.SIGINT))  # the runner's own
        try:
            return engine.send_sync(listing, **_options(simulator, tmp_path,
                                                        on_event=ctrl_c.on_event))
        finally:
            handlers.append(signal.getsignal(signal.SIGINT))

    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt) as raised:  # Interrupted, or a bare one: a failure
        asyncio.run(main()) if runner == "asyncio" else anyio.run(main)
    assert ctrl_c.pressed
    assert handlers[0] is not signal.default_int_handler  # the runner had put its own
    assert handlers[1] is handlers[0]
    _stopped_cleanly(raised.value, simulator, tmp_path)


class Mine(Exception):
    """The caller's own failure, raised by its iterable of recipients."""


async def test_the_runs_exception_comes_out_as_itself(simulator: RunningSimulator,
                                                      tmp_path: Path) -> None:
    """An exception raised on the run's thread (here by the caller's own iterable) is raised
    in the caller as itself."""

    def recipients() -> Iterator[str]:
        yield from EVERYONE[:10]
        raise Mine("the list broke")

    with pytest.raises(Mine, match="the list broke"):
        engine.send_sync(recipients(), **_options(simulator, tmp_path))
