"""``a2p simulate`` serves the simulator until Ctrl-C; ``a2p demo`` rehearses a campaign
against one on a free loopback port. The only CLI module that starts the simulator."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from engine.cli.exits import EXIT_INTERRUPTED
from engine.cli.output import say
from engine.cli.summary import finish
from engine.errors import UsageError

if TYPE_CHECKING:
    from engine.cli.progress import Progress
    from engine.run.options import OnEvent
    from engine.simulator.settings import SimulatorSettings

DEMO_TEXT = "Your table is ready. Reply STOP to opt out."


async def simulate(args: argparse.Namespace) -> int:
    """Serve the simulator on --host:--port until interrupted."""
    from engine.simulator import load_simulator_settings, start_simulator

    settings = load_simulator_settings(args.config)
    if args.clock:  # simulated time (engine/simulator/clock.py), anchored now
        from engine.simulator.clock import SimClock

        settings = replace(settings, clock=SimClock.parse(args.clock))
    try:
        running = await start_simulator(settings, args.host, args.port)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port} ({exc.strerror}). Pass "
                         "another --port, or --port 0 for any free one.") from exc
    try:
        from engine.run.stopsignals import stop_signals

        # handled here, not left to KeyboardInterrupt: a process started with SIGINT ignored
        # or blocked (by a test runner, a job wrapper) would otherwise never stop
        with stop_signals() as received:
            # told only once the signals are ours: a SIGINT right after this line is heard
            if not args.quiet or args.port == 0:  # port 0: only this line tells which
                print(_describe(settings, running.url), file=sys.stderr, flush=True)
            async for _ in received:
                break
    finally:
        await running.stop()
    return EXIT_INTERRUPTED


def _describe(settings: SimulatorSettings, url: str) -> str:
    """Where the simulator listens and the credentials that log in to it."""
    creds = settings.credentials
    lines = [f"RingCentral simulator listening on {url}"]
    if settings.credentials_from_env:
        lines.append("Accepting the credentials set in RC_APP_CLIENT_ID and friends.")
    else:
        lines += [
            "Demo credentials (set these to point the engine or an SDK here):",
            f"  export RC_SERVER_URL={url}",
            f"  export RC_APP_CLIENT_ID={creds.client_id}",
            f"  export RC_APP_CLIENT_SECRET={creds.client_secret}",
            f"  export RC_USER_JWT={creds.jwt}",
        ]
    lines.append(f"A2P senders: {', '.join(settings.senders)}. Ledger: {url}/_sim/ledger")
    if settings.clock is not None:
        lines.append(f"Simulated clock: {settings.clock.spec()} (GET {url}/_sim/clock). "
                     "The a2p commands keep the real clock; to run a scheduled send on "
                     "these simulated days, call the library with it: A2P_SIM_CLOCK=<that "
                     "spec>, then engine.send(..., clock=, wall=, sleep=) from "
                     "SimClock.from_env() (docs/simulator.md)")
    return "\n".join(lines)


async def demo(args: argparse.Namespace) -> int:
    """Send --recipients generated numbers through a fresh simulator; print the summary."""
    import orjson

    from engine.cli.progress import Progress
    from engine.config.settings import load_settings
    from engine.run.api import send
    from engine.run.options import SendOptions
    from engine.simulator import load_simulator_settings, start_simulator

    sim_settings = replace(load_simulator_settings("simulator", env={}),
                           messages_per_second=500_000.0)
    running = await start_simulator(sim_settings)
    try:
        settings = replace(load_settings("simulator", env={}), server_url=running.url)
        progress = Progress(sys.stderr)
        if not args.quiet:
            say(f"a2p demo: simulator on {running.url}; sending to {args.recipients:,} "
                f"recipients in batches of at most {args.max_batch_bytes:,} bytes")
        options = SendOptions(
            sender=sim_settings.senders[0], text=DEMO_TEXT, config=settings,
            credentials=sim_settings.credentials, max_batch_bytes=args.max_batch_bytes,
            on_event=_progress_only(args.quiet, progress), on_read=progress.reading,
            report=args.report, on_wait=progress.waiting)
        report = await send(demo_recipients(args.recipients), options)
        ledger = running.simulator.store.accepted_count()
    finally:
        await running.stop()
    print(orjson.dumps({k: report[k] for k in ("status", "totals", "requests")},
                       option=orjson.OPT_INDENT_2).decode())
    if not args.quiet:
        say(f"a2p demo: the simulator's ledger holds {ledger:,} accepted messages")
    return finish(report, args.report, args.quiet)


def _progress_only(quiet: bool, progress: Progress) -> OnEvent:
    """The demo's events move the progress line and go nowhere else."""
    async def emit(event: dict[str, Any]) -> None:
        if not quiet:
            progress.see(event)

    return emit


def demo_recipients(n: int) -> Iterator[str]:
    """Distinct numbers with a few bad ones, all caught by the local checks: malformed, and
    non-North-American (which the server would refuse with SMS-RC-410)."""
    for i in range(n):
        if i % 997 == 996:
            yield f"555-{i:07d}"
        elif i % 1009 == 1008:
            yield f"+4420{i:08d}"
        else:
            area, line = divmod(i, 8_000_000)
            yield f"+1{201 + area}{2_000_000 + line:07d}"
