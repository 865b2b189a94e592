"""Benchmark: ``a2p outcomes`` for a large run, against the simulator in another process.

    python -m benchmarks.outcomes [--recipients 1000000] [--out benchmarks/results]

Sends the list with ``a2p send`` (not timed), then times ``a2p outcomes`` in a process of its
own: wall time, requests made, peak memory (the child's ru_maxrss). Each figure is also given
as a ratio against a floor measured in the same run: the time of a bare loop that fetches the
same pages with aiohttp and parses them (no matching, no input, no file), and the peak memory
of a Python process that only imports the engine. The simulator's Light limit is raised to
100,000 a minute so the run takes minutes: on RingCentral (50 a minute) the same export costs
ceil(messages / 1000) requests, 20 minutes per million.

Also measures the matcher alone for one 2,000,000-recipient batch (the largest a ~50 MB body
holds with a batch text): tracemalloc peak with the store listing in input order, and with it
listing in reverse (the worst case the matcher must survive).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson

from benchmarks.simproc import DEMO_ENV, SimulatorProcess, bearer_headers
from engine.results.rows import Matcher

MIB = 1024 * 1024
SENDER = "+16505550100"
SIM_CONFIG = """
[server]
url = "http://127.0.0.1:8080"
[simulator]
senders = ["+16505550100"]
messages_per_second = 10000000.0
failure_rate = 0.02
[simulator.light]
requests = 100000
window = 60.0
penalty = 60.0
[simulator.receipts]
no_receipt_rate = 0.01
"""
ENGINE_PROFILE = """
[server]
url = "http://127.0.0.1:8080"
account = "~"
[send]
concurrency = 4
[polling]
interval = 0.2
max_interval = 1.0
timeout = 600.0
[rate_limit]
light_requests = 100000
light_window = 60.0
"""
MESSAGES = "/restapi/v1.0/account/~/a2p-sms/messages"


def write_list(path: Path, n: int) -> None:
    """Distinct valid numbers with one in 500 malformed (rejected locally)."""
    with path.open("w") as out:
        out.write("to\n")
        for i in range(n):
            out.write(f"555-{i:07d}\n" if i % 500 == 499 else
                      f"+1{201 + i // 8_000_000}{2_000_000 + i % 8_000_000:07d}\n")


def run_child(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """(seconds, peak RSS in bytes, stderr) of one child process."""
    started = time.perf_counter()
    child = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert child.stderr is not None
    err = child.stderr.read().decode()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    elapsed = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{args[3]} failed ({child.returncode}):\n{err}")
    return elapsed, usage.ru_maxrss * 1024, err


async def floor_fetch(url: str, batch_ids: list[str]) -> tuple[float, int]:
    """Fetch and parse every page of every batch with nothing else: the time floor."""
    started, pages = time.perf_counter(), 0
    async with aiohttp.ClientSession() as http:
        headers = await bearer_headers(http, url)
        for batch_id in batch_ids:
            token: str | None = None
            while True:
                params = {"batchId": batch_id, "perPage": "1000"} | \
                    ({"pageToken": token} if token else {})
                async with http.get(url + MESSAGES, params=params, headers=headers) as reply:
                    body = orjson.loads(await reply.read())
                pages += 1
                token = body["paging"].get("nextPageToken")
                if not token:
                    break
    return time.perf_counter() - started, pages


def matcher_peak(n: int, reverse: bool) -> tuple[int, float]:
    """(tracemalloc peak bytes, seconds) of matching one n-recipient batch."""
    numbers = [f"+1415{2_000_000 + i:07d}" for i in range(n)]

    def pages() -> Iterator[list[dict[str, Any]]]:
        order = range(n - 1, -1, -1) if reverse else range(n)
        page: list[dict[str, Any]] = []
        for i in order:
            page.append({"id": i, "batchId": "b", "to": [numbers[i]],
                         "messageStatus": "Delivered", "segmentCount": 1, "cost": 0.007})
            if len(page) == 1000:
                yield page
                page = []

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    started = time.perf_counter()
    matcher, source = Matcher("b"), pages()
    for number in numbers:
        while number not in matcher.pending:
            matcher.add(next(source))
        matcher.take(number)
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=2_000_000,
                        help="recipients of the one batch the matcher is measured on")
    parser.add_argument("--out", default="benchmarks/results")
    args = parser.parse_args()
    work = Path(args.out) / "outcomes-work"
    work.mkdir(parents=True, exist_ok=True)
    (work / "sim.toml").write_text(SIM_CONFIG)
    (work / "engine.toml").write_text(ENGINE_PROFILE)
    source = work / "list.csv"
    write_list(source, args.recipients)
    results: dict[str, Any] = {"recipients": args.recipients}
    simulator = SimulatorProcess(work / "sim.toml")
    try:
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("RC_")}, **DEMO_ENV,
               "RC_SERVER_URL": simulator.url}
        a2p = [sys.executable, "-m", "engine.cli"]
        report = work / "run.json"
        journal = work / "run.json.journal"
        for stale in (report, journal):
            stale.unlink(missing_ok=True)
        send_s, _, _ = run_child([*a2p, "send", str(source), "--from", SENDER, "--text", "Hi",
                                  "--profile", str(work / "engine.toml"), "--report",
                                  str(report)], env)
        batch_ids = [b["batchId"] for b in orjson.loads(report.read_bytes())["batches"]
                     if b["batchId"]]
        out = work / "outcomes.csv"
        seconds, peak, err = run_child([*a2p, "outcomes", str(journal), "--out", str(out),
                                        "--profile", str(work / "engine.toml")], env)
        found = re.search(r"([\d,]+) rows; ([\d,]+) pages in ([\d,]+) requests", err)
        assert found, err
        rows, pages, requests = (int(g.replace(",", "")) for g in found.groups())
        floor_s, floor_pages = asyncio.run(floor_fetch(simulator.url, batch_ids))
        _, import_peak, _ = run_child([sys.executable, "-c", "import engine.results.export"], env)
    finally:
        simulator.stop()
    assert rows == args.recipients
    assert pages == floor_pages
    in_order, in_order_s = matcher_peak(args.chunk, reverse=False)
    reverse, reverse_s = matcher_peak(args.chunk, reverse=True)
    results |= {
        "send_seconds": round(send_s, 1), "batches": len(batch_ids),
        "outcomes_seconds": round(seconds, 1), "rows": rows, "pages": pages,
        "requests": requests, "peak_rss_mib": round(peak / MIB, 1),
        "floor_fetch_seconds": round(floor_s, 1), "time_vs_floor": round(seconds / floor_s, 2),
        "import_peak_rss_mib": round(import_peak / MIB, 1),
        "memory_vs_import": round(peak / import_peak, 2),
        "chunk": args.chunk, "matcher_in_order_peak_mib": round(in_order / MIB, 1),
        "matcher_in_order_seconds": round(in_order_s, 1),
        "matcher_reverse_peak_mib": round(reverse / MIB, 1),
        "matcher_reverse_seconds": round(reverse_s, 1),
    }
    document = orjson.dumps(results, option=orjson.OPT_INDENT_2)
    (Path(args.out) / "outcomes.json").write_bytes(document)
    shutil.rmtree(work)
    sys.stdout.write(document.decode() + "\n")


if __name__ == "__main__":
    main()
