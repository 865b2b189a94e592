"""Memory the simulator needs to hold N accepted messages.

Starts ``a2p simulate`` in its own process, posts bodies of up to 50 MB until N messages are
accepted, and reads the simulator's resident memory from /proc before and after.

    python -m benchmarks.simulator_memory --messages 10000000 [--texts]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import time

import aiohttp
import orjson

from benchmarks.numbers import number
from benchmarks.procstat import MIB, rss_bytes
from engine import basicauth

SENDER = "+16505550100"
BODY_LIMIT = 50_000_000


def bodies(total: int, texts: bool) -> list[bytes]:
    """Pre-built request bodies under the limit, numbers +1 415 2xx xxxx upward."""
    per_message = 80 if texts else 24
    per_body = (BODY_LIMIT - 100) // per_message
    out = []
    for start in range(0, total, per_body):
        count = min(per_body, total - start)
        messages = [{"to": [number(i)]} for i in range(start, start + count)]
        if texts:
            for i, message in enumerate(messages, start):
                message["text"] = f"Hi customer {i}, your code is {i % 999983:06d}"
        body = orjson.dumps({"from": SENDER, "text": "Hello", "messages": messages})
        assert len(body) <= BODY_LIMIT, len(body)
        out.append(body)
    return out


async def post_all(url: str, payloads: list[bytes]) -> int:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as http:
        data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
                "assertion": "demo-user-jwt"}
        auth = {"Authorization": basicauth.encode("demo-client-id", "demo-client-secret")}
        async with http.post(f"{url}/restapi/oauth/token", data=data, headers=auth) as response:
            token = (await response.json())["access_token"]
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        accepted = 0
        for body in payloads:
            async with http.post(f"{url}/restapi/v1.0/account/~/a2p-sms/batches", data=body,
                                 headers=headers) as response:
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
    env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "simulate", "--port", "0"],
                               stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert process.stderr is not None
        found = re.search(r"(http://\S+)", process.stderr.readline())
        assert found
        before = rss_bytes(process.pid)[0]
        started = time.perf_counter()
        accepted = asyncio.run(post_all(found.group(1), payloads))
        elapsed = time.perf_counter() - started
        rss, peak = rss_bytes(process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)
    kind = "per-message texts" if args.texts else "broadcast"
    print(f"simulator, {accepted:,} accepted messages ({kind}, {len(payloads)} batches, "
          f"{elapsed:.1f} s): RSS {before / MIB:.0f} MiB at start, {rss / MIB:.0f} MiB after, "
          f"peak {peak / MIB:.0f} MiB; {(rss - before) / accepted:.1f} bytes per message")


if __name__ == "__main__":
    main()
