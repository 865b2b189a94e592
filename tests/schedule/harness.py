"""The clock harness (issue 22): ``engine.send`` in a child process on a simulated clock shared
with the simulator (engine/simulator/clock.py), SIGKILLed at a chosen simulated moment and
resumed, then judged by the simulator's audit (engine/simulator/audit.py): every recipient
processed exactly once, inside their window, and never more than the cap a day.

    python -m tests.schedule.harness [--rows 300000] [--speed 600] [--cron 600] [--rate 1000]

The simulator runs in this process's event loop, the engine in a child
(tests/schedule/child.py) that reads the clock from ``A2P_SIM_CLOCK``: neither talks to the
other about time, both read the same simulated instant.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import anyio
import orjson

from engine.config.credentials import DEMO_CREDENTIALS
from engine.schedule.zones import area_code_table
from engine.simulator import GroupLimit, RunningSimulator, SimulatorSettings, start_simulator
from engine.simulator.audit import Audit, iso
from engine.simulator.clock import CLOCK_ENV, SimClock
from tests.schedule.child import EXIT_WAITING, RAISED
from tests.waiting import until

ROOT = Path(__file__).resolve().parents[2]
SENDER = "+16505550100"
TEXT = "Our spring sale starts today. Reply STOP to opt out."
RUN_TIMEOUT = 600.0  # real seconds one child may run before the harness calls it stuck
CHECK_EVERY = 0.005  # real seconds between looks at the child and the clock
# The recipients of issue 22's test, one of each kind, as placed by engine/schedule/zones.py.
PLACES = {
    "Eastern": "+1212", "Central": "+1312", "Mountain": "+1303", "Pacific": "+1310",
    "Arizona": "+1602", "Hawaii": "+1808", "Indianapolis": "+1317", "Gary (219)": "+1219",
    "Pensacola (850-432)": "+1850432", "Tallahassee (850-222)": "+1850222",
    "Toll-free": "+1800", "Toronto": "+1416",
}


def simulator_settings(clock: SimClock, **changes: Any) -> SimulatorSettings:
    """A simulator on the simulated clock: no failures, generous limits, processing at a
    steady rate of simulated messages a second (a real account's pace, a blink for real)."""
    base = SimulatorSettings(credentials=DEMO_CREDENTIALS, senders=(SENDER,),
                             light=GroupLimit(100_000, 60.0, 1.0),
                             auth=GroupLimit(10_000, 60.0, 1.0),
                             messages_per_second=100.0, failure_rate=0.0, clock=clock)
    return replace(base, **changes)


@dataclass
class Run:
    """One child run: its exit code (None: killed), and the simulated instants it began and
    ended at."""

    code: int | None
    began: float
    ended: float


@dataclass
class Campaign:
    """A campaign in ``work``: its list, journal, report and events, sent by child runs
    against ``simulator`` on ``clock``. ``options`` are engine.send keywords (quiet_hours,
    daily_cap, ...), ``settings`` engine Settings fields over the child's."""

    work: Path
    simulator: RunningSimulator
    clock: SimClock
    options: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)

    @property
    def journal(self) -> Path:
        return self.work / "run.journal"

    @property
    def report(self) -> Path:
        return self.work / "report.json"

    @property
    def events(self) -> Path:
        return self.work / "events.jsonl"

    @property
    def list_path(self) -> Path:
        return self.work / "list.csv"

    def write_list(self, numbers: Iterable[str]) -> Path:
        with open(self.list_path, "w") as out:
            out.write("to\n")
            out.writelines(f"{n}\n" for n in numbers)
        return self.list_path

    async def run(self, *, kill_at: float | None = None,
                  kill_when: Callable[[], bool] | None = None,
                  limit: float = RUN_TIMEOUT) -> int | None:
        """One run (fresh, or resuming the journal when it exists); SIGKILLed once simulated
        time reaches ``kill_at`` (epoch seconds) or ``kill_when()`` holds: None then, else its
        exit code. A run still going after ``limit`` real seconds fails the test."""
        spec = {"url": self.simulator.url, "journal": str(self.journal),
                "report": str(self.report), "events": str(self.events),
                "list": str(self.list_path), "sender": SENDER, "text": TEXT,
                "options": self.options, "settings": self.settings}
        spec_path = self.work / "run.json"
        spec_path.write_bytes(orjson.dumps(spec))
        env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
        env[CLOCK_ENV] = self.clock.spec()
        began, deadline = self.clock.wall(), time.monotonic() + limit
        with self._stderr_log() as err:
            async with await anyio.open_process(
                    [sys.executable, "-m", "tests.schedule.child", str(spec_path)], cwd=ROOT,
                    env=env, stdout=subprocess.DEVNULL, stderr=err) as child:
                while child.returncode is None:
                    due = kill_at is not None and self.clock.wall() >= kill_at
                    if due or (kill_when is not None and kill_when()):
                        child.send_signal(signal.SIGKILL)
                        await child.wait()
                        self.runs.append(Run(None, began, self.clock.wall()))
                        return None
                    if time.monotonic() > deadline:
                        child.kill()
                        raise AssertionError(f"a run went on for {limit:g} s: "
                                             f"{self.stderr()[-2000:]}")
                    # the simulator serves meanwhile, in this event loop
                    with anyio.move_on_after(CHECK_EVERY):
                        await child.wait()
        code = child.returncode
        self.runs.append(Run(code, began, self.clock.wall()))
        if code == RAISED:
            raise AssertionError(f"engine.send raised: {self.stderr()[-3000:]}")
        return code

    def _stderr_log(self) -> BinaryIO:
        return open(self.work / "stderr.log", "ab")  # closed by run's with

    async def until_finished(self, kills: Sequence[float] = (), max_runs: int = 20,
                             finished: Sequence[int] = (0,), cron_every: float = 300.0) -> int:
        """Run, then resume, until a run ends with one of ``finished``. The next kill moment
        (simulated epoch seconds, in order) SIGKILLs whichever run is going then (or, when
        it passed between runs, the next run once it has POSTed a batch); a run that
        exits 75 (waiting, --exit-when-waiting) is resumed ``cron_every`` simulated seconds
        later, as cron would; any other run is resumed at once."""
        pending = sorted(kills)
        for _ in range(max_runs):
            moment = pending[0] if pending else None
            if moment is not None and self.clock.wall() >= moment:
                # the moment passed while no run was going (a cron wait): the next run is
                # killed once it has POSTed, so the kill still lands in the middle of work
                code = await self.run(kill_when=self._posted())
            else:
                code = await self.run(kill_at=moment)
            if code is None:
                pending.pop(0)
            elif code in finished:
                return code
            elif code == EXIT_WAITING:
                await until(self._at(self.clock.wall() + cron_every), "the next cron tick",
                            self.clock.real_seconds(cron_every) + 30.0)
        raise AssertionError(f"{max_runs} runs did not finish: {self.runs}")

    def _posted(self) -> Callable[[], bool]:
        """A condition: the simulator holds a batch it did not hold when this was asked."""
        batches = self.simulator.simulator.store.batches
        before = len(batches)
        return lambda: len(batches) > before

    def _at(self, instant: float) -> Callable[[], bool]:
        """A condition: simulated time has reached ``instant``."""
        return lambda: self.clock.wall() >= instant

    def audit(self, quiet_hours: str = "strict", daily_cap: int | None = None) -> Audit:
        return self.simulator.simulator.audit(quiet_hours, daily_cap)

    def never_processed(self, numbers: Iterable[str]) -> list[str]:
        """The numbers of the list the simulator never processed."""
        sim = self.simulator.simulator
        now = sim.now()
        done = {n for b in sim.store.batches for n in b.numbers[:max(0, b.processed(now))]}
        return [n for n in numbers if int(n[1:]) not in done]

    def stderr(self) -> str:
        path = self.work / "stderr.log"
        return path.read_text(errors="replace") if path.exists() else ""


def national(rows: int, seed: int = 22) -> list[str]:
    """A national list of distinct numbers: every placed area code of the table (US and
    Canada, each state and zone), the kinds of PLACES, and toll-free, shuffled."""
    rng = random.Random(seed)
    codes = [c for c, row in area_code_table().codes.items()
             if row.country in ("US", "CA") and row.zones]
    prefixes = [*(p.removeprefix("+1") for p in PLACES.values()), *codes, "800", "888"]
    numbers: set[str] = set()
    while len(numbers) < rows:
        prefix = rng.choice(prefixes)
        rest = f"{rng.randrange(200, 1000)}{rng.randrange(10_000):04d}"
        numbers.add(f"+1{prefix}{rest[len(prefix) - 3:]}")
    listed = sorted(numbers)
    rng.shuffle(listed)
    return listed


async def national_campaign(work: Path, rows: int = 300_000, speed: float = 600.0,
                            cap: int = 100_000, start: str = "2026-03-07T05:00:00-05:00",
                            kills: Sequence[str] = ("2026-03-07T09:30:00-05:00",
                                                    "2026-03-08T13:00:00-04:00"),
                            options: dict[str, Any] | None = None,
                            cron_every: float = 300.0, rate: float = 1000.0
                            ) -> dict[str, Any]:
    """Issue 22's Done-when: ``rows`` recipients, --quiet-hours strict, --daily-cap ``cap``,
    from 05:00 Eastern on Saturday 2026-03-07 (DST starts the next day: Sunday), SIGKILLed
    at each of ``kills`` (mid-morning Eastern on day one, early afternoon on day two) and
    resumed; returns the audit's figures with the runs. A running send sleeps through the
    nights on the simulated clock (``speed`` simulated seconds a real second); with
    ``options={"exit_when_waiting": True}`` it exits 75 instead and is resumed every
    ``cron_every`` simulated seconds, as from cron. ``rate``: the simulator's messages a
    second for the sender (its batches one after another), told to the engine as its
    ``send_rate``; a realistic 10DLC rate (1, or 0.02 for a hundredth of the rows) puts the
    processing of a day's batches near the windows' closes."""
    clock = SimClock.parse(f"{start}@x{speed:g}")
    running = await start_simulator(simulator_settings(clock, messages_per_second=rate))
    try:
        campaign = Campaign(work, running, clock,
                            options={"quiet_hours": "strict", "daily_cap": cap,
                                     "send_rate": rate, **(options or {})})
        numbers = national(rows)
        campaign.write_list(numbers)
        began = time.monotonic()
        await campaign.until_finished([datetime.fromisoformat(k).timestamp() for k in kills],
                                      max_runs=10_000, cron_every=cron_every)
        seconds = time.monotonic() - began
        result = campaign.audit("strict", cap)
        missing = campaign.never_processed(numbers)
    finally:
        await running.stop()
    return {"rows": rows, "speed": speed, "realSeconds": round(seconds, 1),
            "runs": [[r.code, iso(r.began), iso(r.ended)] for r in campaign.runs],
            "neverProcessed": len(missing), **result.as_json()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=300_000)
    parser.add_argument("--speed", type=float, default=600.0)
    parser.add_argument("--cap", type=int, default=100_000)
    parser.add_argument("--rate", type=float, default=1000.0,
                        help="the simulator's (and the engine's --send-rate) messages a second")
    parser.add_argument("--cron", type=float, default=0.0, metavar="SECONDS",
                        help="--exit-when-waiting, resumed every SECONDS of simulated time")
    parser.add_argument("--work", type=Path, default=Path("/tmp/a2p-clock-harness"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    for name in ("run.journal", "report.json", "events.jsonl", "stderr.log"):
        (args.work / name).unlink(missing_ok=True)
    cron = {"exit_when_waiting": True} if args.cron else {}
    figures = asyncio.run(national_campaign(args.work, args.rows, args.speed, args.cap,
                                            options=cron, cron_every=args.cron or 300.0,
                                            rate=args.rate))
    runs = figures["runs"]
    if len(runs) > 12:  # cron mode: dozens of short runs that found nothing due yet
        figures["runs"] = {"count": len(runs), "byExitCode": {str(code): n for code, n in
                                                             Counter(r[0] for r in runs).items()},
                           "killed": [r for r in runs if r[0] is None], "last": runs[-1]}
    figures["outside"] = figures["outside"][:5]
    figures["repeated"] = figures["repeated"][:5]
    sys.stdout.write(orjson.dumps(figures, option=orjson.OPT_INDENT_2).decode() + "\n")


if __name__ == "__main__":
    main()
