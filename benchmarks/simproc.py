"""The simulator in a process of its own, and a logged-in session to it, for benchmarks."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import urllib.request
from pathlib import Path

import aiohttp
import orjson

from engine.rc import basicauth

BATCHES = "/restapi/v1.0/account/~/a2p-sms/batches"
# Fast processing and a generous budget: the simulator as the opponent of a benchmark.
FAST_CONFIG = """
[server]
url = "http://127.0.0.1:8080"
[simulator]
senders = ["+16505550100"]
messages_per_second = 10000000.0
"""
DEMO_ENV = {"RC_APP_CLIENT_ID": "demo-client-id", "RC_APP_CLIENT_SECRET": "demo-client-secret",
            "RC_USER_JWT": "demo-user-jwt"}


class SimulatorProcess:
    """``a2p simulate`` on a free loopback port, with demo credentials."""

    def __init__(self, config: Path | None = None) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith("RC_")}
        args = [sys.executable, "-m", "engine.cli", "simulate", "--port", "0"]
        if config is not None:
            args += ["--config", str(config)]
        self.process = subprocess.Popen(args, stderr=subprocess.PIPE, text=True, env=env)
        assert self.process.stderr is not None
        found = re.search(r"(http://\S+)", self.process.stderr.readline())
        assert found, "the simulator did not start"
        self.url = found.group(1)
        self.pid = self.process.pid

    def stats(self) -> dict[str, object]:
        with urllib.request.urlopen(f"{self.url}/_sim/stats", timeout=30) as response:
            result: dict[str, object] = orjson.loads(response.read())
            return result

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)
        if self.process.stderr is not None:
            self.process.stderr.close()


async def bearer_headers(http: aiohttp.ClientSession, url: str) -> dict[str, str]:
    data = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "assertion": DEMO_ENV["RC_USER_JWT"]}
    auth = {"Authorization": basicauth.encode(DEMO_ENV["RC_APP_CLIENT_ID"],
                                              DEMO_ENV["RC_APP_CLIENT_SECRET"])}
    async with http.post(f"{url}/restapi/oauth/token", data=data, headers=auth) as response:
        token = (await response.json())["access_token"]
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


async def post_bodies(url: str, bodies: list[bytes | bytearray], concurrency: int) -> None:
    """The wire floor: a bare aiohttp loop posting pre-built bodies, ``concurrency`` at once."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=900)) as http:
        headers = await bearer_headers(http, url)
        queue = list(reversed(bodies))

        async def worker() -> None:
            while queue:
                body = queue.pop()
                async with http.post(url + BATCHES, data=body, headers=headers) as response:
                    assert response.status == 201, await response.text()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
