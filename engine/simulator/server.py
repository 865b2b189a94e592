"""Run the simulator: in the current event loop (tests, the demo) or in a thread of its own
(synchronous callers such as the official SDK)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from aiohttp import web

from engine.simulator.app import create_app
from engine.simulator.settings import SimulatorSettings
from engine.simulator.state import SIMULATOR, Simulator


@dataclass
class RunningSimulator:
    url: str
    simulator: Simulator
    runner: web.AppRunner

    async def stop(self) -> None:
        """Stop serving; the app's cleanup cancels the batches still due to be created late."""
        await self.runner.cleanup()


async def start_simulator(settings: SimulatorSettings, host: str = "127.0.0.1", port: int = 0,
                          clock: Callable[[], float] | None = None) -> RunningSimulator:
    """Serve the simulator on ``host:port`` (port 0 picks a free one) until ``stop()``;
    ``clock`` (default: the settings' simulated clock, else real time) is its time."""
    app = create_app(settings, clock)
    runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()  # the app's cleanup context was entered: leave it in order
        raise
    server = site._server
    assert isinstance(server, asyncio.base_events.Server)
    bound = server.sockets[0].getsockname()[1]
    return RunningSimulator(f"http://{host}:{bound}", app[SIMULATOR], runner)


class SimulatorThread:
    """The simulator on its own event loop in a daemon thread, as a context manager."""

    def __init__(self, settings: SimulatorSettings, host: str = "127.0.0.1", port: int = 0) -> None:
        self._settings = settings
        self._host = host
        self._port = port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self.running: RunningSimulator | None = None

    def __enter__(self) -> RunningSimulator:
        self._thread.start()
        started = start_simulator(self._settings, self._host, self._port)
        self.running = asyncio.run_coroutine_threadsafe(started, self._loop).result(timeout=30)
        return self.running

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.running is not None:
            asyncio.run_coroutine_threadsafe(self.running.stop(), self._loop).result(timeout=30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=30)
        self._loop.close()
