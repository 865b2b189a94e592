"""The simulator's own endpoints, outside /restapi, for tests and operators: the ledger of
every accepted message, the counters, the faults switched at run time, the consent records,
and an inbound SMS (a STOP or START reply) from a recipient."""

from __future__ import annotations

import orjson
from aiohttp import web

from engine.simulator.consent_api import record_view
from engine.simulator.consents import is_e164
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


async def consents(request: web.Request) -> web.Response:
    """Every consent record (both statuses), in the order they were made, with the version
    the consent API's ETag gives."""
    sim = request.app[SIMULATOR]
    store = sim.store.consents
    store.settle(sim.now())
    records = [record_view(r) for r in store.records()]
    return json_response({"count": len(records), "version": store.version,
                          "records": records})


async def inbound(request: web.Request) -> web.Response:
    """An SMS from a recipient (``from``) to a number of the account (``to``) now: STOP and
    the other opt-out keywords opt the pair out, START and its kind opt it back in."""
    sim = request.app[SIMULATOR]
    try:
        body = orjson.loads(await request.read())
    except orjson.JSONDecodeError as exc:
        return error_response(400, "CMN-104", str(exc))
    store = sim.store.consents
    if not isinstance(body, dict) or not is_e164(body.get("from")) \
            or body.get("to") not in store.numbers or not isinstance(body.get("text"), str):
        return error_response(400, "CMN-101", "Give from (the recipient), to (a number of the"
                              " account) and text, e.g. STOP.", "inbound")
    store.settle(sim.now())
    record = store.inbound(body["to"], body["from"], body["text"], sim.now())
    return json_response({"record": None if record is None else record_view(record)})
