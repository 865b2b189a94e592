"""The simulated clock (engine/simulator/clock.py): two processes that read the same spec keep
the same time without talking, and a simulator configured with it stamps batches, processing
and its Date in simulated time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
from datetime import datetime
from pathlib import Path

import aiohttp
import orjson
import pytest

from engine.cli.parser import build_parser
from engine.errors import ConfigError
from engine.simulator import start_simulator
from engine.simulator.clock import CLOCK_ENV, SimClock
from engine.simulator.settings import load_simulator_settings
from tests.conftest import SENDER, bearer, login, sim_settings

START = "2026-03-07T05:00:00-05:00"


class Monotonic:
    """A real-time monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_simulated_time_is_the_start_plus_real_time_times_the_speed() -> None:
    """At x3600 one real second is an hour: 05:00 Eastern becomes 06:00, and a simulated hour
    of sleep lasts one real second."""
    real = Monotonic()
    clock = SimClock.parse(f"{START}@x3600", monotonic=real)
    assert clock.now().isoformat() == "2026-03-07T10:00:00+00:00"
    real.now += 1.0
    assert clock.wall() == datetime.fromisoformat("2026-03-07T06:00:00-05:00").timestamp()
    assert clock.clock() == clock.wall()
    assert clock.real_seconds(3600.0) == 1.0
    assert clock.real_seconds(-5.0) == 0.0


def test_a_second_process_reading_the_spec_keeps_the_same_time() -> None:
    """spec() carries the anchor: a clock parsed from it later (another process, a resumed
    run) reads what the first one reads, through the environment variable too."""
    real = Monotonic()
    first = SimClock.parse(f"{START}@x600", monotonic=real)
    real.now += 7.25
    second = SimClock.parse(first.spec(), monotonic=real)
    fast = SimClock(first.start, 3.1536e16, 12345.678901234, real)
    assert SimClock.parse(fast.spec(), monotonic=real) == fast
    from_env = SimClock.from_env({CLOCK_ENV: first.spec()}, monotonic=real)
    assert second.wall() == first.wall() == first.start + 7.25 * 600
    assert from_env is not None
    assert from_env.wall() == first.wall()
    assert SimClock.from_env({}) is None


async def test_sleep_lasts_the_simulated_seconds_divided_by_the_speed() -> None:
    """A simulated year of sleep at a speed of a year a millisecond ends (the test would time
    out if the sleep were not scaled)."""
    year = 365 * 86400.0
    clock = SimClock.parse(f"{START}@x{year * 1000:.0f}")
    before = clock.wall()
    await clock.sleep(year)
    assert clock.wall() - before >= year


@pytest.mark.parametrize("spec", ["2026-03-07T05:00:00@x3600", f"{START}@x0", f"{START}",
                                  f"{START}@3600", "tomorrow@x60", f"{START}@x60@soon"])
def test_a_spec_without_an_offset_a_speed_or_a_readable_anchor_is_refused(spec: str) -> None:
    """A start without its offset, a zero or missing speed, or a bad anchor: a ConfigError
    that names the value and shows the syntax."""
    with pytest.raises(ConfigError, match="START@xSPEED"):
        SimClock.parse(spec)


def test_the_profile_and_the_cli_accept_a_clock(tmp_path: Path) -> None:
    """``[simulator] clock`` in a profile and ``a2p simulate --clock`` are read; a bad one in
    the profile names the setting."""
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(f'[simulator]\nclock = "{START}@x60"\n')
    bad.write_text('[simulator]\nclock = "noon@x60"\n')
    clock = load_simulator_settings(str(good)).clock
    assert clock is not None
    assert clock.speed == 60.0
    with pytest.raises(ConfigError, match=r"\[simulator\] clock"):
        load_simulator_settings(str(bad))
    args = build_parser().parse_args(["simulate", "--clock", f"{START}@x3600"])
    assert args.clock == f"{START}@x3600"


async def test_a_simulator_on_the_simulated_clock_stamps_batches_in_simulated_time() -> None:
    """A batch accepted at simulated 05:00 Eastern says so in creationTime; half an hour of
    simulated time later (half a real second at x3600) it has been processed, and GET
    /_sim/clock tells the time and the spec an engine process needs."""
    real = Monotonic()
    clock = SimClock.parse(f"{START}@x3600", monotonic=real)
    running = await start_simulator(sim_settings(clock=clock, messages_per_second=1.0))
    try:
        async with aiohttp.ClientSession() as http:
            headers = bearer(await login(http, running.url))
            body = {"from": SENDER, "text": "Hi", "messages": [{"to": ["+13105550123"]}]}
            url = running.url + "/restapi/v1.0/account/~/a2p-sms/batches"
            async with http.post(url, json=body, headers=headers) as response:
                created = await response.json()
            assert created["creationTime"].startswith("2026-03-07T10:00:00")
            assert created["status"] == "Processing"
            real.now += 0.5
            async with http.get(f"{url}/{created['id']}", headers=headers) as response:
                later = await response.json()
            assert later["status"] == "Completed"
            async with http.get(f"{running.url}/_sim/clock") as response:
                told = await response.json()
            assert told["now"].startswith("2026-03-07T10:30:00")
            assert SimClock.parse(told["clock"], monotonic=real).wall() == clock.wall()
    finally:
        await running.stop()



@pytest.mark.slow
def test_a2p_simulate_with_a_clock_tells_the_spec_an_engine_process_shares() -> None:
    """``a2p simulate --clock`` prints the anchored spec; a clock read from it here tells the
    time GET /_sim/clock tells (within the real second the two reads are apart)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    args = [sys.executable, "-m", "engine.cli", "simulate", "--port", "0", "--clock",
            f"{START}@x60"]
    with subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env) as process:
        try:
            assert process.stderr is not None
            lines = [process.stderr.readline() for _ in range(8)]
            url = re.search(r"listening on (http://\S+)", lines[0])
            told = [re.search(r"Simulated clock: (\S+)", line) for line in lines]
            spec = next(found.group(1) for found in told if found)
            assert url, lines
            shared = SimClock.parse(spec)
            with urllib.request.urlopen(f"{url.group(1)}/_sim/clock", timeout=10) as answer:
                body = orjson.loads(answer.read())
            now = datetime.fromisoformat(body["now"]).timestamp()
            assert body["clock"] == spec
            assert abs(now - shared.wall()) < 60.0  # one real second at x60
            assert now >= datetime.fromisoformat(START).timestamp()
        finally:
            process.kill()
