"""Memory the simulator needs to hold N accepted messages.

Starts ``a2p simulate`` in its own process, posts bodies of up to 50 MB until N messages are
accepted, and reads the simulator's resident memory from /proc before and after.

    python -m benchmarks.simulator_memory --messages 10000000 [--texts]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import aiohttp
import orjson

from benchmarks.numbers import number
from benchmarks.procstat import MIB, rss_bytes
from benchmarks.simproc import BATCHES, SimulatorProcess, bearer_headers

SENDER = "+16505550100"
BODY_LIMIT = 50_000_000


def bodies(total: int, texts: bool) -> list[bytes]:
    """Pre-built request bodies under the limit, numbers +1 415 2xx xxxx upward."""
    per_message = 80 if texts else 24
    per_body = (BODY_LIMIT - 100) // per_message
    out: list[bytes] = []
    for start in range(0, total, per_body):
        count = min(per_body, total - start)
        messages: list[dict[str, Any]] = [{"to": [number(i)]}
                                          for i in range(start, start + count)]
        if texts:
            for i, message in enumerate(messages, start):
                message["text"] = f"Hi customer {i}, your code is {i % 999983:06d}"
        body = orjson.dumps({"from": SENDER, "text": "Hello", "messages": messages})
        assert len(body) <= BODY_LIMIT, len(body)
        out.append(body)
    return out


async def post_all(url: str, payloads: list[bytes]) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
        headers = await bearer_headers(http, url)
        accepted = 0
        for body in payloads:
            async with http.post(url + BATCHES, data=body, headers=headers) as response:
                answer = await response.json()
                assert response.status == 201, answer
                accepted += answer["batchSize"]
        return accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000_000)
    parser.add_argument("--texts", action="store_true", help="a personal text per message")
    args = parser.parse_args()
    payloads = bodies(args.messages, args.texts)
    sim = SimulatorProcess()
    try:
        before = rss_bytes(sim.pid)[0]
        started = time.perf_counter()
        accepted = asyncio.run(post_all(sim.url, payloads))
        elapsed = time.perf_counter() - started
        rss, peak = rss_bytes(sim.pid)
    finally:
        sim.stop()
    kind = "per-message texts" if args.texts else "broadcast"
    print(f"simulator, {accepted:,} accepted messages ({kind}, {len(payloads)} batches, "
          f"{elapsed:.1f} s): RSS {before / MIB:.0f} MiB at start, {rss / MIB:.0f} MiB after, "
          f"peak {peak / MIB:.0f} MiB; {(rss - before) / accepted:.1f} bytes per message")


if __name__ == "__main__":
    main()
