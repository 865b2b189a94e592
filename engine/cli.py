"""The ``a2p`` command. The only module that prints or exits; nothing imports it."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from engine.errors import EngineError, UsageError
from engine.simulator import load_simulator_settings, start_simulator
from engine.simulator.settings import SimulatorSettings

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_AUTH, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="a2p",
        description="Send SMS to huge lists through RingCentral's High Volume (A2P) SMS API, "
        "or rehearse it against the bundled simulator.",
        epilog="Credentials come from RC_APP_CLIENT_ID, RC_APP_CLIENT_SECRET and RC_USER_JWT; "
        "RC_SERVER_URL overrides the profile's server.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sim = sub.add_parser(
        "simulate", help="serve the local RingCentral simulator",
        description="Serve a local simulator of RingCentral's High Volume SMS API (OAuth, "
        "batches, messages, statuses, rate limits, faults) until Ctrl-C.",
        epilog="Example: a2p simulate --port 8080, then in another shell "
        "RC_SERVER_URL=http://127.0.0.1:8080 a2p send list.csv --from +16505550100 ...",
    )
    sim.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    sim.add_argument("--port", type=int, default=8080, help="port, 0 for any free one (8080)")
    sim.add_argument("--config", default="simulator", metavar="PROFILE",
                     help="profile name in configs/ or a .toml path (default simulator)")
    return parser


def _describe(settings: SimulatorSettings, url: str) -> str:
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
    return "\n".join(lines)


async def _simulate(args: argparse.Namespace) -> int:
    settings = load_simulator_settings(args.config)
    running = await start_simulator(settings, args.host, args.port)
    print(_describe(settings, running.url), file=sys.stderr, flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await running.stop()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return asyncio.run(_simulate(args))
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except UsageError as exc:
        print(f"a2p: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EngineError as exc:
        print(f"a2p: {exc}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
