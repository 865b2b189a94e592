"""One ``engine.send`` on the simulated clock, in a process of its own, for the harness
(tests/schedule/harness.py): the library call, since the CLI keeps the real clock.

    A2P_SIM_CLOCK=<spec> python -m tests.schedule.child <run.json>

run.json: ``url`` (the simulator), ``journal``, ``report``, ``events`` (a JSON-lines file the
events are appended to, each flushed), ``list``/``sender``/``text`` for a fresh run (a run
whose journal exists resumes it), ``settings`` (engine Settings fields over the test ones)
and ``options`` (engine.send keywords: quiet_hours, daily_cap, ...). The exit code is the
one ``a2p send`` gives for the report (engine/cli/summary.py: 0, 1, 130, and what the rounds
add, 75 waiting); 70 (EX_SOFTWARE) when the send raised, its traceback on stderr.
"""

from __future__ import annotations

import asyncio
import sys
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any, BinaryIO

import orjson

import engine
from engine.cli.summary import finish
from engine.config.credentials import DEMO_CREDENTIALS
from engine.config.settings import PollSettings, RateLimitSettings, Settings
from engine.core.policy import Rules
from engine.simulator.clock import CLOCK_ENV, SimClock

RAISED = 70  # EX_SOFTWARE: distinct from every code a2p send gives
EXIT_WAITING = 75  # EX_TEMPFAIL: --exit-when-waiting, the next round is later (as a2p send)


def settings_for(url: str, changes: dict[str, Any]) -> Settings:
    """Settings for a simulated clock: every duration here is simulated seconds, so waits
    are short for real and deadlines long enough for a busy machine's real seconds.
    ``changes``: Settings fields, a section's as an object of its fields."""
    base = Settings(
        profile="test", source="test", server_url=url, concurrency=3,
        retry=Rules(max_attempts=20, backoff_initial=1.0, backoff_max=30.0,
                    request_timeout=30.0, reconcile_window=600.0, store_window=600.0,
                    chunk_deadline=86400.0),
        polling=PollSettings(interval=5.0, max_interval=60.0, timeout=7 * 86400.0),
        rate_limit=RateLimitSettings(light_requests=10_000, auth_requests=1_000,
                                     default_retry_after=1.0),
    )
    # a nested section comes as a JSON object of the fields it changes: {"retry": {...}}
    return replace(base, **{key: replace(getattr(base, key), **value)
                            if isinstance(value, dict) else value
                            for key, value in changes.items()})


async def run(spec: dict[str, Any], clock: SimClock, resume: bool, events: BinaryIO) -> int:
    async def on_event(event: dict[str, Any]) -> None:
        events.write(orjson.dumps(event) + b"\n")
        events.flush()

    options: dict[str, Any] = {
        "config": settings_for(spec["url"], spec.get("settings", {})),
        "credentials": DEMO_CREDENTIALS, "report": spec["report"], "on_event": on_event,
        "clock": clock.clock, "wall": clock.wall, "sleep": clock.sleep,
        **spec.get("options", {})}
    if resume:
        report = await engine.send(resume=spec["journal"], **options)
    else:
        report = await engine.send(spec["list"], sender=spec["sender"], text=spec["text"],
                                   journal=spec["journal"], **options)
    if "schedule" in report and report["schedule"]["state"] == "waiting":
        return EXIT_WAITING  # a scheduled send ended waiting for its next round, as a2p send
    return finish(report, spec["report"], quiet=True)


def main() -> int:
    clock = SimClock.from_env()
    if clock is None:
        sys.stderr.write(f"{CLOCK_ENV} is not set: this child runs on the simulated clock "
                         "only\n")
        return RAISED
    spec = orjson.loads(Path(sys.argv[1]).read_bytes())
    journal = Path(spec["journal"])
    resume = journal.exists() and journal.stat().st_size > 0
    try:
        with open(spec["events"], "ab") as events:
            return asyncio.run(run(spec, clock, resume, events))
    except Exception:  # the harness reads the traceback from stderr
        traceback.print_exc()
        return RAISED


if __name__ == "__main__":
    sys.exit(main())
