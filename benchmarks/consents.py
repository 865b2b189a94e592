"""Light requests spent reading RingCentral's opt-outs before a send (issue 21): a list of
1,000,000 recipients on an account with 100,000 opt-outs (30 % of them to another number of
the account), against the simulator on loopback.

    python -m benchmarks.consents [--recipients 1000000] [--opt-outs 100000]
                                  [--memory-opt-outs 1000000]

It reads the opt-outs the three ways a run could (the export the engine picks, the paged
search of the whole account, the search of --from alone), counting the requests that reached
the consent paths, then applies them to the list as a send's gate does (scope account and
pair), measures the memory of reading a million opt-outs from an export into the set a run
applies (``memory``), and prints one JSON document. The engine picks the export
(engine/core/consent.py): one Light request whatever the number of opt-outs, where the search
takes one per 1,000.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import anyio
import orjson

from engine.batching.chunker import Body
from engine.config.credentials import DEMO_CREDENTIALS
from engine.config.settings import RateLimitSettings, load_settings
from engine.core import consent as rules
from engine.rc import consents as api
from engine.rc.client import ApiClient
from engine.rc.transport import AiohttpTransport, Reply
from engine.reading.consentset import ConsentSet
from engine.run.consent import read_consents, readable
from engine.run.consentcache import CacheWriter
from engine.simulator import GroupLimit, SimulatorSettings, start_simulator
from engine.simulator.settings import ConsentSettings

SENDER, OTHER = "+16505550100", "+16505550101"
POOL_START = 12012000000
LIGHT_PER_MINUTE = 50  # RingCentral's Light group


class Counting:
    """The aiohttp transport, counting the requests to the consent paths."""

    def __init__(self, inner: AiohttpTransport) -> None:
        self.inner = inner
        self.consent_requests = 0

    async def request(self, method: str, url: str, *, headers: Mapping[str, str],
                      body: Body | None = None,
                      params: Mapping[str, Any] | None = None) -> Reply:
        if "/sms/consents" in url:
            self.consent_requests += 1
        return await self.inner.request(method, url, headers=headers, body=body,
                                        params=params)

    async def close(self) -> None:
        await self.inner.close()


async def measure(recipients: int, opt_outs: int) -> dict[str, Any]:
    sim = SimulatorSettings(
        credentials=DEMO_CREDENTIALS, senders=(SENDER, OTHER),
        light=GroupLimit(100_000, 60.0, 60.0), auth=GroupLimit(1_000, 60.0, 60.0),
        consents=ConsentSettings(seed=1, opted_out=opt_outs, pool_start=f"+{POOL_START}",
                                 pool_size=max(recipients, opt_outs), elsewhere_share=0.3))
    running = await start_simulator(sim)
    settings = replace(load_settings("simulator", env={"RC_SERVER_URL": running.url}),
                       rate_limit=RateLimitSettings(light_requests=100_000,
                                                    auth_requests=1_000))
    transport = Counting(AiohttpTransport(120.0))
    client = ApiClient(settings, DEMO_CREDENTIALS, transport,
                       clock=time.monotonic, sleep=anyio.sleep)
    out: dict[str, Any] = {"recipients": recipients, "optOuts": opt_outs, "reads": {}}
    try:
        await client.bearer()
        for name, how in (("export (the engine's choice)", None),
                          ("search, whole account", "account"),
                          ("search, --from only", "pair")):
            before, started = transport.consent_requests, time.perf_counter()
            if how is None:
                got = await read_consents(client, SENDER, "account", 0.0, None, time.time)
                records = got.opt_outs
            else:
                found = await api.search(client, SENDER if how == "pair" else None)
                records = len(list(found.opt_outs or []))
            light = transport.consent_requests - before
            out["reads"][name] = {
                "lightRequests": light, "records": records,
                "seconds": round(time.perf_counter() - started, 2),
                "minutesAtRingCentralLimit": round(light / LIGHT_PER_MINUTE, 2)}
        async with api.export(client) as read:
            assert read.opt_outs is not None
            exported = list(read.opt_outs)
        numbers = [f"+{POOL_START + k}" for k in range(recipients)]
        for scope in rules.SCOPES:
            started = time.perf_counter()
            gate = ConsentSet(rules.in_scope(exported, scope, SENDER))
            hits = sum(len(gate.hits(numbers[k:k + 10_000]))
                       for k in range(0, recipients, 10_000))
            out[f"suppressed ({scope})"] = {"recipients": hits,
                                            "seconds": round(time.perf_counter() - started, 2)}
        out["searchRequestsFormula"] = rules.search_requests(opt_outs)
    finally:
        await client.revoke()
        await transport.close()
        await running.stop()
    return out


def memory(records: int) -> dict[str, Any]:
    """The memory of taking ``records`` opt-outs from an export's CSV (as the engine spools
    it) into the set a run applies and the cache it writes: the peak Python allocated while
    reading, and what the set keeps, in bytes a record (tracemalloc; the CSV on disk)."""
    with tempfile.TemporaryDirectory() as work:
        export = Path(work) / "export.csv"
        with export.open("w", newline="") as stream:
            writer = csv.writer(stream)
            writer.writerow([rules.COLUMN_FROM, rules.COLUMN_TO, rules.COLUMN_STATUS, "Source",
                             rules.COLUMN_COVERAGE, "Campaign Type", "Notes",
                             rules.COLUMN_TIME])
            for k in range(records):
                writer.writerow([SENDER if k % 3 else OTHER, f"+{POOL_START + k * 7}",
                                 "OptOut", "Recipient", "PhoneNumber", "", "",
                                 f"2026-0{1 + k % 9}-1{k % 10}T12:{k % 60:02d}:00.123456Z"])
        cached = rules.Cached(time.time(), rules.EXPORT, None, '"v1"', 0)
        tracemalloc.start()
        started = time.perf_counter()
        with export.open(newline="") as text, \
                CacheWriter(Path(work) / "run.consents", "bench", cached) as cache:
            found = ConsentSet(readable(cache.passing(rules.from_export(csv.reader(text)))))
            _, peak = tracemalloc.get_traced_memory()
        seconds = time.perf_counter() - started
        held, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        assert len(found) == records
    return {"optOuts": records, "seconds": round(seconds, 2),
            "peakBytesPerRecord": round(peak / records, 1),
            "heldBytesPerRecord": round(held / records, 1),
            "setBytesPerRecord": round(found.nbytes() / records, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.consents",
                                     description=__doc__.split("\n\n")[0] if __doc__ else "")
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--opt-outs", type=int, default=100_000)
    parser.add_argument("--memory-opt-outs", type=int, default=1_000_000,
                        help="opt-outs read from an export's CSV for the memory figure")
    args = parser.parse_args(argv)
    result = anyio.run(measure, args.recipients, args.opt_outs)
    result["memory"] = memory(args.memory_opt_outs)
    sys.stdout.write(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
