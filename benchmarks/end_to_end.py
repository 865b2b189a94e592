"""End to end: ``a2p send`` of N recipients against the simulator in another process, against
a bare aiohttp loop posting the same pre-built bodies to a fresh simulator (the floor).

    python -m benchmarks.end_to_end [--recipients 10000000] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from benchmarks.numbers import number
from benchmarks.procstat import MIB
from benchmarks.simproc import BATCHES, DEMO_ENV, SimulatorProcess, bearer_headers
from engine.chunker import chunk_blocks
from engine.reader import ReadOptions, read_items

SENDER = "+16505550100"
TEXT = "Your table is ready. Reply STOP to opt out."
LIMIT = 50_000_000
CACHE = Path(__file__).parent / ".cache"
SIM_CONFIG = """
[server]
url = "http://127.0.0.1:8080"
[simulator]
senders = ["+16505550100"]
messages_per_second = 10000000.0
"""


def numbers_file(n: int) -> Path:
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"numbers-{n}.txt"
    if not path.exists():
        with path.open("w") as handle:
            for start in range(0, n, 100_000):
                handle.writelines(f"{number(i)}\n" for i in range(start, min(n, start + 100_000)))
    return path


def run_engine(sim: SimulatorProcess, path: Path, concurrency: int, wait: str) -> tuple[float, int]:
    env = {**os.environ, **DEMO_ENV, "RC_SERVER_URL": sim.url}
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        result = subprocess.run(
            [sys.executable, "-m", "benchmarks.send_child", str(path), "--from", SENDER,
             "--text", TEXT, "--concurrency", str(concurrency), "--wait", wait,
             "--report", f"{tmp}/report.json"],
            capture_output=True, text=True, env=env, check=False)
        elapsed = time.perf_counter() - started
    found = re.search(r"peak_rss_bytes=(\d+) status=0", result.stderr)
    assert found, result.stderr[-2000:]
    return elapsed, int(found.group(1))


async def post_bodies(url: str, bodies: list[bytes], concurrency: int) -> None:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900)) as http:
        headers = await bearer_headers(http, url)
        queue = list(reversed(bodies))

        async def worker() -> None:
            while queue:
                body = queue.pop()
                async with http.post(url + BATCHES, data=body, headers=headers) as response:
                    assert response.status == 201, await response.text()

        await asyncio.gather(*(worker() for _ in range(concurrency)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000_000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    path = numbers_file(args.recipients)
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "sim.toml"
        config.write_text(SIM_CONFIG)
        results = {}
        for wait in ("accepted", "completed"):
            sim = SimulatorProcess(config)
            try:
                results[wait] = run_engine(sim, path, args.concurrency, wait)
                stats = sim.stats()
            finally:
                sim.stop()
        blocks = read_items((number(i) for i in range(args.recipients)),
                            ReadOptions(batch_text=TEXT), lambda r: None)
        bodies = [c.body for c in chunk_blocks(blocks, SENDER, TEXT, LIMIT)]
        sim = SimulatorProcess(config)
        try:
            started = time.perf_counter()
            asyncio.run(post_bodies(sim.url, bodies, args.concurrency))
            floor = time.perf_counter() - started
        finally:
            sim.stop()
    accepted_time, rss = results["accepted"]
    completed_time, rss_completed = results["completed"]
    bound = (args.concurrency + 2) * LIMIT + 150 * MIB
    responses = stats["responses"]
    assert isinstance(responses, dict)
    print(f"end to end, {args.recipients:,} recipients, {len(bodies)} batches, "
          f"concurrency {args.concurrency}")
    print(f"  floor (bare aiohttp loop, pre-built bodies): {floor:.1f} s")
    print(f"  a2p send --wait accepted:  {accepted_time:.1f} s, ratio {accepted_time / floor:.2f}, "
          f"{args.recipients / accepted_time:,.0f} recipients/s, peak RSS {rss / MIB:.0f} MiB")
    print(f"  a2p send --wait completed: {completed_time:.1f} s, ratio "
          f"{completed_time / floor:.2f}, peak RSS {rss_completed / MIB:.0f} MiB")
    print(f"  requests (completed run): {sum(int(v) for v in responses.values())}, "
          f"429s met: {responses.get('429', 0)}")
    print(f"  RSS bound (concurrency + 2) x max batch bytes + 150 MiB = {bound / MIB:.0f} MiB")


if __name__ == "__main__":
    main()
