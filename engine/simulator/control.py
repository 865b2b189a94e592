"""The simulator's own endpoints, outside /restapi, for tests and operators: the ledger of
every accepted message, the counters, and the faults switched at run time."""

from __future__ import annotations

import orjson
from aiohttp import web

from engine.simulator.replies import error_response, json_response
from engine.simulator.settings import faults_from_mapping
from engine.simulator.state import SIMULATOR


async def ledger(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    entries = [list(entry) for entry in sim.store.ledger()]
    return json_response({"count": len(entries), "entries": entries})


async def stats(request: web.Request) -> web.Response:
    sim = request.app[SIMULATOR]
    return json_response({"accepted": sim.store.accepted_count(),
                          "batches": len(sim.store.batches), "responses": dict(sim.stats)})


async def put_faults(request: web.Request) -> web.Response:
    """Replace every fault setting (those not given are off) and restart the seeded draws."""
    sim = request.app[SIMULATOR]
    try:
        sim.set_faults(faults_from_mapping(orjson.loads(await request.read())))
    except (orjson.JSONDecodeError, ValueError) as exc:
        return error_response(400, "CMN-101", str(exc), "faults")
    return json_response({"faults": "updated"})
